"""The PostgreSQL store's processes and duties (``bot.processes``).

As the SQLite store's, statement for statement.
"""

from __future__ import annotations

from datetime import datetime

from bot.store.models import ProcessRecord
from bot.store.postgres.core import PostgresCore, changed
from bot.store.rows import utc


class ProcessesPart(PostgresCore):
    async def heartbeat(
        self, owner: str, role: str, now: datetime, stale_before: datetime, *, paced_for: int = 0
    ) -> list[ProcessRecord]:
        async with self._transaction() as db:
            await db.execute("DELETE FROM processes WHERE seen_at < $1", utc(stale_before))
            await db.execute(
                "INSERT INTO processes (owner, role, started_at, seen_at, paced_for)"
                " VALUES ($1, $2, $3, $3, $4) ON CONFLICT (owner) DO UPDATE SET"
                " seen_at = excluded.seen_at, paced_for = excluded.paced_for",
                owner,
                role,
                utc(now),
                paced_for,
            )
            rows = await db.fetch(
                "SELECT owner, role, started_at, seen_at, paced_for FROM processes"
                " ORDER BY started_at"
            )
        return [ProcessRecord(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    async def leave(self, owner: str) -> None:
        async with self._transaction() as db:
            await db.execute("DELETE FROM processes WHERE owner = $1", owner)

    async def live_processes(self, stale_before: datetime) -> list[ProcessRecord]:
        rows = await self._read(
            "SELECT owner, role, started_at, seen_at, paced_for FROM processes WHERE seen_at >= $1"
            " ORDER BY started_at",
            (utc(stale_before),),
        )
        return [ProcessRecord(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    async def duty_holders(self, now: datetime) -> dict[str, str]:
        rows = await self._read(
            "SELECT name, owner FROM duties WHERE expires_at > $1 ORDER BY name", (utc(now),)
        )
        return {str(r[0]): str(r[1]) for r in rows}

    async def claim_duty(
        self,
        name: str,
        owner: str,
        now: datetime,
        until: datetime,
        *,
        from_owner: str | None = None,
    ) -> bool:
        async with self._transaction() as db:
            status = await db.execute(
                "INSERT INTO duties (name, owner, expires_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                " expires_at = excluded.expires_at"
                " WHERE duties.owner = excluded.owner OR duties.owner = $4"
                " OR duties.expires_at <= $5",
                name,
                owner,
                utc(until),
                from_owner,
                utc(now),
            )
        return changed(status) > 0

    async def duty_holder(self, name: str, now: datetime) -> str | None:
        rows = await self._read(
            "SELECT owner FROM duties WHERE name = $1 AND expires_at > $2", (name, utc(now))
        )
        return str(rows[0][0]) if rows else None

    async def release_duty(self, name: str, owner: str) -> None:
        async with self._transaction() as db:
            await db.execute("DELETE FROM duties WHERE name = $1 AND owner = $2", name, owner)
