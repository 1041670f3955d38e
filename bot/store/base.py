"""The Store protocol: everything the core asks of the queue's database.

The SQLite implementation is the only one today; the protocol is written so that a PostgreSQL
implementation could satisfy it (no SQLite types leak out, every call is async, every
multi-step change is one method so the backend can make it one transaction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from bot.articles import Article
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
    FeedState,
    Merge,
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

# An outbox message before it is written: payload, nonce and the ids of the items it carries.
NewMessage = tuple[dict[str, Any], str, tuple[int, ...]]


class Store(Protocol):
    async def close(self) -> None: ...

    # --- articles -------------------------------------------------------------------------
    async def known_hashes(self, hashes: Sequence[str]) -> set[str]:
        """Which of these source hashes are stored already (re-ingest skips parsing them)."""
        ...

    async def upsert_articles(
        self,
        articles: Sequence[Article],
        *,
        actor: str,
        approvals: Mapping[str, Approval] | None = None,
        merges: Mapping[str, Merge] | None = None,
    ) -> list[tuple[int, Outcome]]:
        """Insert new articles and update changed ones, in one transaction; a published item
        that changed (or took in clustered coverage) stays published and every message that
        carries it is queued for an edit (``pending_edits``) in the same transaction. A new article
        whose url is in ``approvals`` is stored approved, with that approval audited; the
        policy that decides is ``bot.moderation``'s. A new article whose url is in ``merges``
        becomes related coverage of that item (``Outcome.CLUSTERED`` with the item's id),
        audited on the item; an article already stored as coverage stays coverage."""
        ...

    async def story_leads(
        self, since: datetime, *, loaded_since: datetime | None = None, after_id: int = 0
    ) -> list[StoryLead]:
        """The items whose story time (the article's, else when it was stored) is ``since``
        or later, with the outlets of their coverage: the clustering window. With
        ``loaded_since``, only those not loaded yet: older than it, or with an id above
        ``after_id``."""
        ...

    async def split(self, article_id: int, url: str, *, actor: str) -> QueueItem:
        """Make the coverage ``url`` (canonical) of item ``article_id`` a pending item of its
        own again, audited on both; returns the new item. ``NotFound`` if it is not there."""
        ...

    async def submit(self, article: Article, *, submitted_by: str) -> tuple[QueueItem, bool]:
        """Queue a suggested article as pending; returns (item, created)."""
        ...

    async def get(self, article_id: int, *, with_related: bool = True) -> QueueItem: ...

    async def list_items(self, query: QueueQuery) -> list[QueueItem]:
        """Matching items in id order; a page is ``limit`` items ``after`` or ``before`` an id
        (by key: the cost of a page does not grow with how far into the queue it is)."""
        ...

    async def count_items(self, query: QueueQuery) -> int:
        """Exact. A query by status alone is answered from kept per-status counts, in constant
        time, because ``/news queue`` asks on every page; a topic or search filter counts the
        rows that match."""
        ...

    async def count_by_status(self) -> dict[Status, int]:
        """Items per status, every status present, in constant time."""
        ...

    # --- moderation -----------------------------------------------------------------------
    async def transition(
        self,
        article_id: int,
        to: Status,
        *,
        allowed_from: tuple[Status, ...],
        actor: str,
        reason: str | None = None,
    ) -> QueueItem:
        """Change one item's state if it is in ``allowed_from``; audit it; atomically."""
        ...

    async def transition_all(
        self, from_status: Status, to: Status, *, actor: str, reason: str | None = None
    ) -> list[int]: ...

    async def audit(self, article_id: int) -> list[AuditEntry]: ...

    # --- digests, outbox and deliveries ---------------------------------------------------
    async def select_for_digest(self, selection: Selection) -> list[QueueItem]: ...

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
        """Write a digest and its messages in one transaction; returns (digest, created). A
        digest with the same key is returned as it is, never written twice. With
        ``scheduled_for``, the claimed scheduled run of the channel is linked to the digest in
        the same transaction (see :meth:`orphaned_runs`). ``thread_name`` is the name of its
        forum post or discussion thread, fixed with its messages."""
        ...

    async def unfinished_digests(self, channel_id: int | None = None) -> list[DigestRecord]: ...

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
        """Record an accepted message and mark its items published to the channel; with
        ``crosspost_in`` (its announcement channel) queue its crosspost in the same
        transaction, so a recorded part is never left without the crosspost it needs. With
        ``lease`` (a token of :meth:`take_lease`), only while that lease is the channel's:
        else ``LeaseLost`` and nothing is recorded."""
        ...

    async def take_leases(
        self,
        channel_ids: Sequence[int],
        owner: str,
        now: datetime,
        until: datetime,
        *,
        from_owner: str | None = None,
    ) -> dict[int, int]:
        """Become the one process publishing each channel until ``until``, in one write: the
        fencing token of each channel taken. A channel whose lease another owner holds
        unexpired is left out (unless that owner is ``from_owner``, whose process is known to
        be gone); a new holder gets a larger token, the same owner keeps its token."""
        ...

    async def lease_holder(self, channel_id: int, now: datetime) -> str | None:
        """The owner of the channel's unexpired lease, if any."""
        ...

    async def renew_lease(self, channel_id: int, token: int, until: datetime) -> bool:
        """Extend the lease while ``token`` is still the channel's; False once another process
        took over."""
        ...

    async def release_leases(self, tokens: Mapping[int, int], now: datetime) -> None:
        """Let the channels go now (those whose token still holds), so another process need
        not wait for the expiry."""
        ...

    # --- processes sharing the database -----------------------------------------------------
    async def heartbeat(
        self, owner: str, role: str, now: datetime, stale_before: datetime, *, paced_for: int = 0
    ) -> list[ProcessRecord]:
        """Say that process ``owner`` is alive at ``now`` (joining on its first call) and
        paces for ``paced_for`` processes, forget processes last seen before
        ``stale_before``, and return the live ones, itself too."""
        ...

    async def leave(self, owner: str) -> None:
        """The process ends: it no longer counts (its duties are released separately)."""
        ...

    async def live_processes(self, stale_before: datetime) -> list[ProcessRecord]:
        """The processes heard from since ``stale_before``, oldest first (``newsbot status``)."""
        ...

    async def duty_holders(self, now: datetime) -> dict[str, str]:
        """Each duty held now, and by whom."""
        ...

    async def claim_duty(
        self,
        name: str,
        owner: str,
        now: datetime,
        until: datetime,
        *,
        from_owner: str | None = None,
    ) -> bool:
        """Do the duty ``name`` until ``until``: True when it was free, expired, ``owner``'s
        already (so claiming again renews it), or held by ``from_owner`` (a process known to
        be gone); False while another live process holds it."""
        ...

    async def duty_holder(self, name: str, now: datetime) -> str | None:
        """Who does the duty now (its unexpired holder), if anyone."""
        ...

    async def release_duty(self, name: str, owner: str) -> None:
        """Give the duty up now, if ``owner`` still holds it."""
        ...

    async def waiting_crossposts(self, limit: int) -> list[WaitingCrosspost]:
        """Queued crossposts not yet done, oldest first."""
        ...

    async def finish_crosspost(
        self, message_id: int, outcome: CrosspostOutcome, at: datetime
    ) -> None: ...

    async def record_thread(self, digest_id: int, thread_id: int) -> None:
        """Record the thread started on the digest's first message (once; a second call
        changes nothing)."""
        ...

    async def record_post_intent(self, digest_id: int, at: datetime) -> None:
        """Record, before a forum post is made (it has no nonce), that it may exist from now
        on, so that a resumed digest looks for it before making another."""
        ...

    async def finish_digest(
        self, digest_id: int, status: DigestStatus, error: str | None = None
    ) -> None: ...

    async def deliveries(self, article_id: int) -> list[Delivery]: ...

    async def deliveries_of(self, article_ids: Sequence[int]) -> dict[int, list[Delivery]]:
        """Where each of the items was published (``newsbot queue --json``), in one read per
        few hundred items rather than one per item."""
        ...

    # --- corrections and retractions (the edits outbox) -----------------------------------
    async def retract(self, article_id: int, reason: str, *, actor: str) -> QueueItem:
        """Retract an item: it is never selected again, the retraction is audited, and every
        sent message carrying it is queued for an edit, all in one transaction.
        ``InvalidTransition`` if it is retracted already, ``NotFound`` if there is none."""
        ...

    async def edit_item(
        self, article_id: int, *, title: str | None, excerpt: str | None, actor: str
    ) -> QueueItem:
        """A moderator's correction of an item's title or excerpt (None: kept), audited, its
        sent messages queued for an edit in the same transaction. No change, no edit."""
        ...

    async def pending_edits(self, limit: int) -> list[PendingEdit]:
        """The oldest queued edits whose messages were sent, with what rendering them needs;
        held ones (``block_edit``) are included after all the others."""
        ...

    async def record_edit_attempt(
        self, digest_id: int, position: int, payload: dict[str, Any], at: datetime
    ) -> None:
        """The payload about to be sent for the edit, recorded before the PATCH."""
        ...

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
        """Close the edit queued at ``queued_at``; with ``payload``, the message reads so now.
        False (left queued) when the message was queued again since: the newer change still
        has to go out."""
        ...

    async def block_edit(self, digest_id: int, position: int, code: int | None) -> bool:
        """Hold the edit (Discord refused it for now: 30046, 50083); True the first time, so
        it is reported once."""
        ...

    async def unblock_edits(self) -> int:
        """Let held edits be tried again (on start); how many there were."""
        ...

    async def last_digest(self, channel_id: int) -> DigestSummary | None:
        """The channel's newest digest that posted at least one message."""
        ...

    async def failed_digests(self, limit: int) -> list[DigestSummary]:
        """The newest digests Discord refused, newest first (the status view's errors)."""
        ...

    async def next_pending(
        self, *, after: int, topic: str | None = None, origins: tuple[str, ...] | None = None
    ) -> QueueItem | None:
        """The pending item with the smallest id above ``after`` (with ``topic``, case
        insensitive): the review deck's next card, one index seek however long the queue."""
        ...

    async def count_pending(
        self, *, topic: str | None = None, origins: tuple[str, ...] | None = None, limit: int
    ) -> int:
        """Pending items (with ``topic``), counted up to ``limit``: a bound, because a count
        over a million rows would cost a deck step its time."""
        ...

    async def trust_provider(self, provider: str, *, actor: str) -> bool:
        """Add an outlet (lower-case name or domain) to the auto-approved ones; False if it
        was already trusted."""
        ...

    async def trusted_providers(self) -> tuple[str, ...]:
        """Outlets trusted from Discord (``Trust outlet``), lower-case, sorted."""
        ...

    # --- review channel -------------------------------------------------------------------
    async def unreviewed_pending(self, limit: int) -> list[QueueItem]:
        """Pending items never posted for review, highest quality first (then oldest)."""
        ...

    async def count_unreviewed_pending(self) -> int:
        """How many pending items were never posted for review."""
        ...

    async def review_posts_since(self, since: datetime) -> list[datetime]:
        """When each review post made after ``since`` was made, oldest first (the feed's
        hourly budget: a post made exactly an hour ago no longer counts)."""
        ...

    async def bot_message(self, name: str) -> BotMessage | None: ...

    async def set_bot_message(self, name: str, channel_id: int, message_id: int) -> None: ...

    async def record_review_post(
        self, article_id: int, channel_id: int, message_id: int
    ) -> None: ...

    async def review_post(self, article_id: int) -> ReviewPost | None: ...

    # --- schedules ------------------------------------------------------------------------
    async def schedules(self) -> list[StoredSchedule]: ...

    async def set_schedule(
        self, channel_id: int, cron: str | None, timezone: str, *, actor: str
    ) -> StoredSchedule: ...

    async def clear_schedule(self, channel_id: int) -> bool: ...

    async def last_scheduled_run(self, channel_id: int) -> datetime | None: ...

    async def claim_scheduled_run(
        self, channel_id: int, scheduled_for: datetime, owner: str | None = None
    ) -> bool:
        """Record that the run (channel, scheduled time) is being done, by the process
        ``owner``; False if it was (the unique key on the pair decides between processes)."""
        ...

    async def finish_scheduled_run(
        self, channel_id: int, scheduled_for: datetime, outcome: RunOutcome, digest_id: int | None
    ) -> None: ...

    async def orphaned_runs(self) -> list[ClaimedRun]:
        """Claimed scheduled runs with neither a digest nor an outcome, oldest first: those
        whose claimer is no longer running stopped before they wrote their digest, so nothing
        was posted for them."""
        ...

    # --- drafts (review: draft) -----------------------------------------------------------
    async def create_draft(
        self, channel_id: int, scheduled_for: datetime, item_ids: Sequence[int]
    ) -> tuple[DraftRecord, bool]:
        """The draft of the run (channel, scheduled time), made now if there was none (True)."""
        ...

    async def draft_for(self, channel_id: int, scheduled_for: datetime) -> DraftRecord | None: ...

    async def open_drafts(self, channel_id: int, until: datetime) -> list[DraftRecord]:
        """The channel's drafts still waiting or approved whose run time is at most ``until``
        (a run held for approval, also across a restart)."""
        ...

    async def get_draft(self, draft_id: int) -> DraftRecord | None: ...

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
        """Apply a change made on ``version`` of the draft; None if the draft has moved on
        since (another moderator was first), and then nothing is changed."""
        ...

    async def set_draft_control(self, draft_id: int, message_id: int) -> None:
        """Remember the review-channel message that carries the draft's controls."""
        ...

    # --- feeds ----------------------------------------------------------------------------
    async def add_feed(self, url: str, topics: Sequence[str], *, actor: str) -> bool:
        """Store a feed added from Discord; False if it was stored already."""
        ...

    async def remove_feed(self, url: str) -> bool:
        """Forget a stored feed and its polling state; False if it was not stored."""
        ...

    async def stored_feeds(self) -> list[StoredFeed]: ...

    async def feed_states(self) -> dict[str, FeedState]:
        """Every feed's polling state, by feed URL."""
        ...

    async def save_feed_state(self, state: FeedState) -> None: ...

    async def entry_urls(self, feed_url: str, guids: Sequence[str]) -> dict[str, str]:
        """The article URL each known guid of this feed was first stored under: an entry whose
        link changed but whose guid did not is the same article."""
        ...

    async def remember_entries(self, feed_url: str, entries: Mapping[str, str]) -> None:
        """Record guid -> article URL for new entries (known guids keep their first URL)."""
        ...
