"""The PostgreSQL store's review side: the deck, trusted outlets, the review channel.

As the SQLite store's (``bot.store.sqlite``), statement for statement.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store.models import BotMessage, QueueItem, ReviewPost, Status
from bot.store.postgres.articles import ArticlesPart
from bot.store.postgres.core import changed
from bot.store.rows import ITEM_COLUMNS, utc
from bot.store.rows import time_of as _at


class ReviewPart(ArticlesPart):
    async def next_pending(
        self, *, after: int, topic: str | None = None, origins: tuple[str, ...] | None = None
    ) -> QueueItem | None:
        params: tuple[Any, ...]
        if origins is not None:
            # Items a feed brought (``origin``): one seek on (origin, status, id).
            if topic is None:
                sql = (
                    f"SELECT {ITEM_COLUMNS} FROM articles WHERE origin = ANY($1::text[])"
                    " AND status = 'pending' AND id > $2 ORDER BY id LIMIT 1"
                )
                params = (list(origins), after)
            else:
                sql = (
                    f"SELECT {ITEM_COLUMNS} FROM articles WHERE id = (SELECT t.article_id FROM"
                    " article_topics t JOIN articles a ON a.id = t.article_id"
                    " WHERE t.topic = lower($1) AND t.status = 'pending' AND t.article_id > $2"
                    " AND a.origin = ANY($3::text[]) ORDER BY t.article_id LIMIT 1)"
                )
                params = (topic, after, list(origins))
        elif topic is None:
            sql = (
                f"SELECT {ITEM_COLUMNS} FROM articles WHERE status = 'pending' AND id > $1"
                " ORDER BY id LIMIT 1"
            )
            params = (after,)
        else:
            # article_topics holds (topic, state, id): one seek, then one row.
            sql = (
                f"SELECT {ITEM_COLUMNS} FROM articles WHERE id = (SELECT article_id FROM"
                " article_topics WHERE topic = lower($1) AND status = 'pending'"
                " AND article_id > $2 ORDER BY article_id LIMIT 1)"
            )
            params = (topic, after)
        items = await self._items(await self._read(sql, params), with_related=True)
        return items[0] if items else None

    async def count_pending(
        self, *, topic: str | None = None, origins: tuple[str, ...] | None = None, limit: int
    ) -> int:
        if origins is not None:
            where = "a.origin = ANY($1::text[]) AND a.status = 'pending'"
            params: list[Any] = [list(origins)]
            if topic is not None:
                where += (
                    " AND EXISTS (SELECT 1 FROM article_topics t WHERE t.article_id = a.id"
                    " AND t.topic = lower($2))"
                )
                params.append(topic)
            rows = await self._read(
                f"SELECT count(*) FROM (SELECT 1 FROM articles a WHERE {where}"
                f" LIMIT ${len(params) + 1}) AS page",
                (*params, limit),
            )
            return int(rows[0][0])
        if topic is None:
            return min((await self.count_by_status())[Status.PENDING], limit)
        rows = await self._read(
            "SELECT count(*) FROM (SELECT 1 FROM article_topics WHERE topic = lower($1)"
            " AND status = 'pending' LIMIT $2) AS page",
            (topic, limit),
        )
        return int(rows[0][0])

    async def trust_provider(self, provider: str, *, actor: str) -> bool:
        async with self._transaction() as db:
            status = await db.execute(
                "INSERT INTO trusted_providers (provider, added_by, added_at)"
                " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                provider.lower(),
                actor,
                self._now(),
            )
        return changed(status) > 0

    async def trusted_providers(self) -> tuple[str, ...]:
        rows = await self._read("SELECT provider FROM trusted_providers ORDER BY provider")
        return tuple(row[0] for row in rows)

    async def unreviewed_pending(self, limit: int) -> list[QueueItem]:
        # Highest quality first, NULLs last as in SQLite, on (status, quality DESC, id).
        rows = await self._read(
            f"SELECT {ITEM_COLUMNS} FROM articles WHERE status = 'pending' AND NOT EXISTS"
            " (SELECT 1 FROM review_posts r WHERE r.article_id = articles.id)"
            " ORDER BY quality DESC NULLS LAST, id LIMIT $1",
            (limit,),
        )
        return await self._items(rows, with_related=True)

    async def count_unreviewed_pending(self) -> int:
        pending = (await self.count_by_status())[Status.PENDING]
        rows = await self._read(
            "SELECT count(*) FROM review_posts r JOIN articles a ON a.id = r.article_id"
            " WHERE a.status = 'pending'"
        )
        return max(0, pending - int(rows[0][0]))

    async def review_posts_since(self, since: datetime) -> list[datetime]:
        rows = await self._read(
            "SELECT posted_at FROM review_posts WHERE posted_at > $1 ORDER BY posted_at",
            (utc(since),),
        )
        return [_at(row[0]) for row in rows]

    async def bot_message(self, name: str) -> BotMessage | None:
        rows = await self._read(
            "SELECT name, channel_id, message_id FROM bot_messages WHERE name = $1", (name,)
        )
        return BotMessage(*rows[0]) if rows else None

    async def set_bot_message(self, name: str, channel_id: int, message_id: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO bot_messages (name, channel_id, message_id) VALUES ($1, $2, $3)"
                " ON CONFLICT (name) DO UPDATE SET channel_id = excluded.channel_id,"
                " message_id = excluded.message_id",
                name,
                channel_id,
                message_id,
            )

    async def record_review_post(self, article_id: int, channel_id: int, message_id: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO review_posts (article_id, channel_id, message_id, posted_at)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (article_id) DO UPDATE SET"
                " channel_id = excluded.channel_id, message_id = excluded.message_id,"
                " posted_at = excluded.posted_at",
                article_id,
                channel_id,
                message_id,
                self._now(),
            )

    async def review_post(self, article_id: int) -> ReviewPost | None:
        rows = await self._read(
            "SELECT article_id, channel_id, message_id FROM review_posts WHERE article_id = $1",
            (article_id,),
        )
        return ReviewPost(*rows[0]) if rows else None
