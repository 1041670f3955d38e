"""The PostgreSQL store's corrections and retractions: the outbox of edits to sent messages.

As the SQLite store's (``bot.store.sqlite``), statement for statement. Below the articles part
(``ArticlesPart`` derives from this one) because ingest queues edits in its own transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.errors import InvalidTransition, NotFound
from bot.store.models import EditOutcome, EditWhy, PendingEdit, QueueItem
from bot.store.postgres.core import Connection, PostgresCore, changed
from bot.store.rows import time_of as _at
from bot.store.rows import to_json, utc

INSERT_AUDIT = (
    "INSERT INTO audit_log (article_id, action, actor, from_status, to_status, reason, at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
)

Layout = tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]


class EditsPart(PostgresCore):
    if TYPE_CHECKING:
        # The articles part's (it derives from this one): a retraction returns the item.
        async def get(self, article_id: int, *, with_related: bool = True) -> QueueItem: ...

    async def _queue_edits(
        self, db: Connection, article_ids: Sequence[int], why: EditWhy, now: datetime
    ) -> None:
        """Queue every message carrying one of the items for rendering again (inside the
        caller's transaction), and note the correction on the items that were published. A
        message queued already joins its row; a retraction stays a retraction. A part of an
        unfinished digest is queued too: it goes out as it was written, then is edited."""
        ids = list(dict.fromkeys(article_ids))
        # DISTINCT: ON CONFLICT may touch each row once per statement.
        await db.execute(
            "INSERT INTO edits (digest_id, position, why, queued_at)"
            " SELECT DISTINCT i.digest_id, i.message_position, $1::text, $2::timestamptz"
            " FROM digest_items i JOIN digest_messages m"
            " ON m.digest_id = i.digest_id AND m.position = i.message_position"
            " WHERE i.article_id = ANY($3::bigint[])"
            " ON CONFLICT (digest_id, position) DO UPDATE SET"
            " why = CASE WHEN edits.done_at IS NULL AND edits.why = 'retraction'"
            " THEN 'retraction' ELSE excluded.why END,"
            " queued_at = excluded.queued_at, done_at = NULL, outcome = NULL",
            why.value,
            now,
            ids,
        )
        if why is EditWhy.CORRECTION:
            await db.execute(
                "UPDATE articles SET corrected_at = $1 WHERE id = ANY($2::bigint[])"
                " AND EXISTS (SELECT 1 FROM deliveries d WHERE d.article_id = articles.id)",
                now,
                ids,
            )

    async def retract(self, article_id: int, reason: str, *, actor: str) -> QueueItem:
        now = self._now()
        async with self._transaction() as db:
            row = await db.fetchrow(
                "SELECT status, retracted_at FROM articles WHERE id = $1", article_id
            )
            if row is None:
                raise NotFound("item", article_id)
            status, retracted = tuple(row)
            if retracted is not None:
                raise InvalidTransition(article_id, "retracted", "retracted")
            await db.execute(
                "UPDATE articles SET retracted_at = $1, retraction_reason = $2, updated_at = $1"
                " WHERE id = $3",
                now,
                reason,
                article_id,
            )
            await db.execute(
                INSERT_AUDIT, article_id, "retracted", actor, status, status, reason, now
            )
            await self._queue_edits(db, [article_id], EditWhy.RETRACTION, now)
        return await self.get(article_id)

    async def edit_item(
        self, article_id: int, *, title: str | None, excerpt: str | None, actor: str
    ) -> QueueItem:
        now = self._now()
        async with self._transaction() as db:
            row = await db.fetchrow(
                "SELECT status, title, excerpt FROM articles WHERE id = $1", article_id
            )
            if row is None:
                raise NotFound("item", article_id)
            status, old_title, old_excerpt = tuple(row)
            title = old_title if title is None else title
            excerpt = old_excerpt if excerpt is None else excerpt
            if (title, excerpt) != (old_title, old_excerpt):
                await db.execute(
                    "UPDATE articles SET title = $1, excerpt = $2, updated_at = $3 WHERE id = $4",
                    title,
                    excerpt,
                    now,
                    article_id,
                )
                await db.execute(
                    INSERT_AUDIT, article_id, "edited", actor, status, status, None, now
                )
                await self._queue_edits(db, [article_id], EditWhy.CORRECTION, now)
        return await self.get(article_id)

    async def pending_edits(self, limit: int) -> list[PendingEdit]:
        rows = await self._read(
            "SELECT e.digest_id, e.position, e.why, e.queued_at, g.channel_id, m.message_id,"
            " m.sent_at, g.thread_id, g.key, g.created_at, m.payload, e.blocked_code,"
            " e.reported FROM edits e JOIN digests g ON g.id = e.digest_id"
            " JOIN digest_messages m ON m.digest_id = e.digest_id AND m.position = e.position"
            " WHERE e.done_at IS NULL AND m.message_id IS NOT NULL"
            # Held ones last, so that they never crowd the others out of a batch.
            " ORDER BY e.blocked_code IS NOT NULL, e.queued_at, e.digest_id, e.position"
            " LIMIT $1",
            (limit,),
        )
        layouts: dict[int, Layout] = {}
        edits: list[PendingEdit] = []
        for row in rows:
            digest_id = row[0]
            if digest_id not in layouts:
                layouts[digest_id] = await self._layout(digest_id)
            items, by_message = layouts[digest_id]
            edits.append(
                PendingEdit(
                    digest_id=digest_id,
                    position=row[1],
                    why=EditWhy(row[2]),
                    queued_at=_at(row[3]),
                    channel_id=row[4],
                    message_id=row[5],
                    sent_at=_at(row[6]),
                    thread_id=row[7],
                    key=row[8],
                    created_at=_at(row[9]),
                    item_ids=items,
                    message_items=by_message,
                    payload=json.loads(row[10]),
                    blocked_code=row[11],
                    reported=bool(row[12]),
                )
            )
        return edits

    async def _layout(self, digest_id: int) -> Layout:
        """A digest's items in order, and the items of each of its messages."""
        [(count,)] = await self._read(
            "SELECT count(*) FROM digest_messages WHERE digest_id = $1", (digest_id,)
        )
        rows = await self._read(
            "SELECT article_id, message_position FROM digest_items WHERE digest_id = $1"
            " ORDER BY position",
            (digest_id,),
        )
        by_message: list[list[int]] = [[] for _ in range(count)]
        for article_id, position in rows:
            by_message[position].append(article_id)
        return tuple(r[0] for r in rows), tuple(tuple(ids) for ids in by_message)

    async def record_edit_attempt(
        self, digest_id: int, position: int, payload: dict[str, Any], at: datetime
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE edits SET payload = $1, attempted_at = $2"
                " WHERE digest_id = $3 AND position = $4 AND done_at IS NULL",
                to_json(payload),
                utc(at),
                digest_id,
                position,
            )

    async def finish_edit(
        self,
        digest_id: int,
        position: int,
        outcome: EditOutcome,
        *,
        queued_at: datetime,
        at: datetime,
        payload: dict[str, Any] | None = None,
    ) -> bool:
        async with self._transaction() as db:
            if payload is not None:
                await db.execute(
                    "UPDATE digest_messages SET payload = $1"
                    " WHERE digest_id = $2 AND position = $3",
                    to_json(payload),
                    digest_id,
                    position,
                )
            status = await db.execute(
                "UPDATE edits SET done_at = $1, outcome = $2, blocked_code = NULL"
                " WHERE digest_id = $3 AND position = $4 AND queued_at = $5 AND done_at IS NULL",
                utc(at),
                outcome.value,
                digest_id,
                position,
                utc(queued_at),
            )
            return changed(status) > 0

    async def block_edit(self, digest_id: int, position: int, code: int | None) -> bool:
        async with self._transaction() as db:
            reported = await db.fetchval(
                "SELECT reported FROM edits WHERE digest_id = $1 AND position = $2",
                digest_id,
                position,
            )
            await db.execute(
                "UPDATE edits SET blocked_code = $1, reported = 1"
                " WHERE digest_id = $2 AND position = $3",
                code or 0,
                digest_id,
                position,
            )
        return reported is not None and not reported

    async def unblock_edits(self) -> int:
        # Read first: at every start and hourly, and almost always there is nothing held, so
        # no write lock is taken for it.
        [(held,)] = await self._read(
            "SELECT count(*) FROM edits WHERE done_at IS NULL AND blocked_code IS NOT NULL"
        )
        if not held:
            return 0
        async with self._transaction() as db:
            status = await db.execute(
                "UPDATE edits SET blocked_code = NULL"
                " WHERE done_at IS NULL AND blocked_code IS NOT NULL"
            )
            return changed(status)
