"""The PostgreSQL store's articles: ingest, clustering, the queue and moderation.

Statement for statement the SQLite store's (``bot.store.sqlite``), in PostgreSQL's dialect:
lists go in as one array parameter (``= ANY($1)``), so nothing is chunked; new ids come back
with ``RETURNING``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.articles import Article, Provider, Related, canonical_url
from bot.articles.urls import outlet_key
from bot.errors import InvalidTransition, NotFound
from bot.store.models import (
    Approval,
    AuditEntry,
    EditWhy,
    Merge,
    Outcome,
    QueueItem,
    QueueQuery,
    Status,
    StoryLead,
)
from bot.store.postgres.core import Connection
from bot.store.postgres.edits import INSERT_AUDIT, EditsPart
from bot.store.rows import ITEM_COLUMNS, article_row, initial_status, item, related_rows, utc
from bot.store.rows import time_of as _at
from bot.store.rows import time_or_none as _dt

_ARTICLE_COLUMNS = (
    "web_url, title, excerpt, published_at, category, type, provider_name, provider_domain,"
    " topics, images, quality, heat, source_published, source, body, source_hash, origin"
)
_INSERT_RELATED = (
    "INSERT INTO related (article_id, position, url, title, excerpt, provider_name,"
    " provider_domain, published_at, quality, image) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
    " $9, $10)"
)
_UPDATE_ARTICLE = (
    "web_url = $1, title = $2, excerpt = $3, published_at = $4, category = $5, type = $6,"
    " provider_name = $7, provider_domain = $8, topics = $9, images = $10, quality = $11,"
    " heat = $12, source_published = $13, source = $14, body = $15, source_hash = $16,"
    " origin = $17"
)


def arg(params: list[Any], value: Any) -> str:
    """Append ``value`` to ``params`` and name it: ``$n``."""
    params.append(value)
    return f"${len(params)}"


def _row(article: Article) -> tuple[Any, ...]:
    return article_row(article, utc)


class ArticlesPart(EditsPart):
    async def known_hashes(self, hashes: Sequence[str]) -> set[str]:
        rows = await self._read(
            "SELECT source_hash FROM articles WHERE source_hash = ANY($1::text[])"
            " UNION SELECT source_hash FROM coverage WHERE source_hash = ANY($1::text[])",
            (list(hashes),),
        )
        return {row[0] for row in rows}

    async def upsert_articles(
        self,
        articles: Sequence[Article],
        *,
        actor: str,
        approvals: Mapping[str, Approval] | None = None,
        merges: Mapping[str, Merge] | None = None,
    ) -> list[tuple[int, Outcome]]:
        now = self._now()
        async with self._transaction() as db:
            return await self._upsert(db, articles, actor, now, approvals or {}, merges or {})

    async def _upsert(
        self,
        db: Connection,
        batch: Sequence[Article],
        actor: str,
        now: datetime,
        approvals: Mapping[str, Approval],
        merges: Mapping[str, Merge],
    ) -> list[tuple[int, Outcome]]:
        urls = list({a.url: None for a in batch})
        existing = {
            r[0]: (r[1], r[2], r[3])
            for r in await db.fetch(
                "SELECT url, id, status, source_hash FROM articles WHERE url = ANY($1::text[])",
                urls,
            )
        }
        covered = {
            r[0]: (r[1], r[2])
            for r in await db.fetch(
                "SELECT url, article_id, source_hash FROM coverage WHERE url = ANY($1::text[])",
                urls,
            )
        }
        # The last file wins when one batch names the same URL twice.
        latest = {a.url: a for a in batch}
        fresh = [latest[url] for url in urls if url not in existing and url not in covered]
        leads = [a for a in fresh if a.url not in merges]
        ids = await self._insert_many(db, leads, actor, now, approvals)
        # Leads first: an article may join a story whose lead came earlier in this batch.
        joined = await self._merge_many(
            db, [a for a in fresh if a.url in merges], merges, actor, now
        )
        refused = [a for a in fresh if a.url in merges and a.url not in joined]
        ids.update(await self._insert_many(db, refused, actor, now, approvals))
        updates: list[tuple[int, str, Article]] = []
        coverage_updates: list[Article] = []
        results: list[tuple[int, Outcome]] = []
        seen: set[str] = set()
        for article in batch:
            if article.url in joined or article.url in covered:
                lead_id, stored_hash = covered.get(article.url) or (joined[article.url], "")
                if article.url in joined and article.url not in seen:
                    outcome = Outcome.CLUSTERED
                elif stored_hash == article.source_hash or article.url in seen:
                    outcome = Outcome.UNCHANGED
                else:
                    outcome = Outcome.UPDATED
                    coverage_updates.append(latest[article.url])
                seen.add(article.url)
                results.append((lead_id, outcome))
                continue
            if article.url in ids:
                outcome = Outcome.UNCHANGED if article.url in seen else Outcome.NEW
                seen.add(article.url)
                results.append((ids[article.url], outcome))
                continue
            item_id, status, stored_hash = existing[article.url]
            if stored_hash == article.source_hash:
                results.append((item_id, Outcome.UNCHANGED))
                continue
            if article is latest[article.url]:
                updates.append((item_id, status, article))
            existing[article.url] = (item_id, status, article.source_hash)
            results.append((item_id, Outcome.UPDATED))
        if updates:
            await self._update_many(db, updates, actor, now)
        # A published item that changed, or took in new coverage, is corrected where it was
        # published: its messages are queued for editing in this same transaction.
        changed = [item_id for item_id, _, _ in updates] + list(set(joined.values()))
        if changed:
            await self._queue_edits(db, changed, EditWhy.CORRECTION, now)
        if coverage_updates:
            await db.executemany(
                f"UPDATE coverage SET {_UPDATE_ARTICLE} WHERE url = $18",
                [(*_row(a), a.url) for a in coverage_updates],
            )
        return results

    async def _merge_many(
        self,
        db: Connection,
        articles: Sequence[Article],
        merges: Mapping[str, Merge],
        actor: str,
        now: datetime,
    ) -> dict[str, int]:
        """As SQLite's: coverage joins its story's item unless its outlet is there already."""
        joined: dict[str, int] = {}
        for article in articles:
            merge = merges[article.url]
            row = await db.fetchrow(
                "SELECT id, status, provider_name, provider_domain, web_url FROM articles"
                " WHERE url = $1",
                merge.lead_url,
            )
            if row is None:
                continue
            lead_id, status, name, domain, web_url = tuple(row)
            outlets = {
                r[0]
                for r in await db.fetch(
                    "SELECT outlet FROM coverage WHERE article_id = $1", lead_id
                )
            }
            outlets.add(outlet_key(domain or "", web_url, name or ""))
            if merge.outlet in outlets:
                continue
            await db.execute(
                f"INSERT INTO coverage (url, article_id, {_ARTICLE_COLUMNS}, outlet, score,"
                " merged_by, merged_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
                " $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)",
                article.url,
                lead_id,
                *_row(article),
                merge.outlet,
                merge.score,
                actor,
                now,
            )
            reason = (
                f"{article.web_url} ({merge.outlet}) joined as related coverage"
                f" (similarity {merge.score:.2f})"
            )
            await db.execute(INSERT_AUDIT, lead_id, "clustered", actor, status, status, reason, now)
            joined[article.url] = lead_id
        return joined

    async def _insert_many(
        self,
        db: Connection,
        articles: Sequence[Article],
        actor: str,
        now: datetime,
        approvals: Mapping[str, Approval],
        submitted_by: str | None = None,
    ) -> dict[str, int]:
        """Insert new articles with their related coverage and audit; returns url -> id."""
        if not articles:
            return {}
        statuses = [initial_status(a, approvals.get(a.url)) for a in articles]
        marks = ", ".join(f"${n}" for n in range(1, 26))
        await db.executemany(
            f"INSERT INTO articles (url, {_ARTICLE_COLUMNS}, status, submitted_by, decided_by,"
            f" decided_at, first_published_at, created_at, updated_at) VALUES ({marks})",
            [
                (
                    article.url,
                    *_row(article),
                    status.value,
                    submitted_by,
                    approvals[article.url].actor if status == Status.APPROVED else None,
                    now if status == Status.APPROVED else None,
                    now if status == Status.PUBLISHED else None,
                    now,
                    now,
                )
                for article, status in zip(articles, statuses, strict=True)
            ],
        )
        ids = {
            r[0]: r[1]
            for r in await db.fetch(
                "SELECT url, id FROM articles WHERE url = ANY($1::text[])",
                [a.url for a in articles],
            )
        }
        related = [row for a in articles for row in related_rows(ids[a.url], a, utc)]
        if related:
            await db.executemany(_INSERT_RELATED, related)
        audit: list[tuple[Any, ...]] = []
        for article, status in zip(articles, statuses, strict=True):
            item_id = ids[article.url]
            action = "submitted" if submitted_by else "ingested"
            audit.append(
                (item_id, action, submitted_by or actor, None, Status.PENDING.value, None, now)
            )
            if status == Status.APPROVED:
                approval = approvals[article.url]
                audit.append(
                    (
                        item_id,
                        "approved",
                        approval.actor,
                        Status.PENDING.value,
                        status.value,
                        approval.reason,
                        now,
                    )
                )
            elif status == Status.PUBLISHED:
                reason = "published: true in the article file"
                audit.append(
                    (item_id, "published", actor, Status.PENDING.value, status.value, reason, now)
                )
        await db.executemany(INSERT_AUDIT, audit)
        return ids

    async def _update_many(
        self,
        db: Connection,
        updates: Sequence[tuple[int, str, Article]],
        actor: str,
        now: datetime,
    ) -> None:
        await db.executemany(
            f"UPDATE articles SET {_UPDATE_ARTICLE}, updated_at = $18 WHERE id = $19",
            [(*_row(article), now, item_id) for item_id, _, article in updates],
        )
        await db.execute(
            "DELETE FROM related WHERE article_id = ANY($1::bigint[])",
            [item_id for item_id, _, _ in updates],
        )
        related = [row for item_id, _, a in updates for row in related_rows(item_id, a, utc)]
        if related:
            await db.executemany(_INSERT_RELATED, related)
        audit: list[tuple[Any, ...]] = [
            (item_id, "updated", actor, status, status, None, now) for item_id, status, _ in updates
        ]
        published = [(item_id, status) for item_id, status, a in updates if a.published]
        if published:
            await db.executemany(
                "UPDATE articles SET status = 'published',"
                " first_published_at = coalesce(first_published_at, $1) WHERE id = $2",
                [(now, item_id) for item_id, _ in published],
            )
            reason = "published: true in the article file"
            audit.extend(
                (item_id, "published", actor, status, Status.PUBLISHED.value, reason, now)
                for item_id, status in published
            )
        await db.executemany(INSERT_AUDIT, audit)

    async def submit(self, article: Article, *, submitted_by: str) -> tuple[QueueItem, bool]:
        async with self._transaction() as db:
            found = await db.fetchval("SELECT id FROM articles WHERE url = $1", article.url)
            if found is None:
                ids = await self._insert_many(
                    db, [article], submitted_by, self._now(), {}, submitted_by=submitted_by
                )
                item_id, created = ids[article.url], True
            else:
                item_id, created = int(found), False
        return await self.get(item_id), created

    async def _related_for(self, ids: Sequence[int]) -> dict[int, list[Related]]:
        related: dict[int, list[Related]] = {i: [] for i in ids}
        rows = await self._read(
            "SELECT article_id, url, title, excerpt, provider_name, provider_domain,"
            " published_at, quality, image FROM related WHERE article_id = ANY($1::bigint[])"
            " ORDER BY article_id, position",
            (list(ids),),
        )
        for article_id, url, title, excerpt, name, domain, published_at, quality, image in rows:
            related[article_id].append(
                Related(
                    title=title,
                    url=url,
                    excerpt=excerpt,
                    provider=Provider(name or "", domain or "") if name or domain else None,
                    published_at=_dt(published_at),
                    quality=quality,
                    image=image,
                )
            )
        # Then the coverage clustering found, in the order it joined.
        rows = await self._read(
            "SELECT article_id, web_url, title, excerpt, provider_name, provider_domain,"
            " published_at, quality, images FROM coverage WHERE article_id = ANY($1::bigint[])"
            " ORDER BY article_id, merged_at, joined",
            (list(ids),),
        )
        listed = {(i, canonical_url(r.url)) for i in ids for r in related[i]}
        for article_id, url, title, excerpt, name, domain, published_at, quality, images in rows:
            if (article_id, canonical_url(url)) in listed:
                continue  # the article's own file lists it already
            first = next(iter(json.loads(images)), None)
            related[article_id].append(
                Related(
                    title=title,
                    url=url,
                    excerpt=excerpt,
                    provider=Provider(name or "", domain or "") if name or domain else None,
                    published_at=_dt(published_at),
                    quality=quality,
                    image=first["url"] if first else None,
                )
            )
        return related

    async def _items(self, rows: list[tuple[Any, ...]], with_related: bool) -> list[QueueItem]:
        if not with_related:
            return [item(row) for row in rows]
        related = await self._related_for([row[0] for row in rows])
        return [item(row, tuple(related[row[0]])) for row in rows]

    async def get(self, article_id: int, *, with_related: bool = True) -> QueueItem:
        rows = await self._read(f"SELECT {ITEM_COLUMNS} FROM articles WHERE id = $1", (article_id,))
        if not rows:
            raise NotFound("item", article_id)
        return (await self._items(rows, with_related))[0]

    @staticmethod
    def _where(query: QueueQuery) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if query.statuses:
            clauses.append(f"status = ANY({arg(params, [s.value for s in query.statuses])})")
        if query.topic:
            clauses.append(
                "EXISTS (SELECT 1 FROM jsonb_array_elements_text(articles.topics) t"
                f" WHERE lower(t) = lower({arg(params, query.topic)}))"
            )
        if query.search:
            # ILIKE: SQLite's LIKE ignores case too.
            escaped = query.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            digits = query.search.strip().lstrip("#")
            like = f"title ILIKE {arg(params, f'%{escaped}%')} ESCAPE '\\'"
            if digits.isdigit():
                like = f"(id = {arg(params, int(digits))} OR {like})"
            clauses.append(like)
        if query.after is not None:
            clauses.append(f"id > {arg(params, query.after)}")
        if query.before is not None:
            clauses.append(f"id < {arg(params, query.before)}")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    async def list_items(self, query: QueueQuery) -> list[QueueItem]:
        where, params = self._where(query)
        # Just below ``before``: walk down from it, then hand the page out in id order.
        descending = query.before is not None
        sql = f"SELECT {ITEM_COLUMNS} FROM articles{where} ORDER BY id"
        sql += " DESC" if descending else ""
        if query.limit is not None:
            sql += f" LIMIT {arg(params, query.limit)}"
        rows = await self._read(sql, params)
        if descending:
            rows.reverse()
        return await self._items(rows, with_related=query.related)

    async def count_items(self, query: QueueQuery) -> int:
        if (query.topic, query.search, query.after, query.before) == (None, None, None, None):
            counts = await self.count_by_status()
            return sum(counts[status] for status in set(query.statuses or Status))
        where, params = self._where(query)
        rows = await self._read(f"SELECT count(*) FROM articles{where}", params)
        return int(rows[0][0])

    async def count_by_status(self) -> dict[Status, int]:
        # Kept by a trigger (migration 4): four rows, however long the queue.
        rows = await self._read("SELECT status, items FROM status_counts")
        counts = dict.fromkeys(Status, 0)
        counts.update({Status(status): int(count) for status, count in rows})
        return counts

    async def story_leads(
        self, since: datetime, *, loaded_since: datetime | None = None, after_id: int = 0
    ) -> list[StoryLead]:
        when = "coalesce(published_at, created_at)"
        params: list[Any] = []
        sql = f"SELECT {ITEM_COLUMNS} FROM articles WHERE {when} >= {arg(params, utc(since))}"
        if loaded_since is not None:
            sql += (
                f" AND ({when} < {arg(params, utc(loaded_since))} OR id > {arg(params, after_id)})"
            )
        rows = await self._read(sql + " ORDER BY id", params)
        outlets: dict[int, list[str]] = {}
        for article_id, outlet in await self._read(
            "SELECT article_id, outlet FROM coverage WHERE article_id = ANY($1::bigint[])",
            ([row[0] for row in rows],),
        ):
            outlets.setdefault(article_id, []).append(outlet)
        leads = []
        for row in rows:
            lead = item(row)
            at = lead.article.published_at or lead.created_at
            leads.append(StoryLead(lead.id, lead.article, at, tuple(outlets.get(lead.id, ()))))
        return leads

    async def split(self, article_id: int, url: str, *, actor: str) -> QueueItem:
        now = self._now()
        async with self._transaction() as db:
            status = await db.fetchval("SELECT status FROM articles WHERE id = $1", article_id)
            if status is None:
                raise NotFound("item", article_id)
            columns = f"url, {_ARTICLE_COLUMNS}"
            new_id = await db.fetchval(
                f"INSERT INTO articles ({columns}, status, created_at, updated_at)"
                f" SELECT {columns}, 'pending', $1, $1 FROM coverage"
                " WHERE url = $2 AND article_id = $3 RETURNING id",
                now,
                url,
                article_id,
            )
            if new_id is None:
                raise NotFound("related coverage", f"{url} of item {article_id}")
            web_url = await db.fetchval(
                "DELETE FROM coverage WHERE url = $1 RETURNING web_url", url
            )
            await db.executemany(
                INSERT_AUDIT,
                [
                    (
                        article_id,
                        "split",
                        actor,
                        status,
                        status,
                        f"{web_url} is item {new_id} again",
                        now,
                    ),
                    (
                        new_id,
                        "split",
                        actor,
                        None,
                        Status.PENDING.value,
                        f"split from item {article_id}",
                        now,
                    ),
                ],
            )
        return await self.get(int(new_id))

    async def transition(
        self,
        article_id: int,
        to: Status,
        *,
        allowed_from: tuple[Status, ...],
        actor: str,
        reason: str | None = None,
    ) -> QueueItem:
        now = self._now()
        async with self._transaction() as db:
            found = await db.fetchval("SELECT status FROM articles WHERE id = $1", article_id)
            if found is None:
                raise NotFound("item", article_id)
            current = Status(found)
            if current not in allowed_from:
                raise InvalidTransition(article_id, current.value, to.value)
            await db.execute(
                "UPDATE articles SET status = $1, reason = $2, decided_by = $3, decided_at = $4,"
                " updated_at = $4 WHERE id = $5",
                to.value,
                reason,
                actor,
                now,
                article_id,
            )
            await db.execute(
                INSERT_AUDIT, article_id, to.value, actor, current.value, to.value, reason, now
            )
        return await self.get(article_id)

    async def transition_all(
        self, from_status: Status, to: Status, *, actor: str, reason: str | None = None
    ) -> list[int]:
        now = self._now()
        async with self._transaction() as db:
            rows = await db.fetch(
                "UPDATE articles SET status = $1, reason = $2, decided_by = $3, decided_at = $4,"
                " updated_at = $4 WHERE status = $5 RETURNING id",
                to.value,
                reason,
                actor,
                now,
                from_status.value,
            )
            ids = sorted(int(row[0]) for row in rows)
            await db.executemany(
                INSERT_AUDIT,
                [(i, to.value, actor, from_status.value, to.value, reason, now) for i in ids],
            )
        return ids

    async def audit(self, article_id: int) -> list[AuditEntry]:
        rows = await self._read(
            "SELECT id, article_id, action, actor, at, from_status, to_status, reason"
            " FROM audit_log WHERE article_id = $1 ORDER BY id",
            (article_id,),
        )
        return [
            AuditEntry(
                id=r[0],
                article_id=r[1],
                action=r[2],
                actor=r[3],
                at=_at(r[4]),
                from_status=r[5],
                to_status=r[6],
                reason=r[7],
            )
            for r in rows
        ]
