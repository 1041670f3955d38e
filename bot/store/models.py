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
    CLUSTERED = "clustered"
    """Stored as related coverage of another outlet's item on the same story (its id)."""


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
    BUSY = "busy"
    """Another newsbot process was publishing the channel; the run is tried again."""
    ERROR = "error"
    """The publish raised (a bug, the database); logged with its traceback."""
    INTERRUPTED = "interrupted"
    """Claimed by a process that stopped before writing its digest; made again at start."""
    MISSED = "missed"
    """Like ``INTERRUPTED``, but too old (or no longer scheduled) to be made again."""
    SKIPPED = "skipped"
    """Its draft digest was skipped by a moderator (or never approved in time): nothing was
    posted and its items wait for the next run."""


class DraftState(StrEnum):
    """Where a draft digest (``review: draft``) stands."""

    WAITING = "waiting"
    """Shown in the review channel; nobody has decided yet."""
    APPROVED = "approved"
    SKIPPED = "skipped"
    POSTED = "posted"
    """Its run was published (what was approved, or as planned under ``unreviewed: post``)."""
    EXPIRED = "expired"
    """Held unapproved past the catch-up window: its run was let go."""


@dataclass(frozen=True, slots=True)
class DraftRecord:
    """The draft of one scheduled run of one channel. ``version`` grows with every change, so
    a decision made on an older view of it is refused rather than applied twice."""

    id: int
    channel_id: int
    scheduled_for: datetime
    state: DraftState
    item_ids: tuple[int, ...]
    dropped: tuple[int, ...]
    version: int
    control_message_id: int | None
    decided_by: str | None
    updated_at: datetime

    @property
    def kept(self) -> tuple[int, ...]:
        """The items the run posts: the draft's, less those dropped."""
        return tuple(i for i in self.item_ids if i not in self.dropped)


@dataclass(frozen=True, slots=True)
class Approval:
    """An approval decided before an article is stored (the auto-approve policy of
    ``bot.moderation``); the store records it with the insert, in the same transaction."""

    actor: str
    reason: str


@dataclass(frozen=True, slots=True)
class Merge:
    """A clustering decision made before storing: the article joins the item whose url is
    ``lead_url`` as related coverage. The store applies it in the transaction that stores the
    batch, and stores the article as an item of its own instead if ``outlet`` is already in
    that story (one outlet's two articles are never merged)."""

    lead_url: str
    outlet: str
    score: float


@dataclass(frozen=True, slots=True)
class StoryLead:
    """An item of the clustering window, with the outlets of the coverage merged into it."""

    id: int
    article: Article
    at: datetime
    """The article's time, or when the item was stored when the article has none."""
    outlets: tuple[str, ...]


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
    retracted_at: datetime | None = None
    """Retracted by a moderator: shown struck through (or taken out) where it was published,
    and never selected again."""
    retraction_reason: str | None = None
    corrected_at: datetime | None = None
    """When a published item last changed (its file or feed entry, a moderator's edit, new
    coverage): its messages are edited to match."""

    @property
    def retracted(self) -> bool:
        return self.retracted_at is not None


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
    related: bool = False
    """Also read each item's related coverage (``newsbot queue --json``)."""


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
    only: tuple[int, ...] | None = None
    """Only these items (a draft's approved ones), still subject to every other rule."""


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
    thread_name: str | None = None
    """The name its forum post or discussion thread gets, rendered with its messages (the
    template's ``thread_name`` block): fixed, so a post looked for after a crash is found by
    it. None for digests written before it was kept."""

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
class ClaimedRun:
    """A scheduled run claimed and still running, with no digest written for it yet."""

    channel_id: int
    scheduled_for: datetime
    claimed_by: str | None
    """The process that claimed it (``bot.leases.lease_owner``); None when unknown."""


@dataclass(frozen=True, slots=True)
class StoredSchedule:
    """A schedule set from Discord; it wins over the config file."""

    channel_id: int
    cron: str | None
    timezone: str
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class BotMessage:
    """A single message the bot keeps editing (the review channel's standing message)."""

    name: str
    channel_id: int
    message_id: int


@dataclass(frozen=True, slots=True)
class DigestSummary:
    """A digest as the status view reports it: when, how many items, where it starts."""

    id: int
    channel_id: int
    status: DigestStatus
    created_at: datetime
    items: int
    first_message_id: int | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class StoredFeed:
    """A feed added with ``/feed add`` (the config file's feeds are not stored)."""

    url: str
    topics: tuple[str, ...]
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class FeedState:
    """What polling a feed has learnt: its validators for conditional GET, the hash of its
    last body, and how it has been doing (for backoff and the failing-feed report)."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_fetch_at: datetime | None = None
    last_status: str = ""
    """What the last poll did, e.g. ``200 OK``, ``304 not modified``, or the problem."""
    entries: int = 0
    """Entries in the last document read."""
    failures: int = 0
    """Consecutive failed polls."""
    next_fetch_at: datetime | None = None
    first_success_at: datetime | None = None
    failing_since: datetime | None = None
    reported: bool = False
    """A failing-feed report was posted and its recovery not yet."""


class EditWhy(StrEnum):
    """Why a published message is rendered again."""

    CORRECTION = "correction"
    RETRACTION = "retraction"


class EditOutcome(StrEnum):
    EDITED = "edited"
    UNCHANGED = "unchanged"
    """It renders as it reads already: nothing was sent."""
    SKIPPED = "skipped"
    """Not edited by policy: the channel has ``corrections: off``, or the message was older
    than ``correction_window`` when the item changed."""
    REFUSED = "refused"
    """Discord refused it for good (the message is gone, the bot lost access)."""


@dataclass(frozen=True, slots=True)
class PendingEdit:
    """A published message of a digest that has to be rendered again, with what rendering it
    needs: the digest's items in order and where each message's items are."""

    digest_id: int
    position: int
    why: EditWhy
    queued_at: datetime
    channel_id: int
    message_id: int
    sent_at: datetime
    thread_id: int | None
    key: str
    created_at: datetime
    item_ids: tuple[int, ...]
    """The digest's items, in the digest's order."""
    message_items: tuple[tuple[int, ...], ...]
    """By message position: the ids of the items each message carries."""
    payload: dict[str, Any]
    """The message as it reads now (as sent, or as last edited)."""
    blocked_code: int | None = None
    reported: bool = False


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """A running newsbot process, as it last said it was alive."""

    owner: str
    """``host:pid:random`` (``bot.leases.lease_owner``)."""
    role: str
    """``run``, ``gateway``, ``worker``, or a one-off command (``publish``)."""
    started_at: datetime
    seen_at: datetime
    paced_for: int = 0
    """How many processes its share of the global limit assumes at most."""
