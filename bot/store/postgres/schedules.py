"""The PostgreSQL store's schedules, draft digests and feeds.

As the SQLite store's (``bot.store.sqlite``), statement for statement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.store.models import (
    ClaimedRun,
    DraftRecord,
    DraftState,
    FeedState,
    RunOutcome,
    StoredFeed,
    StoredSchedule,
)
from bot.store.postgres.core import PostgresCore, changed
from bot.store.rows import DRAFT_COLUMNS, FEED_STATE_COLUMNS, draft, feed_state, to_json, utc
from bot.store.rows import time_of as _at


class SchedulesPart(PostgresCore):
    # --- schedules ---------------------------------------------------------------------------
    async def schedules(self) -> list[StoredSchedule]:
        rows = await self._read(
            "SELECT channel_id, cron, timezone, updated_by, updated_at FROM schedules"
            " ORDER BY channel_id"
        )
        return [StoredSchedule(r[0], r[1], r[2], r[3], _at(r[4])) for r in rows]

    async def set_schedule(
        self, channel_id: int, cron: str | None, timezone: str, *, actor: str
    ) -> StoredSchedule:
        now = self._clock.now()
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO schedules (channel_id, cron, timezone, updated_by, updated_at)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel_id) DO UPDATE SET"
                " cron = excluded.cron, timezone = excluded.timezone,"
                " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                channel_id,
                cron,
                timezone,
                actor,
                utc(now),
            )
        return StoredSchedule(channel_id, cron, timezone, actor, now)

    async def clear_schedule(self, channel_id: int) -> bool:
        async with self._transaction() as db:
            status = await db.execute("DELETE FROM schedules WHERE channel_id = $1", channel_id)
        return changed(status) > 0

    async def last_scheduled_run(self, channel_id: int) -> datetime | None:
        rows = await self._read(
            "SELECT max(scheduled_for) FROM schedule_runs WHERE channel_id = $1", (channel_id,)
        )
        return _at(rows[0][0]) if rows and rows[0][0] else None

    async def claim_scheduled_run(
        self, channel_id: int, scheduled_for: datetime, owner: str | None = None
    ) -> bool:
        async with self._transaction() as db:
            status = await db.execute(
                "INSERT INTO schedule_runs (channel_id, scheduled_for, outcome, ran_at,"
                " claimed_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                channel_id,
                utc(scheduled_for),
                RunOutcome.RUNNING,
                self._now(),
                owner,
            )
        return changed(status) > 0

    async def orphaned_runs(self) -> list[ClaimedRun]:
        rows = await self._read(
            "SELECT channel_id, scheduled_for, claimed_by FROM schedule_runs"
            " WHERE outcome = $1 AND digest_id IS NULL ORDER BY scheduled_for",
            (RunOutcome.RUNNING,),
        )
        return [ClaimedRun(int(c), _at(when), by) for c, when, by in rows]

    async def finish_scheduled_run(
        self, channel_id: int, scheduled_for: datetime, outcome: RunOutcome, digest_id: int | None
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE schedule_runs SET outcome = $1, digest_id = coalesce($2, digest_id),"
                " ran_at = $3 WHERE channel_id = $4 AND scheduled_for = $5",
                outcome,
                digest_id,
                self._now(),
                channel_id,
                utc(scheduled_for),
            )

    # --- drafts ------------------------------------------------------------------------------
    async def create_draft(
        self, channel_id: int, scheduled_for: datetime, item_ids: Sequence[int]
    ) -> tuple[DraftRecord, bool]:
        now = self._now()
        async with self._transaction() as db:
            status = await db.execute(
                "INSERT INTO drafts (channel_id, scheduled_for, state, item_ids, created_at,"
                " updated_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING",
                channel_id,
                utc(scheduled_for),
                DraftState.WAITING,
                to_json(list(item_ids)),
                now,
            )
            rows = await self._read(
                f"SELECT {DRAFT_COLUMNS} FROM drafts WHERE channel_id = $1 AND scheduled_for = $2",
                (channel_id, utc(scheduled_for)),
                via=db,
            )
        return draft(rows[0]), changed(status) > 0

    async def draft_for(self, channel_id: int, scheduled_for: datetime) -> DraftRecord | None:
        rows = await self._read(
            f"SELECT {DRAFT_COLUMNS} FROM drafts WHERE channel_id = $1 AND scheduled_for = $2",
            (channel_id, utc(scheduled_for)),
        )
        return draft(rows[0]) if rows else None

    async def open_drafts(self, channel_id: int, until: datetime) -> list[DraftRecord]:
        rows = await self._read(
            f"SELECT {DRAFT_COLUMNS} FROM drafts WHERE channel_id = $1 AND state IN ($2, $3)"
            " AND scheduled_for <= $4 ORDER BY scheduled_for",
            (channel_id, DraftState.WAITING, DraftState.APPROVED, utc(until)),
        )
        return [draft(row) for row in rows]

    async def get_draft(self, draft_id: int) -> DraftRecord | None:
        rows = await self._read(f"SELECT {DRAFT_COLUMNS} FROM drafts WHERE id = $1", (draft_id,))
        return draft(rows[0]) if rows else None

    async def change_draft(
        self,
        draft_id: int,
        version: int,
        *,
        state: DraftState | None = None,
        item_ids: Sequence[int] | None = None,
        dropped: Sequence[int] | None = None,
        actor: str | None = None,
    ) -> DraftRecord | None:
        params: list[Any] = [self._now()]
        sets = ["version = version + 1", "updated_at = $1"]
        for column, value in (
            ("state", state),
            ("item_ids", None if item_ids is None else to_json(list(item_ids))),
            ("dropped", None if dropped is None else to_json(sorted(dropped))),
            ("decided_by", actor),
        ):
            if value is not None:
                params.append(value)
                sets.append(f"{column} = ${len(params)}")
        n = len(params)
        async with self._transaction() as db:
            row = await db.fetchrow(
                f"UPDATE drafts SET {', '.join(sets)} WHERE id = ${n + 1} AND version = ${n + 2}"
                f" RETURNING {DRAFT_COLUMNS}",
                *params,
                draft_id,
                version,
            )
        return draft(tuple(row)) if row is not None else None

    async def set_draft_control(self, draft_id: int, message_id: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE drafts SET control_message_id = $1 WHERE id = $2", message_id, draft_id
            )

    # --- feeds -------------------------------------------------------------------------------
    async def add_feed(self, url: str, topics: Sequence[str], *, actor: str) -> bool:
        async with self._transaction() as db:
            status = await db.execute(
                "INSERT INTO feeds (url, topics, added_by, added_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT DO NOTHING",
                url,
                to_json(list(topics)),
                actor,
                self._now(),
            )
        return changed(status) > 0

    async def remove_feed(self, url: str) -> bool:
        async with self._transaction() as db:
            status = await db.execute("DELETE FROM feeds WHERE url = $1", url)
            # Its state goes too; its guids stay, so a feed added again keeps its articles.
            await db.execute("DELETE FROM feed_state WHERE url = $1", url)
        return changed(status) > 0

    async def stored_feeds(self) -> list[StoredFeed]:
        rows = await self._read("SELECT url, topics, added_by, added_at FROM feeds ORDER BY url")
        return [StoredFeed(r[0], tuple(json.loads(r[1])), r[2], _at(r[3])) for r in rows]

    async def feed_states(self) -> dict[str, FeedState]:
        rows = await self._read(f"SELECT {FEED_STATE_COLUMNS} FROM feed_state")
        return {row[0]: feed_state(row) for row in rows}

    async def save_feed_state(self, state: FeedState) -> None:
        columns = [c.strip() for c in FEED_STATE_COLUMNS.split(",")]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        async with self._transaction() as db:
            await db.execute(
                f"INSERT INTO feed_state ({FEED_STATE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6,"
                f" $7, $8, $9, $10, $11, $12) ON CONFLICT (url) DO UPDATE SET {updates}",
                state.url,
                state.etag,
                state.last_modified,
                state.body_hash,
                utc(state.last_fetch_at),
                state.last_status,
                state.entries,
                state.failures,
                utc(state.next_fetch_at),
                utc(state.first_success_at),
                utc(state.failing_since),
                int(state.reported),
            )

    async def entry_urls(self, feed_url: str, guids: Sequence[str]) -> dict[str, str]:
        rows = await self._read(
            "SELECT guid, article_url FROM feed_entries WHERE feed_url = $1"
            " AND guid = ANY($2::text[])",
            (feed_url, list(guids)),
        )
        return {guid: url for guid, url in rows}

    async def remember_entries(self, feed_url: str, entries: Mapping[str, str]) -> None:
        async with self._transaction() as db:
            await db.executemany(
                "INSERT INTO feed_entries (feed_url, guid, article_url) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING",
                [(feed_url, guid, url) for guid, url in entries.items()],
            )
