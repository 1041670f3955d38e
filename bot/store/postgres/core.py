"""The PostgreSQL store's footing: the pool, transactions, reads, errors and migrations.

Writes are one at a time across every process on the database, as SQLite's ``BEGIN
IMMEDIATE`` makes them: each write transaction first takes one transaction-level advisory
lock, so every multi-statement change sees what the last one committed and the two stores
keep the same semantics. Reads go to the pool outside any transaction and never wait for it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from asyncpg import Connection as Connection
from asyncpg import Pool

from bot.clock import Clock
from bot.errors import StoreError
from bot.store.dsn import DatabaseUrl
from bot.store.postgres.migrations import MIGRATIONS

log = logging.getLogger(__name__)

# Advisory lock keys (any 64-bit numbers, fixed so every process agrees): the one-writer lock
# held by each write transaction, and the scheduler's, held for a process's life.
WRITE_LOCK = 0x6E657773626F7401
SCHEDULER_LOCK = 0x6E657773626F7402
# asyncpg and PostgreSQL failures, and the socket's: all are 'the database cannot be used'.
DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
_CONNECT_TIMEOUT_S = 10.0
_COUNT = re.compile(r"(\d+)$")


def changed(status: str) -> int:
    """Rows a statement touched, from its command tag ('INSERT 0 1', 'UPDATE 3')."""
    match = _COUNT.search(status)
    return int(match.group(1)) if match else 0


def store_error(exc: BaseException, where: DatabaseUrl) -> StoreError:
    hint = ""
    if isinstance(exc, OSError | TimeoutError):
        hint = " (the server cannot be reached: is it running, and is the address right?)"
    elif isinstance(
        exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        hint = " (the server refused the user or password)"
    elif isinstance(exc, asyncpg.InvalidCatalogNameError):
        hint = " (no such database on the server: create it first)"
    detail = str(exc).strip() or type(exc).__name__
    return StoreError(f"{where}: database error: {detail}{hint}")


class PostgresCore:
    """What every part of the PostgreSQL store shares; see ``PostgresStore``."""

    def __init__(self, url: DatabaseUrl, clock: Clock, pool: Pool) -> None:
        self.url = url
        self._clock = clock
        self._pool = pool
        self._scheduler: Connection | None = None

    @classmethod
    async def _connect(cls, url: DatabaseUrl) -> Pool:
        try:
            pool = await asyncpg.create_pool(
                url.url, min_size=1, max_size=8, timeout=_CONNECT_TIMEOUT_S, command_timeout=60
            )
        except DB_ERRORS as exc:
            raise store_error(exc, url) from None
        except ValueError as exc:  # a DSN asyncpg cannot read
            raise StoreError(f"{url}: not a usable PostgreSQL URL ({exc})") from None
        assert pool is not None
        return pool

    async def close(self) -> None:
        await self.release_scheduler_lock()
        await self._pool.close()

    def _now(self) -> datetime:
        """The injected clock's time, as the store writes it: aware, in UTC."""
        return self._clock.now().astimezone(UTC)

    # --- the scheduler's lock -----------------------------------------------------------------
    async def acquire_scheduler_lock(self) -> bool:
        """Take the database's scheduler lock if no other process holds it; True if taken.

        A session-level advisory lock on a connection of its own, kept open while held: the
        server releases it when that connection ends, however the process ends."""
        if self._scheduler is not None:
            return True
        try:
            connection: Connection = await asyncpg.connect(self.url.url, timeout=_CONNECT_TIMEOUT_S)
            taken = await connection.fetchval("SELECT pg_try_advisory_lock($1)", SCHEDULER_LOCK)
        except DB_ERRORS as exc:
            raise store_error(exc, self.url) from None
        if not taken:
            await connection.close()
            return False
        self._scheduler = connection
        return True

    async def release_scheduler_lock(self) -> None:
        connection, self._scheduler = self._scheduler, None
        if connection is not None:
            await connection.close()  # ends the session, and with it the lock

    # --- transactions and reads --------------------------------------------------------------
    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        """One write transaction, after the one-writer lock; rolled back on any error."""
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
                yield connection
        except DB_ERRORS as exc:
            raise store_error(exc, self.url) from None

    async def _read(
        self, sql: str, params: Sequence[Any] = (), via: Connection | None = None
    ) -> list[tuple[Any, ...]]:
        """Rows from the pool, or from ``via`` (inside a transaction, to read what it wrote)."""
        try:
            rows = await (via or self._pool).fetch(sql, *params)
        except DB_ERRORS as exc:
            raise store_error(exc, self.url) from None
        return [tuple(row) for row in rows]

    # --- schema ------------------------------------------------------------------------------
    async def _migrate(self) -> None:
        async with self._transaction() as db:
            # Under the write lock: two processes starting at once migrate one after the other.
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
            )
        newest = max((version for version, _, _ in MIGRATIONS), default=0)
        for version, name, statements in MIGRATIONS:
            async with self._transaction() as db:
                applied = {r[0] for r in await db.fetch("SELECT version FROM schema_migrations")}
                if applied and max(applied) > newest:
                    raise StoreError(
                        f"{self.url}: database schema version {max(applied)} is newer than"
                        f" this newsbot knows ({newest}); upgrade newsbot",
                        unchanged=False,
                    )
                if version in applied:
                    continue
                for statement in statements:
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    version,
                    name,
                    self._now(),
                )
            log.info("database %s migrated to version %d (%s)", self.url, version, name)

    async def schema_version(self) -> int:
        [(version,)] = await self._read("SELECT max(version) FROM schema_migrations")
        return int(version or 0)
