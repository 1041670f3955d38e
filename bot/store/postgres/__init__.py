"""The PostgreSQL implementation of the Store, on asyncpg: the same semantics as SQLite's.

Split by concern (edits, articles, digests, review, schedules) over one core (pool, transactions,
migrations); ``PostgresStore`` is all of them. Selected by a ``postgresql://`` database URL.
"""

from __future__ import annotations

from bot.clock import Clock
from bot.store.dsn import DatabaseUrl
from bot.store.postgres.digests import DigestsPart
from bot.store.postgres.processes import ProcessesPart
from bot.store.postgres.review import ReviewPart
from bot.store.postgres.schedules import SchedulesPart


class PostgresStore(DigestsPart, ReviewPart, SchedulesPart, ProcessesPart):
    """The queue in one PostgreSQL database. Open with :meth:`open`; close with :meth:`close`."""

    @classmethod
    async def open(cls, url: DatabaseUrl, clock: Clock) -> PostgresStore:
        """Connect (creating and migrating the schema); every timestamp it writes is
        ``clock``'s, as in the SQLite store."""
        store = cls(url, clock, await cls._connect(url))
        try:
            await store._migrate()
        except BaseException:
            await store.close()
            raise
        return store


__all__ = ["PostgresStore"]
