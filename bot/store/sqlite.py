"""The SQLite implementation of the Store: the only module in newsbot that writes SQL.

One connection writes (its worker thread serialises calls; an asyncio lock keeps each
multi-statement change in one ``BEGIN IMMEDIATE`` transaction), a second one reads, so that
listing the queue for a slash command never waits behind a large ingest. WAL lets both work at
once; foreign keys are on. Every value goes in as a parameter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.articles import Article, Provider, Related, canonical_url
from bot.articles.urls import outlet_key
from bot.clock import Clock
from bot.errors import InvalidTransition, LeaseLost, NotFound, StoreError
from bot.store.base import NewMessage
from bot.store.migrations import MIGRATIONS
from bot.store.models import (
    Approval,
    AuditEntry,
    BotMessage,
    ClaimedRun,
    CrosspostOutcome,
    Delivery,
    DigestRecord,
    DigestStatus,
    DigestSummary,
    DraftRecord,
    DraftState,
    EditOutcome,
    EditWhy,
    FeedState,
    Merge,
    OutboxMessage,
    Outcome,
    PendingEdit,
    ProcessRecord,
    QueueItem,
    QueueQuery,
    ReviewPost,
    RunOutcome,
    Selection,
    Status,
    StoredFeed,
    StoredSchedule,
    StoryLead,
    Trigger,
    WaitingCrosspost,
)
from bot.store.rows import DIGEST_COLUMNS as _DIGEST_COLUMNS
from bot.store.rows import DRAFT_COLUMNS as _DRAFT_COLUMNS
from bot.store.rows import FEED_STATE_COLUMNS as _FEED_STATE_COLUMNS
from bot.store.rows import ITEM_COLUMNS as _ITEM_COLUMNS
from bot.store.rows import ORDER_SQL as _ORDER_SQL
from bot.store.rows import article_row as _article_row
from bot.store.rows import chunks as _chunks
from bot.store.rows import draft as _draft
from bot.store.rows import feed_state as _feed_state
from bot.store.rows import initial_status as _initial_status
from bot.store.rows import iso as _ts
from bot.store.rows import item as _item
from bot.store.rows import related_rows as _related_rows
from bot.store.rows import time_of as _at
from bot.store.rows import time_or_none as _dt
from bot.store.rows import to_json as _json

log = logging.getLogger(__name__)

# How long a write waits for another process's lock. Under Discord's 3 s deadline for a first
# answer, so a slash command on a locked database still gets its 'not available' reply.
_BUSY_TIMEOUT_MS = 2_000


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


_HINTS = {
    "SQLITE_BUSY": "another process holds a lock on it; try again when it is done",
    "SQLITE_LOCKED": "another process holds a lock on it; try again when it is done",
    "SQLITE_READONLY": "the file or its folder is read-only",
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR": "the disk could not be written: full, or a file size limit",
    "SQLITE_CANTOPEN": "the file or its folder cannot be opened",
    "SQLITE_CORRUPT": "the file is damaged; restore it from a backup",
    "SQLITE_NOTADB": "the file is not a newsbot database",
}


def _probe(path: Path) -> None:
    """Open and close ``path``: raises what opening it raises (a missing folder, a folder, a
    path that cannot exist). Nothing is read, so a busy database is no error here; a file that
    is not a database fails later, on the connection's first statement."""
    sqlite3.connect(path).close()


def _store_error(exc: sqlite3.Error, path: Path) -> StoreError:
    name = getattr(exc, "sqlite_errorname", "") or ""
    family = "_".join(name.split("_")[:2])  # SQLITE_IOERR_WRITE -> SQLITE_IOERR
    hint = _HINTS.get(name) or _HINTS.get(family) or (name or "an SQLite error")
    return StoreError(f"{path}: database error: {exc} ({hint})")


_INSERT_RELATED = (
    "INSERT INTO related (article_id, position, url, title, excerpt, provider_name,"
    " provider_domain, published_at, quality, image) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

_INSERT_AUDIT = (
    "INSERT INTO audit_log (article_id, action, actor, from_status, to_status, reason, at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class SQLiteStore:
    """The queue in one SQLite file. Open with :meth:`open`; close with :meth:`close`."""

    def __init__(
        self,
        path: Path,
        clock: Clock,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
    ):
        self.path = path
        self._clock = clock
        self._writer = writer
        self._reader = reader
        self._lock = asyncio.Lock()

    # --- lifecycle ----------------------------------------------------------------------------
    @classmethod
    async def open(cls, path: Path | str, clock: Clock) -> SQLiteStore:
        """Open (creating and migrating) the database; every timestamp it writes is
        ``clock``'s, so a test's clock and the rows it leaves agree."""
        path = Path(path)
        try:
            writer = await cls._connect(path)
        except sqlite3.Error as exc:
            raise _store_error(exc, path) from None
        store = cls(path, clock, writer, writer)
        try:
            await writer.execute("PRAGMA journal_mode = WAL")
            await writer.execute("PRAGMA synchronous = NORMAL")
            await store._migrate()
            store._reader = await cls._connect(path)
            await store._reader.execute("PRAGMA query_only = ON")
        except BaseException as exc:
            # Any failure (a newer schema is a StoreError) closes what was opened; a connection
            # left open keeps its worker thread, and the process, alive.
            await store.close()
            if isinstance(exc, sqlite3.Error):
                raise _store_error(exc, path) from None
            raise
        return store

    @staticmethod
    async def _connect(path: Path) -> aiosqlite.Connection:
        # Opened once without aiosqlite first: when aiosqlite.connect() itself fails, its
        # worker thread is stopped without being awaited and, racing asyncio.run's shutdown,
        # dies with an 'Event loop is closed' traceback (aiosqlite issue #241). A path that
        # cannot be opened fails here instead, with the same sqlite3 error and no thread.
        await asyncio.to_thread(_probe, path)
        connection = await aiosqlite.connect(path, isolation_level=None, timeout=0)
        try:
            # SQLite opens the file lazily: a folder or an unopenable path given as the
            # database fails here, on the first statement, not in connect().
            await connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS:d}")
            await connection.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            # Closed before the error goes up: an open connection's worker thread outlives
            # the event loop and dies with a traceback ('Event loop is closed').
            await connection.close()
            raise
        return connection

    async def close(self) -> None:
        if self._reader is not self._writer:
            await self._reader.close()
        await self._writer.close()

    async def _migrate(self) -> None:
        await self._writer.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        async with self._writer.execute("SELECT version FROM schema_migrations") as cursor:
            applied = {row[0] async for row in cursor}
        newest = max((version for version, _, _ in MIGRATIONS), default=0)
        if applied and max(applied) > newest:
            raise StoreError(
                f"{self.path}: database schema version {max(applied)} is newer than this "
                f"newsbot knows ({newest}); upgrade newsbot",
                unchanged=False,
            )
        for version, name, statements in MIGRATIONS:
            if version in applied:
                continue
            async with self._transaction() as db:
                for statement in statements:
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, self._now()),
                )
            log.info("database %s migrated to version %d (%s)", self.path, version, name)

    def _now(self) -> str:
        """The injected clock's time, as the store writes it (see ``_ts``)."""
        return self._clock.now().astimezone(UTC).isoformat(timespec="microseconds")

    async def schema_version(self) -> int:
        [(version,)] = await self._read("SELECT max(version) FROM schema_migrations")
        return int(version or 0)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction on the writer; rolled back on any error."""
        async with self._lock:
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _store_error(exc, self.path) from None
            try:
                yield self._writer
                await self._writer.execute("COMMIT")
            except BaseException as exc:
                # A failed COMMIT (disk full) has already rolled back; a second ROLLBACK would
                # only fail with 'no transaction is active'.
                if self._writer.in_transaction:
                    try:
                        await self._writer.execute("ROLLBACK")
                    except sqlite3.Error:
                        log.exception("rollback failed on %s", self.path)
                if isinstance(exc, sqlite3.Error):
                    raise _store_error(exc, self.path) from None
                raise

    async def _read(
        self, sql: str, params: Sequence[Any] = (), via: aiosqlite.Connection | None = None
    ) -> list[tuple[Any, ...]]:
        """Rows from the reader, or from ``via`` (the writer, inside a transaction, to read
        back what it just wrote)."""
        connection = self._reader if via is None else via
        try:
            # One hop to aiosqlite's thread: run and fetch together. As two hops, another
            # read's open statement in between kept the connection on an old snapshot.
            return [tuple(row) for row in await connection.execute_fetchall(sql, params)]
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path) from None

    # --- articles ----------------------------------------------------------------------------
    async def known_hashes(self, hashes: Sequence[str]) -> set[str]:
        known: set[str] = set()
        for chunk in _chunks(list(hashes)):
            marks = _placeholders(len(chunk))
            rows = await self._read(
                f"SELECT source_hash FROM articles WHERE source_hash IN ({marks})"
                f" UNION SELECT source_hash FROM coverage WHERE source_hash IN ({marks})",
                [*chunk, *chunk],
            )
            known.update(row[0] for row in rows)
        return known

    async def upsert_articles(
        self,
        articles: Sequence[Article],
        *,
        actor: str,
        approvals: Mapping[str, Approval] | None = None,
        merges: Mapping[str, Merge] | None = None,
    ) -> list[tuple[int, Outcome]]:
        results: list[tuple[int, Outcome]] = []
        now = self._now()
        async with self._transaction() as db:
            # Whole chunks go through executemany: each call is a round trip to aiosqlite's
            # thread, and per-row calls made ingest three times slower than parsing.
            for chunk in _chunks(articles):
                results.extend(
                    await self._upsert_chunk(db, chunk, actor, now, approvals or {}, merges or {})
                )
        return results

    async def _upsert_chunk(
        self,
        db: aiosqlite.Connection,
        chunk: Sequence[Article],
        actor: str,
        now: str,
        approvals: Mapping[str, Approval],
        merges: Mapping[str, Merge],
    ) -> list[tuple[int, Outcome]]:
        urls = list({a.url: None for a in chunk})
        async with db.execute(
            "SELECT url, id, status, source_hash FROM articles"
            f" WHERE url IN ({_placeholders(len(urls))})",
            urls,
        ) as cursor:
            existing = {row[0]: (row[1], row[2], row[3]) async for row in cursor}
        async with db.execute(
            "SELECT url, article_id, source_hash FROM coverage"
            f" WHERE url IN ({_placeholders(len(urls))})",
            urls,
        ) as cursor:
            covered = {row[0]: (row[1], row[2]) async for row in cursor}
        # The last file wins when one batch names the same URL twice.
        latest = {a.url: a for a in chunk}
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
        for article in chunk:
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
                "UPDATE coverage SET web_url = ?, title = ?, excerpt = ?, published_at = ?,"
                " category = ?, type = ?, provider_name = ?, provider_domain = ?, topics = ?,"
                " images = ?, quality = ?, heat = ?, source_published = ?, source = ?, body = ?,"
                " source_hash = ?, origin = ? WHERE url = ?",
                [(*_article_row(a), a.url) for a in coverage_updates],
            )
        return results

    async def _merge_many(
        self,
        db: aiosqlite.Connection,
        articles: Sequence[Article],
        merges: Mapping[str, Merge],
        actor: str,
        now: str,
    ) -> dict[str, int]:
        """Store articles as related coverage of their stories' items, each audited on the
        item; returns url -> item id of those merged. One refused because its outlet is in
        the story already (decided in an earlier batch, or by another process) is left out,
        to be stored as an item of its own."""
        joined: dict[str, int] = {}
        for article in articles:
            merge = merges[article.url]
            async with db.execute(
                "SELECT id, status, provider_name, provider_domain, web_url FROM articles"
                " WHERE url = ?",
                (merge.lead_url,),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                continue
            lead_id, status, name, domain, web_url = row
            async with db.execute(
                "SELECT outlet FROM coverage WHERE article_id = ?", (lead_id,)
            ) as cursor:
                outlets = {r[0] async for r in cursor}
            outlets.add(outlet_key(domain or "", web_url, name or ""))
            if merge.outlet in outlets:
                continue
            await db.execute(
                "INSERT INTO coverage (url, article_id, web_url, title, excerpt, published_at,"
                " category, type, provider_name, provider_domain, topics, images, quality, heat,"
                " source_published, source, body, source_hash, origin, outlet, score, merged_by,"
                " merged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?, ?)",
                (
                    article.url,
                    lead_id,
                    *_article_row(article),
                    merge.outlet,
                    merge.score,
                    actor,
                    now,
                ),
            )
            reason = (
                f"{article.web_url} ({merge.outlet}) joined as related coverage"
                f" (similarity {merge.score:.2f})"
            )
            await db.execute(
                _INSERT_AUDIT, (lead_id, "clustered", actor, status, status, reason, now)
            )
            joined[article.url] = lead_id
        return joined

    async def _insert_many(
        self,
        db: aiosqlite.Connection,
        articles: Sequence[Article],
        actor: str,
        now: str,
        approvals: Mapping[str, Approval],
        submitted_by: str | None = None,
    ) -> dict[str, int]:
        """Insert new articles with their related coverage and audit; returns url -> id."""
        if not articles:
            return {}
        statuses = [_initial_status(a, approvals.get(a.url)) for a in articles]
        await db.executemany(
            "INSERT INTO articles (url, web_url, title, excerpt, published_at, category, type,"
            " provider_name, provider_domain, topics, images, quality, heat, source_published,"
            " source, body, source_hash, origin, status, submitted_by, decided_by, decided_at,"
            " first_published_at, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    article.url,
                    *_article_row(article),
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
        urls = [a.url for a in articles]
        async with db.execute(
            f"SELECT url, id FROM articles WHERE url IN ({_placeholders(len(urls))})", urls
        ) as cursor:
            ids = {row[0]: row[1] async for row in cursor}
        related = [row for a in articles for row in _related_rows(ids[a.url], a)]
        if related:
            await db.executemany(_INSERT_RELATED, related)
        audit: list[tuple[Any, ...]] = []
        for article, status in zip(articles, statuses, strict=True):
            item_id = ids[article.url]
            audit.append(
                (
                    item_id,
                    "submitted" if submitted_by else "ingested",
                    submitted_by or actor,
                    None,
                    Status.PENDING.value,
                    None,
                    now,
                )
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
                audit.append(
                    (
                        item_id,
                        "published",
                        actor,
                        Status.PENDING.value,
                        status.value,
                        "published: true in the article file",
                        now,
                    )
                )
        await db.executemany(_INSERT_AUDIT, audit)
        return ids

    async def _update_many(
        self,
        db: aiosqlite.Connection,
        updates: Sequence[tuple[int, str, Article]],
        actor: str,
        now: str,
    ) -> None:
        await db.executemany(
            "UPDATE articles SET web_url = ?, title = ?, excerpt = ?, published_at = ?,"
            " category = ?, type = ?, provider_name = ?, provider_domain = ?, topics = ?,"
            " images = ?, quality = ?, heat = ?, source_published = ?, source = ?, body = ?,"
            " source_hash = ?, origin = ?, updated_at = ? WHERE id = ?",
            [(*_article_row(article), now, item_id) for item_id, _, article in updates],
        )
        await db.executemany(
            "DELETE FROM related WHERE article_id = ?", [(item_id,) for item_id, _, _ in updates]
        )
        related = [row for item_id, _, a in updates for row in _related_rows(item_id, a)]
        if related:
            await db.executemany(_INSERT_RELATED, related)
        audit: list[tuple[Any, ...]] = [
            (item_id, "updated", actor, status, status, None, now) for item_id, status, _ in updates
        ]
        published = [(item_id, status) for item_id, status, a in updates if a.published]
        if published:
            await db.executemany(
                "UPDATE articles SET status = 'published',"
                " first_published_at = coalesce(first_published_at, ?) WHERE id = ?",
                [(now, item_id) for item_id, _ in published],
            )
            audit.extend(
                (
                    item_id,
                    "published",
                    actor,
                    status,
                    Status.PUBLISHED.value,
                    "published: true in the article file",
                    now,
                )
                for item_id, status in published
            )
        await db.executemany(_INSERT_AUDIT, audit)

    async def submit(self, article: Article, *, submitted_by: str) -> tuple[QueueItem, bool]:
        async with self._transaction() as db:
            async with db.execute("SELECT id FROM articles WHERE url = ?", (article.url,)) as cur:
                row = await cur.fetchone()
            if row is None:
                ids = await self._insert_many(
                    db, [article], submitted_by, self._now(), {}, submitted_by=submitted_by
                )
                item_id, created = ids[article.url], True
            else:
                item_id, created = row[0], False
        return await self.get(item_id), created

    async def _related_for(self, ids: Sequence[int]) -> dict[int, list[Related]]:
        related: dict[int, list[Related]] = {i: [] for i in ids}
        for chunk in _chunks(list(ids)):
            rows = await self._read(
                "SELECT article_id, url, title, excerpt, provider_name, provider_domain,"
                " published_at, quality, image FROM related"
                f" WHERE article_id IN ({_placeholders(len(chunk))})"
                " ORDER BY article_id, position",
                chunk,
            )
            for (
                article_id,
                url,
                title,
                excerpt,
                provider_name,
                provider_domain,
                published_at,
                quality,
                image,
            ) in rows:
                related[article_id].append(
                    Related(
                        title=title,
                        url=url,
                        excerpt=excerpt,
                        provider=Provider(provider_name or "", provider_domain or "")
                        if provider_name or provider_domain
                        else None,
                        published_at=_dt(published_at),
                        quality=quality,
                        image=image,
                    )
                )
            # Then the coverage clustering found, in the order it joined.
            rows = await self._read(
                "SELECT article_id, web_url, title, excerpt, provider_name, provider_domain,"
                " published_at, quality, images FROM coverage"
                f" WHERE article_id IN ({_placeholders(len(chunk))})"
                " ORDER BY article_id, merged_at, rowid",
                chunk,
            )
            listed = {(i, canonical_url(r.url)) for i in chunk for r in related[i]}
            for (
                article_id,
                url,
                title,
                excerpt,
                name,
                domain,
                published_at,
                quality,
                images,
            ) in rows:
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
            return [_item(row) for row in rows]
        related = await self._related_for([row[0] for row in rows])
        return [_item(row, tuple(related[row[0]])) for row in rows]

    async def get(self, article_id: int, *, with_related: bool = True) -> QueueItem:
        rows = await self._read(
            f"SELECT {_ITEM_COLUMNS} FROM articles WHERE id = ?",
            (article_id,),
        )
        if not rows:
            raise NotFound("item", article_id)
        return (await self._items(rows, with_related))[0]

    @staticmethod
    def _where(query: QueueQuery) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if query.statuses:
            clauses.append(f"status IN ({_placeholders(len(query.statuses))})")
            params.extend(s.value for s in query.statuses)
        if query.topic:
            clauses.append(
                "EXISTS (SELECT 1 FROM json_each(articles.topics) WHERE lower(value) = lower(?))"
            )
            params.append(query.topic)
        if query.search:
            digits = query.search.strip().lstrip("#")
            if digits.isdigit():
                clauses.append("(id = ? OR title LIKE ? ESCAPE '\\')")
                params.append(int(digits))
            else:
                clauses.append("title LIKE ? ESCAPE '\\'")
            escaped = query.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.append(f"%{escaped}%")
        if query.after is not None:
            clauses.append("id > ?")
            params.append(query.after)
        if query.before is not None:
            clauses.append("id < ?")
            params.append(query.before)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    async def list_items(self, query: QueueQuery) -> list[QueueItem]:
        where, params = self._where(query)
        # Just below ``before``: walk down from it, then hand the page out in id order.
        descending = query.before is not None
        sql = f"SELECT {_ITEM_COLUMNS} FROM articles{where} ORDER BY id"
        sql += " DESC" if descending else ""
        if query.limit is not None:
            sql += " LIMIT ?"
            params.append(query.limit)
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
        # Kept by triggers (migration 3): four rows, however long the queue.
        rows = await self._read("SELECT status, items FROM status_counts")
        counts = dict.fromkeys(Status, 0)
        counts.update({Status(status): count for status, count in rows})
        return counts

    # --- clustering --------------------------------------------------------------------------
    async def story_leads(
        self, since: datetime, *, loaded_since: datetime | None = None, after_id: int = 0
    ) -> list[StoryLead]:
        when = "coalesce(published_at, created_at)"
        sql = f"SELECT {_ITEM_COLUMNS} FROM articles WHERE {when} >= ?"
        params: list[Any] = [_ts(since)]
        if loaded_since is not None:
            sql += f" AND ({when} < ? OR id > ?)"
            params += [_ts(loaded_since), after_id]
        rows = await self._read(sql + " ORDER BY id", params)
        outlets: dict[int, list[str]] = {}
        for chunk in _chunks([row[0] for row in rows]):
            for article_id, outlet in await self._read(
                f"SELECT article_id, outlet FROM coverage WHERE article_id IN"
                f" ({_placeholders(len(chunk))})",
                chunk,
            ):
                outlets.setdefault(article_id, []).append(outlet)
        leads = []
        for row in rows:
            item = _item(row)
            at = item.article.published_at or item.created_at
            leads.append(StoryLead(item.id, item.article, at, tuple(outlets.get(item.id, ()))))
        return leads

    async def split(self, article_id: int, url: str, *, actor: str) -> QueueItem:
        now = self._now()
        async with self._transaction() as db:
            async with db.execute(
                "SELECT status FROM articles WHERE id = ?", (article_id,)
            ) as cursor:
                lead = await cursor.fetchone()
            if lead is None:
                raise NotFound("item", article_id)
            columns = (
                "url, web_url, title, excerpt, published_at, category, type, provider_name,"
                " provider_domain, topics, images, quality, heat, source_published, source, body,"
                " source_hash, origin"
            )
            cursor = await db.execute(
                f"INSERT INTO articles ({columns}, status, created_at, updated_at)"
                f" SELECT {columns}, 'pending', ?, ? FROM coverage"
                " WHERE url = ? AND article_id = ?",
                (now, now, url, article_id),
            )
            new_id = cursor.lastrowid if cursor.rowcount > 0 else None
            await cursor.close()
            if new_id is None:
                raise NotFound("related coverage", f"{url} of item {article_id}")
            async with db.execute("SELECT web_url FROM coverage WHERE url = ?", (url,)) as cursor:
                [(web_url,)] = [tuple(r) async for r in cursor]
            await db.execute("DELETE FROM coverage WHERE url = ?", (url,))
            status = lead[0]
            await db.executemany(
                _INSERT_AUDIT,
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

    # --- moderation --------------------------------------------------------------------------
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
            async with db.execute("SELECT status FROM articles WHERE id = ?", (article_id,)) as c:
                row = await c.fetchone()
            if row is None:
                raise NotFound("item", article_id)
            current = Status(row[0])
            if current not in allowed_from:
                raise InvalidTransition(article_id, current.value, to.value)
            await db.execute(
                "UPDATE articles SET status = ?, reason = ?, decided_by = ?, decided_at = ?,"
                " updated_at = ? WHERE id = ?",
                (to.value, reason, actor, now, now, article_id),
            )
            await db.execute(
                _INSERT_AUDIT, (article_id, to.value, actor, current.value, to.value, reason, now)
            )
        return await self.get(article_id)

    async def transition_all(
        self, from_status: Status, to: Status, *, actor: str, reason: str | None = None
    ) -> list[int]:
        now = self._now()
        async with self._transaction() as db:
            async with db.execute(
                "SELECT id FROM articles WHERE status = ? ORDER BY id", (from_status.value,)
            ) as cursor:
                ids = [row[0] async for row in cursor]
            await db.execute(
                "UPDATE articles SET status = ?, reason = ?, decided_by = ?, decided_at = ?,"
                " updated_at = ? WHERE status = ?",
                (to.value, reason, actor, now, now, from_status.value),
            )
            await db.executemany(
                _INSERT_AUDIT,
                [(i, to.value, actor, from_status.value, to.value, reason, now) for i in ids],
            )
        return ids

    async def audit(self, article_id: int) -> list[AuditEntry]:
        rows = await self._read(
            "SELECT id, article_id, action, actor, at, from_status, to_status, reason"
            " FROM audit_log WHERE article_id = ? ORDER BY id",
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

    # --- digests -----------------------------------------------------------------------------
    async def select_for_digest(self, selection: Selection) -> list[QueueItem]:
        # Items already published elsewhere are still news here while they are recent; items
        # that arrived as ``published: true`` never are. Without a channel (a default preview)
        # nothing was delivered to it, so only approved items count.
        if selection.channel is not None and selection.republish_after is not None:
            clauses = [
                "(status = 'approved' OR (status = 'published' AND source_published = 0"
                " AND first_published_at >= ?))"
            ]
            params: list[Any] = [_ts(selection.republish_after)]
        else:
            clauses, params = ["status = 'approved'"], []
        clauses.append("retracted_at IS NULL")  # a retracted item never appears again
        if selection.channel is not None:
            # Items go to each channel once.
            clauses.append(
                "NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.article_id = articles.id"
                " AND d.channel_id = ?)"
            )
            params.append(selection.channel)
            # Nor is an item offered twice while an unfinished digest already carries it.
            clauses.append(
                "NOT EXISTS (SELECT 1 FROM digest_items i JOIN digests g ON g.id = i.digest_id"
                " WHERE i.article_id = articles.id AND g.channel_id = ? AND g.status = 'pending')"
            )
            params.append(selection.channel)
        if selection.topics:
            clauses.append(
                "EXISTS (SELECT 1 FROM json_each(articles.topics) WHERE lower(value) IN"
                f" ({_placeholders(len(selection.topics))}))"
            )
            params.extend(t.lower() for t in selection.topics)
        if selection.min_quality is not None:
            clauses.append("quality >= ?")
            params.append(selection.min_quality)
        if selection.providers:
            marks = _placeholders(len(selection.providers))
            clauses.append(
                f"(lower(provider_name) IN ({marks}) OR lower(provider_domain) IN ({marks}))"
            )
            params.extend(selection.providers)
            params.extend(selection.providers)
        if selection.published_after is not None:
            clauses.append("(published_at IS NULL OR published_at >= ?)")
            params.append(_ts(selection.published_after))
        if selection.only is not None:
            clauses.append(
                f"id IN ({_placeholders(len(selection.only))})" if selection.only else "0"
            )
            params.extend(selection.only)
        order = ", ".join(_ORDER_SQL[key] for key in selection.order if key in _ORDER_SQL)
        sql = (
            f"SELECT {_ITEM_COLUMNS} FROM articles WHERE {' AND '.join(clauses)}"
            f" ORDER BY {order + ', ' if order else ''}id LIMIT ?"
        )
        params.append(selection.limit)
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
            async with db.execute("SELECT id FROM digests WHERE key = ?", (key,)) as cursor:
                row = await cursor.fetchone()
            if row is not None:
                digest_id, created = int(row[0]), False
            else:
                cursor = await db.execute(
                    "INSERT INTO digests (channel_id, key, trigger, status, created_at,"
                    " thread_name) VALUES (?, ?, ?, ?, ?, ?)",
                    (channel_id, key, trigger, DigestStatus.PENDING, now, thread_name),
                )
                digest_id, created = int(cursor.lastrowid or 0), True
                await cursor.close()
                await db.executemany(
                    "INSERT INTO digest_messages (digest_id, position, payload, nonce)"
                    " VALUES (?, ?, ?, ?)",
                    [
                        (digest_id, position, _json(payload), nonce)
                        for position, (payload, nonce, _) in enumerate(messages)
                    ],
                )
                item_rows = []
                order = 0
                for position, (_, _, item_ids) in enumerate(messages):
                    for item_id in item_ids:
                        item_rows.append((digest_id, item_id, order, position))
                        order += 1
                await db.executemany(
                    "INSERT INTO digest_items (digest_id, article_id, position, message_position)"
                    " VALUES (?, ?, ?, ?)",
                    item_rows,
                )
            if scheduled_for is not None:
                await db.execute(
                    "UPDATE schedule_runs SET digest_id = ?"
                    " WHERE channel_id = ? AND scheduled_for = ?",
                    (digest_id, channel_id, _ts(scheduled_for)),
                )
            # Read back on the writer: the reader may still be on a snapshot from before.
            digest = await self._get_digest(digest_id, via=db)
        return digest, created

    async def _get_digest(
        self, digest_id: int, via: aiosqlite.Connection | None = None
    ) -> DigestRecord:
        rows = await self._read(
            _DIGEST_COLUMNS + " FROM digests WHERE id = ?",
            (digest_id,),
            via,
        )
        if not rows:
            raise NotFound("digest", digest_id)
        return (await self._digests(rows, via))[0]

    async def _digests(
        self, rows: list[tuple[Any, ...]], via: aiosqlite.Connection | None = None
    ) -> list[DigestRecord]:
        digests = []
        for row in rows:
            digest_id, channel_id, key, status, created_at, trigger, error, thread_id, tried = row[
                :9
            ]
            items: dict[int, list[int]] = {}
            for article_id, message_position in await self._read(
                "SELECT article_id, message_position FROM digest_items WHERE digest_id = ?"
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
                    " WHERE digest_id = ? ORDER BY position",
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
                _DIGEST_COLUMNS + " FROM digests WHERE status = ? ORDER BY id",
                (DigestStatus.PENDING,),
            )
        else:
            rows = await self._read(
                _DIGEST_COLUMNS + " FROM digests WHERE status = ? AND channel_id = ? ORDER BY id",
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
        when = _ts(at)
        async with self._transaction() as db:
            if lease is not None:
                async with db.execute(
                    "SELECT g.channel_id, l.token FROM digests g"
                    " LEFT JOIN channel_leases l ON l.channel_id = g.channel_id WHERE g.id = ?",
                    (digest_id,),
                ) as cursor:
                    row = await cursor.fetchone()
                if row is not None and row[1] != lease:
                    raise LeaseLost(int(row[0]))
            await db.execute(
                "UPDATE digest_messages SET message_id = ?, sent_at = ?"
                " WHERE digest_id = ? AND position = ? AND message_id IS NULL",
                (message_id, when, digest_id, position),
            )
            if crosspost_in is not None:
                await db.execute(
                    "INSERT OR IGNORE INTO crossposts (message_id, channel_id, queued_at)"
                    " VALUES (?, ?, ?)",
                    (message_id, crosspost_in, when),
                )
            async with db.execute(
                "SELECT i.article_id, g.channel_id FROM digest_items i"
                " JOIN digests g ON g.id = i.digest_id"
                " WHERE i.digest_id = ? AND i.message_position = ?",
                (digest_id, position),
            ) as cursor:
                rows = [tuple(row) async for row in cursor]
            await db.executemany(
                "INSERT OR IGNORE INTO deliveries"
                " (article_id, channel_id, message_id, digest_id, delivered_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (article_id, channel, message_id, digest_id, when)
                    for article_id, channel in rows
                ],
            )
            ids = [row[0] for row in rows]
            for chunk in _chunks(ids):
                marks = _placeholders(len(chunk))
                await db.execute(
                    "INSERT INTO audit_log (article_id, action, actor, from_status, to_status,"
                    " reason, at) SELECT id, 'published', 'publisher', status, 'published', ?, ?"
                    f" FROM articles WHERE id IN ({marks}) AND status = 'approved'",
                    (f"digest {digest_id} message {message_id}", when, *chunk),
                )
                await db.execute(
                    "UPDATE articles SET status = 'published',"
                    " first_published_at = coalesce(first_published_at, ?), updated_at = ?"
                    f" WHERE id IN ({marks}) AND status = 'approved'",
                    (when, when, *chunk),
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
        got: dict[int, int] = {}
        async with self._transaction() as db:
            for channel_id in channel_ids:
                async with db.execute(
                    "SELECT owner, token, expires_at FROM channel_leases WHERE channel_id = ?",
                    (channel_id,),
                ) as cursor:
                    row = await cursor.fetchone()
                if row is None:
                    await db.execute(
                        "INSERT INTO channel_leases (channel_id, owner, token, expires_at)"
                        " VALUES (?, ?, 1, ?)",
                        (channel_id, owner, _ts(until)),
                    )
                    got[channel_id] = 1
                    continue
                held_by, token, expires_at = row[0], int(row[1]), _at(row[2])
                if held_by == owner and expires_at > now:
                    pass  # still ours: the same token, held longer
                elif held_by == from_owner or expires_at <= now:
                    token += 1
                else:
                    continue
                await db.execute(
                    "UPDATE channel_leases SET owner = ?, token = ?, expires_at = ?"
                    " WHERE channel_id = ?",
                    (owner, token, _ts(until), channel_id),
                )
                got[channel_id] = token
        return got

    async def lease_holder(self, channel_id: int, now: datetime) -> str | None:
        rows = await self._read(
            "SELECT owner, expires_at FROM channel_leases WHERE channel_id = ?", (channel_id,)
        )
        return rows[0][0] if rows and _at(rows[0][1]) > now else None

    async def renew_lease(self, channel_id: int, token: int, until: datetime) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE channel_leases SET expires_at = ? WHERE channel_id = ? AND token = ?",
                (_ts(until), channel_id, token),
            )
            return cursor.rowcount > 0

    async def release_leases(self, tokens: Mapping[int, int], now: datetime) -> None:
        async with self._transaction() as db:
            await db.executemany(
                "UPDATE channel_leases SET expires_at = ? WHERE channel_id = ? AND token = ?",
                [(_ts(now), channel_id, token) for channel_id, token in tokens.items()],
            )

    # --- processes and duties --------------------------------------------------------------
    async def heartbeat(
        self, owner: str, role: str, now: datetime, stale_before: datetime, *, paced_for: int = 0
    ) -> list[ProcessRecord]:
        async with self._transaction() as db:
            await db.execute("DELETE FROM processes WHERE seen_at < ?", (_ts(stale_before),))
            await db.execute(
                "INSERT INTO processes (owner, role, started_at, seen_at, paced_for)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (owner) DO UPDATE SET"
                " seen_at = excluded.seen_at, paced_for = excluded.paced_for",
                (owner, role, _ts(now), _ts(now), paced_for),
            )
            rows = await self._read(
                "SELECT owner, role, started_at, seen_at, paced_for FROM processes"
                " ORDER BY started_at",
                via=db,
            )
        return [ProcessRecord(r[0], r[1], _at(r[2]), _at(r[3]), r[4]) for r in rows]

    async def leave(self, owner: str) -> None:
        async with self._transaction() as db:
            await db.execute("DELETE FROM processes WHERE owner = ?", (owner,))

    async def live_processes(self, stale_before: datetime) -> list[ProcessRecord]:
        rows = await self._read(
            "SELECT owner, role, started_at, seen_at, paced_for FROM processes WHERE seen_at >= ?"
            " ORDER BY started_at",
            (_ts(stale_before),),
        )
        return [ProcessRecord(r[0], r[1], _at(r[2]), _at(r[3]), r[4]) for r in rows]

    async def duty_holders(self, now: datetime) -> dict[str, str]:
        rows = await self._read(
            "SELECT name, owner FROM duties WHERE expires_at > ? ORDER BY name", (_ts(now),)
        )
        return {r[0]: r[1] for r in rows}

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
            cursor = await db.execute(
                "INSERT INTO duties (name, owner, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                " expires_at = excluded.expires_at"
                " WHERE duties.owner IN (excluded.owner, ?) OR duties.expires_at <= ?",
                (name, owner, _ts(until), from_owner, _ts(now)),
            )
            return cursor.rowcount > 0

    async def duty_holder(self, name: str, now: datetime) -> str | None:
        rows = await self._read(
            "SELECT owner FROM duties WHERE name = ? AND expires_at > ?", (name, _ts(now))
        )
        return rows[0][0] if rows else None

    async def release_duty(self, name: str, owner: str) -> None:
        async with self._transaction() as db:
            await db.execute("DELETE FROM duties WHERE name = ? AND owner = ?", (name, owner))

    async def record_thread(self, digest_id: int, thread_id: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE digests SET thread_id = ? WHERE id = ? AND thread_id IS NULL",
                (thread_id, digest_id),
            )

    async def waiting_crossposts(self, limit: int) -> list[WaitingCrosspost]:
        rows = await self._read(
            "SELECT channel_id, message_id, queued_at FROM crossposts WHERE done_at IS NULL"
            " ORDER BY queued_at, message_id LIMIT ?",
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
                "UPDATE crossposts SET done_at = ?, outcome = ? WHERE message_id = ?",
                (_ts(at), outcome, message_id),
            )

    async def record_post_intent(self, digest_id: int, at: datetime) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE digests SET post_started_at = ? WHERE id = ? AND post_started_at IS NULL",
                (_ts(at), digest_id),
            )

    async def finish_digest(
        self, digest_id: int, status: DigestStatus, error: str | None = None
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE digests SET status = ?, error = ?, finished_at = ? WHERE id = ?",
                (status, error, self._now(), digest_id),
            )

    # --- corrections and retractions ---------------------------------------------------------
    async def _queue_edits(
        self, db: aiosqlite.Connection, article_ids: Sequence[int], why: EditWhy, now: str
    ) -> None:
        """Queue every message carrying one of the items for rendering again (inside the
        caller's transaction), and note the correction on the items that were published. A
        message queued already joins its row; a retraction stays a retraction. A part of an
        unfinished digest is queued too: it goes out as it was written, then is edited."""
        for chunk in _chunks(list(dict.fromkeys(article_ids))):
            marks = _placeholders(len(chunk))
            await db.execute(
                "INSERT INTO edits (digest_id, position, why, queued_at)"
                " SELECT DISTINCT i.digest_id, i.message_position, ?, ? FROM digest_items i"
                " JOIN digest_messages m"
                " ON m.digest_id = i.digest_id AND m.position = i.message_position"
                f" WHERE i.article_id IN ({marks})"
                " ON CONFLICT (digest_id, position) DO UPDATE SET"
                " why = CASE WHEN edits.done_at IS NULL AND edits.why = 'retraction'"
                " THEN 'retraction' ELSE excluded.why END,"
                " queued_at = excluded.queued_at, done_at = NULL, outcome = NULL",
                (why.value, now, *chunk),
            )
            if why is EditWhy.CORRECTION:
                await db.execute(
                    f"UPDATE articles SET corrected_at = ? WHERE id IN ({marks})"
                    " AND EXISTS (SELECT 1 FROM deliveries d WHERE d.article_id = articles.id)",
                    (now, *chunk),
                )

    async def retract(self, article_id: int, reason: str, *, actor: str) -> QueueItem:
        now = self._now()
        async with self._transaction() as db:
            async with db.execute(
                "SELECT status, retracted_at FROM articles WHERE id = ?", (article_id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise NotFound("item", article_id)
            status, retracted = row
            if retracted is not None:
                raise InvalidTransition(article_id, "retracted", "retracted")
            await db.execute(
                "UPDATE articles SET retracted_at = ?, retraction_reason = ?, updated_at = ?"
                " WHERE id = ?",
                (now, reason, now, article_id),
            )
            await db.execute(
                _INSERT_AUDIT, (article_id, "retracted", actor, status, status, reason, now)
            )
            await self._queue_edits(db, [article_id], EditWhy.RETRACTION, now)
        return await self.get(article_id)

    async def edit_item(
        self, article_id: int, *, title: str | None, excerpt: str | None, actor: str
    ) -> QueueItem:
        now = self._now()
        async with self._transaction() as db:
            async with db.execute(
                "SELECT status, title, excerpt FROM articles WHERE id = ?", (article_id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise NotFound("item", article_id)
            status, old_title, old_excerpt = row
            title = old_title if title is None else title
            excerpt = old_excerpt if excerpt is None else excerpt
            if (title, excerpt) != (old_title, old_excerpt):
                await db.execute(
                    "UPDATE articles SET title = ?, excerpt = ?, updated_at = ? WHERE id = ?",
                    (title, excerpt, now, article_id),
                )
                await db.execute(
                    _INSERT_AUDIT, (article_id, "edited", actor, status, status, None, now)
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
            " ORDER BY e.blocked_code IS NOT NULL, e.queued_at, e.digest_id, e.position LIMIT ?",
            (limit,),
        )
        layouts: dict[int, tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]] = {}
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

    async def _layout(self, digest_id: int) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
        """A digest's items in order, and the items of each of its messages."""
        [(count,)] = await self._read(
            "SELECT count(*) FROM digest_messages WHERE digest_id = ?", (digest_id,)
        )
        rows = await self._read(
            "SELECT article_id, message_position FROM digest_items WHERE digest_id = ?"
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
                "UPDATE edits SET payload = ?, attempted_at = ?"
                " WHERE digest_id = ? AND position = ? AND done_at IS NULL",
                (_json(payload), _ts(at), digest_id, position),
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
                    "UPDATE digest_messages SET payload = ? WHERE digest_id = ? AND position = ?",
                    (_json(payload), digest_id, position),
                )
            cursor = await db.execute(
                "UPDATE edits SET done_at = ?, outcome = ?, blocked_code = NULL"
                " WHERE digest_id = ? AND position = ? AND queued_at = ? AND done_at IS NULL",
                (_ts(at), outcome.value, digest_id, position, _ts(queued_at)),
            )
            return cursor.rowcount > 0

    async def block_edit(self, digest_id: int, position: int, code: int | None) -> bool:
        async with self._transaction() as db:
            async with db.execute(
                "SELECT reported FROM edits WHERE digest_id = ? AND position = ?",
                (digest_id, position),
            ) as cursor:
                row = await cursor.fetchone()
            await db.execute(
                "UPDATE edits SET blocked_code = ?, reported = 1"
                " WHERE digest_id = ? AND position = ?",
                (code or 0, digest_id, position),
            )
        return row is not None and not row[0]

    async def unblock_edits(self) -> int:
        # Read first: at every start and hourly, and almost always there is nothing held, so
        # no write lock is taken for it.
        [(held,)] = await self._read(
            "SELECT count(*) FROM edits WHERE done_at IS NULL AND blocked_code IS NOT NULL"
        )
        if not held:
            return 0
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE edits SET blocked_code = NULL"
                " WHERE done_at IS NULL AND blocked_code IS NOT NULL"
            )
            return cursor.rowcount

    async def deliveries_of(self, article_ids: Sequence[int]) -> dict[int, list[Delivery]]:
        found: dict[int, list[Delivery]] = {i: [] for i in article_ids}
        for chunk in _chunks(list(found)):
            rows = await self._read(
                "SELECT article_id, channel_id, message_id, digest_id, delivered_at"
                f" FROM deliveries WHERE article_id IN ({_placeholders(len(chunk))})"
                " ORDER BY delivered_at, channel_id",
                chunk,
            )
            for r in rows:
                found[r[0]].append(Delivery(r[0], r[1], r[2], r[3], _at(r[4])))
        return found

    async def deliveries(self, article_id: int) -> list[Delivery]:
        rows = await self._read(
            "SELECT article_id, channel_id, message_id, digest_id, delivered_at FROM deliveries"
            " WHERE article_id = ? ORDER BY delivered_at, channel_id",
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

    _SUMMARY = (
        "SELECT g.id, g.channel_id, g.status, g.created_at, g.error,"
        " (SELECT count(*) FROM digest_items i WHERE i.digest_id = g.id),"
        " (SELECT m.message_id FROM digest_messages m WHERE m.digest_id = g.id"
        " AND m.message_id IS NOT NULL ORDER BY m.position LIMIT 1)"
        " FROM digests g"
    )

    @staticmethod
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

    async def last_digest(self, channel_id: int) -> DigestSummary | None:
        rows = await self._read(
            self._SUMMARY + " WHERE g.channel_id = ? AND EXISTS (SELECT 1 FROM digest_messages"
            " m WHERE m.digest_id = g.id AND m.message_id IS NOT NULL) ORDER BY g.id DESC"
            " LIMIT 1",
            (channel_id,),
        )
        return self._summary(rows[0]) if rows else None

    async def failed_digests(self, limit: int) -> list[DigestSummary]:
        rows = await self._read(
            self._SUMMARY + " WHERE g.status = ? ORDER BY g.id DESC LIMIT ?",
            (DigestStatus.FAILED, limit),
        )
        return [self._summary(row) for row in rows]

    # --- the review deck and trusted outlets -------------------------------------------------
    async def next_pending(
        self, *, after: int, topic: str | None = None, origins: tuple[str, ...] | None = None
    ) -> QueueItem | None:
        if origins is not None:
            # Items a feed brought (``origin``, migration 7): one seek on (origin, status, id).
            marks = _placeholders(len(origins)) if origins else "NULL"
            if topic is None:
                sql = (
                    f"SELECT {_ITEM_COLUMNS} FROM articles WHERE origin IN ({marks})"
                    " AND status = 'pending' AND id > ? ORDER BY id LIMIT 1"
                )
                params: tuple[Any, ...] = (*origins, after)
            else:
                sql = (
                    f"SELECT {_ITEM_COLUMNS} FROM articles WHERE id = (SELECT t.article_id FROM"
                    " article_topics t JOIN articles a ON a.id = t.article_id"
                    " WHERE t.topic = lower(?) AND t.status = 'pending' AND t.article_id > ?"
                    f" AND a.origin IN ({marks}) ORDER BY t.article_id LIMIT 1)"
                )
                params = (topic, after, *origins)
            items = await self._items(await self._read(sql, params), with_related=True)
            return items[0] if items else None
        if topic is None:
            rows = await self._read(
                f"SELECT {_ITEM_COLUMNS} FROM articles WHERE status = 'pending' AND id > ?"
                " ORDER BY id LIMIT 1",
                (after,),
            )
        else:
            # article_topics (migration 5) holds (topic, state, id): one seek, then one row.
            rows = await self._read(
                f"SELECT {_ITEM_COLUMNS} FROM articles WHERE id = (SELECT article_id FROM"
                " article_topics WHERE topic = lower(?) AND status = 'pending'"
                " AND article_id > ? ORDER BY article_id LIMIT 1)",
                (topic, after),
            )
        items = await self._items(rows, with_related=True)
        return items[0] if items else None

    async def count_pending(
        self, *, topic: str | None = None, origins: tuple[str, ...] | None = None, limit: int
    ) -> int:
        if origins is not None:
            marks = _placeholders(len(origins)) if origins else "NULL"
            where = f"a.origin IN ({marks}) AND a.status = 'pending'"
            params: list[Any] = list(origins)
            if topic is not None:
                where += (
                    " AND EXISTS (SELECT 1 FROM article_topics t WHERE t.article_id = a.id"
                    " AND t.topic = lower(?))"
                )
                params.append(topic)
            rows = await self._read(
                f"SELECT count(*) FROM (SELECT 1 FROM articles a WHERE {where} LIMIT ?)",
                (*params, limit),
            )
            return int(rows[0][0])
        if topic is None:
            return min((await self.count_by_status())[Status.PENDING], limit)
        rows = await self._read(
            "SELECT count(*) FROM (SELECT 1 FROM article_topics WHERE topic = lower(?)"
            " AND status = 'pending' LIMIT ?)",
            (topic, limit),
        )
        return int(rows[0][0])

    async def trust_provider(self, provider: str, *, actor: str) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute(
                "INSERT OR IGNORE INTO trusted_providers (provider, added_by, added_at)"
                " VALUES (?, ?, ?)",
                (provider.lower(), actor, self._now()),
            )
            added = cursor.rowcount > 0
            await cursor.close()
        return added

    async def trusted_providers(self) -> tuple[str, ...]:
        rows = await self._read("SELECT provider FROM trusted_providers ORDER BY provider")
        return tuple(row[0] for row in rows)

    # --- review channel ----------------------------------------------------------------------
    async def unreviewed_pending(self, limit: int) -> list[QueueItem]:
        # Highest quality first on (status, quality DESC, id): NULLs sort last in DESC.
        rows = await self._read(
            f"SELECT {_ITEM_COLUMNS} FROM articles WHERE status = 'pending' AND NOT EXISTS"
            " (SELECT 1 FROM review_posts r WHERE r.article_id = articles.id)"
            " ORDER BY quality DESC, id LIMIT ?",
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
            "SELECT posted_at FROM review_posts WHERE posted_at > ? ORDER BY posted_at",
            (_ts(since),),
        )
        return [_at(row[0]) for row in rows]

    async def bot_message(self, name: str) -> BotMessage | None:
        rows = await self._read(
            "SELECT name, channel_id, message_id FROM bot_messages WHERE name = ?", (name,)
        )
        return BotMessage(*rows[0]) if rows else None

    async def set_bot_message(self, name: str, channel_id: int, message_id: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO bot_messages (name, channel_id, message_id) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET channel_id = excluded.channel_id,"
                " message_id = excluded.message_id",
                (name, channel_id, message_id),
            )

    async def record_review_post(self, article_id: int, channel_id: int, message_id: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT OR REPLACE INTO review_posts (article_id, channel_id, message_id,"
                " posted_at) VALUES (?, ?, ?, ?)",
                (article_id, channel_id, message_id, self._now()),
            )

    async def review_post(self, article_id: int) -> ReviewPost | None:
        rows = await self._read(
            "SELECT article_id, channel_id, message_id FROM review_posts WHERE article_id = ?",
            (article_id,),
        )
        return ReviewPost(*rows[0]) if rows else None

    # --- schedules ---------------------------------------------------------------------------
    async def schedules(self) -> list[StoredSchedule]:
        rows = await self._read(
            "SELECT channel_id, cron, timezone, updated_by, updated_at FROM schedules"
            " ORDER BY channel_id"
        )
        return [
            StoredSchedule(
                channel_id=r[0],
                cron=r[1],
                timezone=r[2],
                updated_by=r[3],
                updated_at=_at(r[4]),
            )
            for r in rows
        ]

    async def set_schedule(
        self, channel_id: int, cron: str | None, timezone: str, *, actor: str
    ) -> StoredSchedule:
        now = self._clock.now()
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO schedules (channel_id, cron, timezone, updated_by, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET"
                " cron = excluded.cron, timezone = excluded.timezone,"
                " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                (channel_id, cron, timezone, actor, _ts(now)),
            )
        return StoredSchedule(channel_id, cron, timezone, actor, now)

    async def clear_schedule(self, channel_id: int) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute("DELETE FROM schedules WHERE channel_id = ?", (channel_id,))
            removed = cursor.rowcount > 0
            await cursor.close()
        return removed

    async def last_scheduled_run(self, channel_id: int) -> datetime | None:
        rows = await self._read(
            "SELECT max(scheduled_for) FROM schedule_runs WHERE channel_id = ?", (channel_id,)
        )
        return _dt(rows[0][0]) if rows and rows[0][0] else None

    async def claim_scheduled_run(
        self, channel_id: int, scheduled_for: datetime, owner: str | None = None
    ) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute(
                "INSERT OR IGNORE INTO schedule_runs"
                " (channel_id, scheduled_for, outcome, ran_at, claimed_by) VALUES (?, ?, ?, ?, ?)",
                (channel_id, _ts(scheduled_for), RunOutcome.RUNNING, self._now(), owner),
            )
            claimed = cursor.rowcount > 0
            await cursor.close()
        return claimed

    async def orphaned_runs(self) -> list[ClaimedRun]:
        rows = await self._read(
            "SELECT channel_id, scheduled_for, claimed_by FROM schedule_runs"
            " WHERE outcome = ? AND digest_id IS NULL ORDER BY scheduled_for",
            (RunOutcome.RUNNING,),
        )
        return [ClaimedRun(int(c), datetime.fromisoformat(when), by) for c, when, by in rows]

    async def finish_scheduled_run(
        self, channel_id: int, scheduled_for: datetime, outcome: RunOutcome, digest_id: int | None
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE schedule_runs SET outcome = ?, digest_id = coalesce(?, digest_id),"
                " ran_at = ? WHERE channel_id = ? AND scheduled_for = ?",
                (outcome, digest_id, self._now(), channel_id, _ts(scheduled_for)),
            )

    # --- drafts ------------------------------------------------------------------------------
    async def create_draft(
        self, channel_id: int, scheduled_for: datetime, item_ids: Sequence[int]
    ) -> tuple[DraftRecord, bool]:
        now = self._now()
        async with self._transaction() as db:
            cursor = await db.execute(
                "INSERT OR IGNORE INTO drafts (channel_id, scheduled_for, state, item_ids,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    channel_id,
                    _ts(scheduled_for),
                    DraftState.WAITING,
                    _json(list(item_ids)),
                    now,
                    now,
                ),
            )
            created = cursor.rowcount > 0
            await cursor.close()
            rows = await self._read(
                f"SELECT {_DRAFT_COLUMNS} FROM drafts WHERE channel_id = ? AND scheduled_for = ?",
                (channel_id, _ts(scheduled_for)),
                via=db,
            )
        return _draft(rows[0]), created

    async def draft_for(self, channel_id: int, scheduled_for: datetime) -> DraftRecord | None:
        rows = await self._read(
            f"SELECT {_DRAFT_COLUMNS} FROM drafts WHERE channel_id = ? AND scheduled_for = ?",
            (channel_id, _ts(scheduled_for)),
        )
        return _draft(rows[0]) if rows else None

    async def open_drafts(self, channel_id: int, until: datetime) -> list[DraftRecord]:
        rows = await self._read(
            f"SELECT {_DRAFT_COLUMNS} FROM drafts WHERE channel_id = ? AND state IN (?, ?)"
            " AND scheduled_for <= ? ORDER BY scheduled_for",
            (channel_id, DraftState.WAITING, DraftState.APPROVED, _ts(until)),
        )
        return [_draft(row) for row in rows]

    async def get_draft(self, draft_id: int) -> DraftRecord | None:
        rows = await self._read(f"SELECT {_DRAFT_COLUMNS} FROM drafts WHERE id = ?", (draft_id,))
        return _draft(rows[0]) if rows else None

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
        sets = ["version = version + 1", "updated_at = ?"]
        params: list[Any] = [self._now()]
        if state is not None:
            sets.append("state = ?")
            params.append(state)
        if item_ids is not None:
            sets.append("item_ids = ?")
            params.append(_json(list(item_ids)))
        if dropped is not None:
            sets.append("dropped = ?")
            params.append(_json(sorted(dropped)))
        if actor is not None:
            sets.append("decided_by = ?")
            params.append(actor)
        async with self._transaction() as db:
            cursor = await db.execute(
                f"UPDATE drafts SET {', '.join(sets)} WHERE id = ? AND version = ?",
                (*params, draft_id, version),
            )
            changed = cursor.rowcount > 0
            await cursor.close()
            rows = await self._read(
                f"SELECT {_DRAFT_COLUMNS} FROM drafts WHERE id = ?", (draft_id,), via=db
            )
        return _draft(rows[0]) if changed and rows else None

    async def set_draft_control(self, draft_id: int, message_id: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE drafts SET control_message_id = ? WHERE id = ?", (message_id, draft_id)
            )

    # --- feeds -------------------------------------------------------------------------------
    async def add_feed(self, url: str, topics: Sequence[str], *, actor: str) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute(
                "INSERT OR IGNORE INTO feeds (url, topics, added_by, added_at) VALUES (?, ?, ?, ?)",
                (url, _json(list(topics)), actor, self._now()),
            )
            added = cursor.rowcount > 0
            await cursor.close()
        return added

    async def remove_feed(self, url: str) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute("DELETE FROM feeds WHERE url = ?", (url,))
            removed = cursor.rowcount > 0
            await cursor.close()
            # Its state goes too; its guids stay, so a feed added again keeps its articles'
            # identities.
            await db.execute("DELETE FROM feed_state WHERE url = ?", (url,))
        return removed

    async def stored_feeds(self) -> list[StoredFeed]:
        rows = await self._read("SELECT url, topics, added_by, added_at FROM feeds ORDER BY url")
        return [StoredFeed(r[0], tuple(json.loads(r[1])), r[2], _at(r[3])) for r in rows]

    async def feed_states(self) -> dict[str, FeedState]:
        rows = await self._read(f"SELECT {_FEED_STATE_COLUMNS} FROM feed_state")
        return {row[0]: _feed_state(row) for row in rows}

    async def save_feed_state(self, state: FeedState) -> None:
        async with self._transaction() as db:
            await db.execute(
                f"INSERT OR REPLACE INTO feed_state ({_FEED_STATE_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    state.url,
                    state.etag,
                    state.last_modified,
                    state.body_hash,
                    _ts(state.last_fetch_at),
                    state.last_status,
                    state.entries,
                    state.failures,
                    _ts(state.next_fetch_at),
                    _ts(state.first_success_at),
                    _ts(state.failing_since),
                    int(state.reported),
                ),
            )

    async def entry_urls(self, feed_url: str, guids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(list(guids)):
            rows = await self._read(
                "SELECT guid, article_url FROM feed_entries"
                f" WHERE feed_url = ? AND guid IN ({_placeholders(len(chunk))})",
                [feed_url, *chunk],
            )
            found.update((guid, url) for guid, url in rows)
        return found

    async def remember_entries(self, feed_url: str, entries: Mapping[str, str]) -> None:
        async with self._transaction() as db:
            await db.executemany(
                "INSERT OR IGNORE INTO feed_entries (feed_url, guid, article_url) VALUES (?, ?, ?)",
                [(feed_url, guid, url) for guid, url in entries.items()],
            )
