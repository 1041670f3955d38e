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
    CrosspostOutcome,
    Delivery,
    DigestRecord,
    DigestStatus,
    Outcome,
    QueueItem,
    QueueQuery,
    ReviewPost,
    RunOutcome,
    Selection,
    Status,
    StoredSchedule,
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
    ) -> list[tuple[int, Outcome]]:
        """Insert new articles and update unpublished ones, in one transaction. A new article
        whose url is in ``approvals`` is stored approved, with that approval audited; the
        policy that decides is ``bot.moderation``'s."""
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
    ) -> tuple[DigestRecord, bool]:
        """Write a digest and its messages in one transaction; returns (digest, created). A
        digest with the same key is returned as it is, never written twice. With
        ``scheduled_for``, the claimed scheduled run of the channel is linked to the digest in
        the same transaction (see :meth:`orphaned_runs`)."""
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
    ) -> None:
        """Record an accepted message and mark its items published to the channel; with
        ``crosspost_in`` (its announcement channel) queue its crosspost in the same
        transaction, so a recorded part is never left without the crosspost it needs."""
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

    # --- review channel -------------------------------------------------------------------
    async def unreviewed_pending(self, limit: int) -> list[QueueItem]: ...

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

    async def claim_scheduled_run(self, channel_id: int, scheduled_for: datetime) -> bool:
        """Record that the run (channel, scheduled time) is being done; False if it was."""
        ...

    async def finish_scheduled_run(
        self, channel_id: int, scheduled_for: datetime, outcome: RunOutcome, digest_id: int | None
    ) -> None: ...

    async def orphaned_runs(self) -> list[tuple[int, datetime]]:
        """Claimed scheduled runs with neither a digest nor an outcome, as (channel, scheduled
        time): when no scheduler is running, the process making them stopped before it wrote
        their digest, so nothing was posted for them."""
        ...
