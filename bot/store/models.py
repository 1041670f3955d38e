"""The records the queue store hands out: frozen, Discord-free, backend-independent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.articles import Article


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHED = "published"


class Outcome(StrEnum):
    """What storing one parsed article did."""

    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class DigestStatus(StrEnum):
    """Where a digest in the outbox stands."""

    PENDING = "pending"
    """Written; some parts may still be unsent (resumed on start)."""
    DONE = "done"
    FAILED = "failed"
    """Discord refused it for good (a 4xx); its unsent items stay queued."""


class Trigger(StrEnum):
    """What started a publish (DESIGN §1), recorded on its digest."""

    COMMAND = "command"
    SCHEDULE = "schedule"
    CLI = "cli"


class RunOutcome(StrEnum):
    """How a scheduled run (channel, scheduled time) ended, as recorded in the store.

    The publishing outcomes carry the values of ``bot.publish.PublishStatus``, so a run's
    outcome is its publish's status, ``RunOutcome(result.status)``; the others are the
    scheduler's own."""

    RUNNING = "running"
    """Claimed; its publish has not finished (or its process stopped)."""
    POSTED = "posted"
    NOTHING = "nothing"
    FAILED = "failed"
    RETRY_LATER = "retry_later"
    ERROR = "error"
    """The publish raised (a bug, the database); logged with its traceback."""
    INTERRUPTED = "interrupted"
    """Claimed by a process that stopped before writing its digest; made again at start."""
    MISSED = "missed"
    """Like ``INTERRUPTED``, but too old (or no longer scheduled) to be made again."""


@dataclass(frozen=True, slots=True)
class Approval:
    """An approval decided before an article is stored (the auto-approve policy of
    ``bot.moderation``); the store records it with the insert, in the same transaction."""

    actor: str
    reason: str


@dataclass(frozen=True, slots=True)
class QueueItem:
    """An article in the queue with its moderation state."""

    id: int
    article: Article
    status: Status
    created_at: datetime
    updated_at: datetime
    submitted_by: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    published_at: datetime | None = None  # first successful delivery


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    article_id: int
    action: str
    actor: str
    at: datetime
    from_status: str | None
    to_status: str | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """A filter over the queue, shared by ``newsbot queue``, ``/news queue`` and selection.

    Pages are by key, not by offset (an offset makes the database walk every skipped row):
    ``after`` takes the items with a larger id, ``before`` the ``limit`` items just below it;
    either way they come in id order.
    """

    statuses: tuple[Status, ...] = ()
    topic: str | None = None
    search: str | None = None
    limit: int | None = None
    after: int | None = None
    before: int | None = None


@dataclass(frozen=True, slots=True)
class Selection:
    """What a digest channel wants from the approved items (DESIGN §4)."""

    channel: int | None
    topics: tuple[str, ...] = ()
    min_quality: int | None = None
    providers: tuple[str, ...] = ()  # names or domains, lower-case
    published_after: datetime | None = None  # max_age cut-off on the article's own time
    republish_after: datetime | None = None  # items first published elsewhere since then
    order: tuple[str, ...] = ("quality", "newest")
    limit: int = 10


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message of a digest as written before sending; ``message_id`` once accepted."""

    position: int
    payload: dict[str, Any]
    nonce: str
    item_ids: tuple[int, ...]
    message_id: int | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DigestRecord:
    """A digest in the outbox: items and rendered messages fixed before the first send."""

    id: int
    channel_id: int
    key: str
    status: DigestStatus
    created_at: datetime
    trigger: Trigger
    messages: tuple[OutboxMessage, ...] = field(default=())
    error: str | None = None
    thread_id: int | None = None
    """The thread started on the digest's first message (``thread: true``), or the forum
    post the digest is, once made."""
    post_started_at: datetime | None = None
    """When making its forum post was first attempted (the post may exist from then on)."""

    @property
    def unsent(self) -> tuple[OutboxMessage, ...]:
        return tuple(m for m in self.messages if m.message_id is None)


class CrosspostOutcome(StrEnum):
    CROSSPOSTED = "crossposted"
    ALREADY = "already"
    """Discord said it was crossposted already (40033): a crosspost made before a crash."""
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class WaitingCrosspost:
    """A digest part of an announcement channel still to be published to followers."""

    channel_id: int
    message_id: int
    queued_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    article_id: int
    channel_id: int
    message_id: int
    digest_id: int | None
    delivered_at: datetime


@dataclass(frozen=True, slots=True)
class ReviewPost:
    article_id: int
    channel_id: int
    message_id: int


@dataclass(frozen=True, slots=True)
class StoredSchedule:
    """A schedule set from Discord; it wins over the config file."""

    channel_id: int
    cron: str | None
    timezone: str
    updated_by: str
    updated_at: datetime
