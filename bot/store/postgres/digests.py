"""The PostgreSQL store's digests: selection, the outbox, deliveries, crossposts and leases.

As the SQLite store's (``bot.store.sqlite``), statement for statement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.errors import LeaseLost, NotFound
from bot.store.base import NewMessage
from bot.store.models import (
    CrosspostOutcome,
    Delivery,
    DigestRecord,
    DigestStatus,
    DigestSummary,
    OutboxMessage,
    QueueItem,
    Selection,
    Trigger,
    WaitingCrosspost,
)
from bot.store.postgres.articles import ArticlesPart, arg
from bot.store.postgres.core import Connection, changed
from bot.store.rows import DIGEST_COLUMNS, ITEM_COLUMNS, ORDER_SQL, to_json, utc
from bot.store.rows import time_of as _at
from bot.store.rows import time_or_none as _dt

_SUMMARY = (
    "SELECT g.id, g.channel_id, g.status, g.created_at, g.error,"
    " (SELECT count(*) FROM digest_items i WHERE i.digest_id = g.id),"
    " (SELECT m.message_id FROM digest_messages m WHERE m.digest_id = g.id"
    " AND m.message_id IS NOT NULL ORDER BY m.position LIMIT 1)"
    " FROM digests g"
)


def _summary(row: tuple[Any, ...]) -> DigestSummary:
    digest_id, channel_id, status, created_at, error, items, first = row
    return DigestSummary(
        id=digest_id,
        channel_id=channel_id,
        status=DigestStatus(status),
        created_at=_at(created_at),
        items=int(items),
        first_message_id=first,
        error=error,
    )


class DigestsPart(ArticlesPart):
    async def select_for_digest(self, selection: Selection) -> list[QueueItem]:
        # As SQLite's: recent items published elsewhere are still news to a channel.
        params: list[Any] = []
        if selection.channel is not None and selection.republish_after is not None:
            since = arg(params, utc(selection.republish_after))
            clauses = [
                "(status = 'approved' OR (status = 'published' AND source_published = 0"
                f" AND first_published_at >= {since}))"
            ]
        else:
            clauses = ["status = 'approved'"]
        clauses.append("retracted_at IS NULL")  # a retracted item never appears again
        if selection.channel is not None:
            channel = arg(params, selection.channel)
            clauses.append(
                "NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.article_id = articles.id"
                f" AND d.channel_id = {channel})"
            )
            clauses.append(
                "NOT EXISTS (SELECT 1 FROM digest_items i JOIN digests g ON g.id = i.digest_id"
                f" WHERE i.article_id = articles.id AND g.channel_id = {channel}"
                " AND g.status = 'pending')"
            )
        if selection.topics:
            topics = arg(params, [t.lower() for t in selection.topics])
            clauses.append(
                "EXISTS (SELECT 1 FROM jsonb_array_elements_text(articles.topics) t"
                f" WHERE lower(t) = ANY({topics}::text[]))"
            )
        if selection.min_quality is not None:
            clauses.append(f"quality >= {arg(params, selection.min_quality)}")
        if selection.providers:
            names = arg(params, list(selection.providers))
            clauses.append(
                f"(lower(provider_name) = ANY({names}::text[])"
                f" OR lower(provider_domain) = ANY({names}::text[]))"
            )
        if selection.published_after is not None:
            after = arg(params, utc(selection.published_after))
            clauses.append(f"(published_at IS NULL OR published_at >= {after})")
        if selection.only is not None:
            clauses.append(f"id = ANY({arg(params, list(selection.only))}::bigint[])")
        order = ", ".join(ORDER_SQL[key] for key in selection.order if key in ORDER_SQL)
        sql = (
            f"SELECT {ITEM_COLUMNS} FROM articles WHERE {' AND '.join(clauses)}"
            f" ORDER BY {order + ', ' if order else ''}id LIMIT {arg(params, selection.limit)}"
        )
        return await self._items(await self._read(sql, params), with_related=True)

    async def create_digest(
        self,
        channel_id: int,
        key: str,
        trigger: Trigger,
        messages: Sequence[NewMessage],
        *,
        scheduled_for: datetime | None = None,
        thread_name: str | None = None,
    ) -> tuple[DigestRecord, bool]:
        now = self._now()
        async with self._transaction() as db:
            found = await db.fetchval("SELECT id FROM digests WHERE key = $1", key)
            if found is not None:
                digest_id, created = int(found), False
            else:
                digest_id = int(
                    await db.fetchval(
                        "INSERT INTO digests (channel_id, key, trigger, status, created_at,"
                        " thread_name) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                        channel_id,
                        key,
                        trigger,
                        DigestStatus.PENDING,
                        now,
                        thread_name,
                    )
                )
                created = True
                await db.executemany(
                    "INSERT INTO digest_messages (digest_id, position, payload, nonce)"
                    " VALUES ($1, $2, $3, $4)",
                    [
                        (digest_id, position, to_json(payload), nonce)
                        for position, (payload, nonce, _) in enumerate(messages)
                    ],
                )
                item_rows: list[tuple[int, int, int, int]] = []
                for position, (_, _, item_ids) in enumerate(messages):
                    for item_id in item_ids:
                        item_rows.append((digest_id, item_id, len(item_rows), position))
                await db.executemany(
                    "INSERT INTO digest_items (digest_id, article_id, position, message_position)"
                    " VALUES ($1, $2, $3, $4)",
                    item_rows,
                )
            if scheduled_for is not None:
                await db.execute(
                    "UPDATE schedule_runs SET digest_id = $1"
                    " WHERE channel_id = $2 AND scheduled_for = $3",
                    digest_id,
                    channel_id,
                    utc(scheduled_for),
                )
            digest = await self._get_digest(digest_id, via=db)
        return digest, created

    async def _get_digest(self, digest_id: int, via: Connection | None = None) -> DigestRecord:
        rows = await self._read(DIGEST_COLUMNS + " FROM digests WHERE id = $1", (digest_id,), via)
        if not rows:
            raise NotFound("digest", digest_id)
        return (await self._digests(rows, via))[0]

    async def _digests(
        self, rows: list[tuple[Any, ...]], via: Connection | None = None
    ) -> list[DigestRecord]:
        digests = []
        for row in rows:
            digest_id, channel_id, key, status, created_at, trigger, error, thread_id, tried = row[
                :9
            ]
            items: dict[int, list[int]] = {}
            for article_id, message_position in await self._read(
                "SELECT article_id, message_position FROM digest_items WHERE digest_id = $1"
                " ORDER BY position",
                (digest_id,),
                via,
            ):
                items.setdefault(message_position, []).append(article_id)
            messages = tuple(
                OutboxMessage(
                    position=position,
                    payload=json.loads(payload),
                    nonce=nonce,
                    item_ids=tuple(items.get(position, ())),
                    message_id=message_id,
                    sent_at=_dt(sent_at),
                )
                for position, payload, nonce, message_id, sent_at in await self._read(
                    "SELECT position, payload, nonce, message_id, sent_at FROM digest_messages"
                    " WHERE digest_id = $1 ORDER BY position",
                    (digest_id,),
                    via,
                )
            )
            digests.append(
                DigestRecord(
                    id=digest_id,
                    channel_id=channel_id,
                    key=key,
                    status=DigestStatus(status),
                    created_at=_at(created_at),
                    trigger=Trigger(trigger),
                    messages=messages,
                    error=error,
                    thread_id=thread_id,
                    post_started_at=_dt(tried),
                    thread_name=row[9],
                )
            )
        return digests

    async def unfinished_digests(self, channel_id: int | None = None) -> list[DigestRecord]:
        if channel_id is None:
            rows = await self._read(
                DIGEST_COLUMNS + " FROM digests WHERE status = $1 ORDER BY id",
                (DigestStatus.PENDING,),
            )
        else:
            rows = await self._read(
                DIGEST_COLUMNS + " FROM digests WHERE status = $1 AND channel_id = $2 ORDER BY id",
                (DigestStatus.PENDING, channel_id),
            )
        return await self._digests(rows)

    async def record_sent(
        self,
        digest_id: int,
        position: int,
        message_id: int,
        at: datetime,
        *,
        crosspost_in: int | None = None,
        lease: int | None = None,
    ) -> None:
        when = utc(at)
        async with self._transaction() as db:
            if lease is not None:
                row = await db.fetchrow(
                    "SELECT g.channel_id, l.token FROM digests g"
                    " LEFT JOIN channel_leases l ON l.channel_id = g.channel_id WHERE g.id = $1",
                    digest_id,
                )
                if row is not None and row[1] != lease:
                    raise LeaseLost(int(row[0]))
            await db.execute(
                "UPDATE digest_messages SET message_id = $1, sent_at = $2"
                " WHERE digest_id = $3 AND position = $4 AND message_id IS NULL",
                message_id,
                when,
                digest_id,
                position,
            )
            if crosspost_in is not None:
                await db.execute(
                    "INSERT INTO crossposts (message_id, channel_id, queued_at)"
                    " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    message_id,
                    crosspost_in,
                    when,
                )
            rows = [
                tuple(r)
                for r in await db.fetch(
                    "SELECT i.article_id, g.channel_id FROM digest_items i"
                    " JOIN digests g ON g.id = i.digest_id"
                    " WHERE i.digest_id = $1 AND i.message_position = $2",
                    digest_id,
                    position,
                )
            ]
            await db.executemany(
                "INSERT INTO deliveries (article_id, channel_id, message_id, digest_id,"
                " delivered_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                [(article, channel, message_id, digest_id, when) for article, channel in rows],
            )
            ids = [row[0] for row in rows]
            await db.execute(
                "INSERT INTO audit_log (article_id, action, actor, from_status, to_status,"
                " reason, at) SELECT id, 'published', 'publisher', status, 'published', $1, $2"
                " FROM articles WHERE id = ANY($3::bigint[]) AND status = 'approved' ORDER BY id",
                f"digest {digest_id} message {message_id}",
                when,
                ids,
            )
            await db.execute(
                "UPDATE articles SET status = 'published',"
                " first_published_at = coalesce(first_published_at, $1), updated_at = $1"
                " WHERE id = ANY($2::bigint[]) AND status = 'approved'",
                when,
                ids,
            )

    async def take_leases(
        self,
        channel_ids: Sequence[int],
        owner: str,
        now: datetime,
        until: datetime,
        *,
        from_owner: str | None = None,
    ) -> dict[int, int]:
        # Safe with many processes at once: the write lock orders every taker, so each reads
        # the leases as the one before it left them.
        got: dict[int, int] = {}
        async with self._transaction() as db:
            held = {
                r[0]: (r[1], int(r[2]), r[3])
                for r in await db.fetch(
                    "SELECT channel_id, owner, token, expires_at FROM channel_leases"
                    " WHERE channel_id = ANY($1::bigint[])",
                    list(channel_ids),
                )
            }
            for channel_id in dict.fromkeys(channel_ids):
                if channel_id not in held:
                    token = 1
                else:
                    held_by, token, expires_at = held[channel_id]
                    if held_by == owner and expires_at > now:
                        pass  # still ours: the same token, held longer
                    elif held_by == from_owner or expires_at <= now:
                        token += 1
                    else:
                        continue
                await db.execute(
                    "INSERT INTO channel_leases (channel_id, owner, token, expires_at)"
                    " VALUES ($1, $2, $3, $4) ON CONFLICT (channel_id) DO UPDATE SET"
                    " owner = excluded.owner, token = excluded.token,"
                    " expires_at = excluded.expires_at",
                    channel_id,
                    owner,
                    token,
                    utc(until),
                )
                got[channel_id] = token
        return got

    async def lease_holder(self, channel_id: int, now: datetime) -> str | None:
        rows = await self._read(
            "SELECT owner, expires_at FROM channel_leases WHERE channel_id = $1", (channel_id,)
        )
        return rows[0][0] if rows and _at(rows[0][1]) > now else None

    async def renew_lease(self, channel_id: int, token: int, until: datetime) -> bool:
        async with self._transaction() as db:
            status = await db.execute(
                "UPDATE channel_leases SET expires_at = $1 WHERE channel_id = $2 AND token = $3",
                utc(until),
                channel_id,
                token,
            )
            return changed(status) > 0

    async def release_leases(self, tokens: Mapping[int, int], now: datetime) -> None:
        async with self._transaction() as db:
            await db.executemany(
                "UPDATE channel_leases SET expires_at = $1 WHERE channel_id = $2 AND token = $3",
                [(utc(now), channel_id, token) for channel_id, token in tokens.items()],
            )

    async def record_thread(self, digest_id: int, thread_id: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE digests SET thread_id = $1 WHERE id = $2 AND thread_id IS NULL",
                thread_id,
                digest_id,
            )

    async def waiting_crossposts(self, limit: int) -> list[WaitingCrosspost]:
        rows = await self._read(
            "SELECT channel_id, message_id, queued_at FROM crossposts WHERE done_at IS NULL"
            " ORDER BY queued_at, message_id LIMIT $1",
            (limit,),
        )
        return [
            WaitingCrosspost(channel, message, _at(queued)) for channel, message, queued in rows
        ]

    async def finish_crosspost(
        self, message_id: int, outcome: CrosspostOutcome, at: datetime
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE crossposts SET done_at = $1, outcome = $2 WHERE message_id = $3",
                utc(at),
                outcome,
                message_id,
            )

    async def record_post_intent(self, digest_id: int, at: datetime) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE digests SET post_started_at = $1 WHERE id = $2 AND post_started_at IS NULL",
                utc(at),
                digest_id,
            )

    async def finish_digest(
        self, digest_id: int, status: DigestStatus, error: str | None = None
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE digests SET status = $1, error = $2, finished_at = $3 WHERE id = $4",
                status,
                error,
                self._now(),
                digest_id,
            )

    async def deliveries(self, article_id: int) -> list[Delivery]:
        rows = await self._read(
            "SELECT article_id, channel_id, message_id, digest_id, delivered_at FROM deliveries"
            " WHERE article_id = $1 ORDER BY delivered_at, channel_id",
            (article_id,),
        )
        return [
            Delivery(
                article_id=r[0],
                channel_id=r[1],
                message_id=r[2],
                digest_id=r[3],
                delivered_at=_at(r[4]),
            )
            for r in rows
        ]

    async def deliveries_of(self, article_ids: Sequence[int]) -> dict[int, list[Delivery]]:
        found: dict[int, list[Delivery]] = {i: [] for i in article_ids}
        rows = await self._read(
            "SELECT article_id, channel_id, message_id, digest_id, delivered_at FROM deliveries"
            " WHERE article_id = ANY($1::bigint[]) ORDER BY delivered_at, channel_id",
            (list(found),),
        )
        for r in rows:
            found[r[0]].append(Delivery(r[0], r[1], r[2], r[3], _at(r[4])))
        return found

    async def last_digest(self, channel_id: int) -> DigestSummary | None:
        rows = await self._read(
            _SUMMARY + " WHERE g.channel_id = $1 AND EXISTS (SELECT 1 FROM digest_messages"
            " m WHERE m.digest_id = g.id AND m.message_id IS NOT NULL) ORDER BY g.id DESC"
            " LIMIT 1",
            (channel_id,),
        )
        return _summary(rows[0]) if rows else None

    async def failed_digests(self, limit: int) -> list[DigestSummary]:
        rows = await self._read(
            _SUMMARY + " WHERE g.status = $1 ORDER BY g.id DESC LIMIT $2",
            (DigestStatus.FAILED, limit),
        )
        return [_summary(row) for row in rows]
