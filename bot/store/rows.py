"""Engine-free pieces of the stores: rows to records, records to rows, and their column lists.

Both stores (SQLite and PostgreSQL) read and write the same columns in the same order, so the
conversions live here once. Timestamps come back as ISO text from SQLite and as ``datetime``
from PostgreSQL; the readers take either, so a record is the same whichever engine made it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.articles import Article, Image, Provider, Related
from bot.store.models import Approval, DraftRecord, DraftState, FeedState, QueueItem, Status

CHUNK = 500  # under SQLite's limit of bound parameters per statement
# json.dumps(..., ensure_ascii=False) builds a new encoder on every call; ingest encodes two
# values per article, so one encoder is kept (same output).
to_json = json.JSONEncoder(ensure_ascii=False).encode

ITEM_COLUMNS = (
    "id, url, web_url, title, excerpt, published_at, category, type, provider_name, "
    "provider_domain, topics, images, quality, heat, source_published, source, body, "
    "source_hash, status, reason, submitted_by, decided_by, decided_at, first_published_at, "
    "created_at, updated_at, origin, retracted_at, retraction_reason, corrected_at"
)

ORDER_SQL = {
    "quality": "quality IS NULL, quality DESC",
    "heat": "heat IS NULL, heat DESC",
    "newest": "published_at IS NULL, published_at DESC",
}


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a fixed width, so text order is time order."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def utc(value: datetime | None) -> datetime | None:
    """A time as PostgreSQL's ``timestamptz`` takes it: aware, in UTC (as ``iso`` reads it)."""
    return None if value is None else value.astimezone(UTC)


Stamp = Callable[[datetime | None], Any]


DIGEST_COLUMNS = (
    "SELECT id, channel_id, key, status, created_at, trigger, error, thread_id, post_started_at,"
    " thread_name"
)


def time_or_none(value: str | datetime | None) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value) if value else None


def time_of(value: str | datetime) -> datetime:
    """A NOT NULL timestamp column: always written, so never replaced by a guess."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def article_row(article: Article, stamp: Stamp = iso) -> tuple[Any, ...]:
    """The article's columns after its url, in the order both stores' statements name them;
    ``stamp`` writes a time the way the engine keeps it (ISO text, or ``timestamptz``)."""
    images = [
        {"url": i.url, "width": i.width, "height": i.height, "title": i.title}
        for i in article.images
    ]
    provider = article.provider
    return (
        article.web_url,
        article.title,
        article.excerpt,
        stamp(article.published_at),
        article.category,
        article.type,
        provider.name if provider else None,
        provider.domain if provider else None,
        to_json(list(article.topics)),
        to_json(images),
        article.quality,
        article.heat,
        int(article.published),
        article.source,
        article.body,
        article.source_hash,
        article.origin,
    )


DRAFT_COLUMNS = (
    "id, channel_id, scheduled_for, state, item_ids, dropped, version, control_message_id,"
    " decided_by, updated_at"
)


def draft(row: Sequence[Any]) -> DraftRecord:
    when = time_or_none(row[2])
    updated = time_or_none(row[9])
    assert when is not None and updated is not None  # NOT NULL columns
    return DraftRecord(
        id=int(row[0]),
        channel_id=int(row[1]),
        scheduled_for=when,
        state=DraftState(row[3]),
        item_ids=tuple(json.loads(row[4])),
        dropped=tuple(json.loads(row[5])),
        version=int(row[6]),
        control_message_id=row[7],
        decided_by=row[8],
        updated_at=updated,
    )


def initial_status(article: Article, approval: Approval | None) -> Status:
    if article.published:
        return Status.PUBLISHED
    return Status.PENDING if approval is None else Status.APPROVED


def related_rows(article_id: int, article: Article, stamp: Stamp = iso) -> list[tuple[Any, ...]]:
    return [
        (
            article_id,
            position,
            r.url,
            r.title,
            r.excerpt,
            r.provider.name if r.provider else None,
            r.provider.domain if r.provider else None,
            stamp(r.published_at),
            r.quality,
            r.image,
        )
        for position, r in enumerate(article.related)
    ]


def item(row: Sequence[Any], related: tuple[Related, ...] = ()) -> QueueItem:
    (
        item_id,
        url,
        web_url,
        title,
        excerpt,
        published_at,
        category,
        type_,
        provider_name,
        provider_domain,
        topics,
        images,
        quality,
        heat,
        source_published,
        source,
        body,
        source_hash,
        status,
        reason,
        submitted_by,
        decided_by,
        decided_at,
        first_published_at,
        created_at,
        updated_at,
        origin,
        retracted_at,
        retraction_reason,
        corrected_at,
    ) = tuple(row)
    provider = Provider(provider_name or "", provider_domain or "") if provider_name else None
    article = Article(
        url=url,
        web_url=web_url,
        title=title,
        excerpt=excerpt,
        published_at=time_or_none(published_at),
        category=category,
        type=type_,
        provider=provider,
        topics=tuple(json.loads(topics)),
        images=tuple(Image(**image) for image in json.loads(images)),
        quality=quality,
        heat=heat,
        published=bool(source_published),
        related=related,
        source=source,
        body=body,
        source_hash=source_hash,
        origin=origin,
    )
    return QueueItem(
        id=item_id,
        article=article,
        status=Status(status),
        created_at=time_of(created_at),
        updated_at=time_of(updated_at),
        submitted_by=submitted_by,
        decided_by=decided_by,
        decided_at=time_or_none(decided_at),
        reason=reason,
        published_at=time_or_none(first_published_at),
        retracted_at=time_or_none(retracted_at),
        retraction_reason=retraction_reason,
        corrected_at=time_or_none(corrected_at),
    )


FEED_STATE_COLUMNS = (
    "url, etag, last_modified, body_hash, last_fetch_at, last_status, entries, failures,"
    " next_fetch_at, first_success_at, failing_since, reported"
)


def feed_state(row: tuple[Any, ...]) -> FeedState:
    return FeedState(
        url=row[0],
        etag=row[1],
        last_modified=row[2],
        body_hash=row[3],
        last_fetch_at=time_or_none(row[4]),
        last_status=row[5],
        entries=row[6],
        failures=row[7],
        next_fetch_at=time_or_none(row[8]),
        first_success_at=time_or_none(row[9]),
        failing_since=time_or_none(row[10]),
        reported=bool(row[11]),
    )
