"""The moderation state machine (DESIGN §4): who may move an item from which state to which.

The store applies each change atomically and records it in the audit log; this module decides
what is allowed, so the CLI, slash commands and review buttons all follow the same rules.
"""

from __future__ import annotations

from bot.errors import NewsbotError
from bot.store import QueueItem, Status, Store

MAX_REASON = 500

# Which states each decision may start from. Published is final: the item is out.
ALLOWED_FROM: dict[Status, tuple[Status, ...]] = {
    Status.APPROVED: (Status.PENDING,),
    Status.REJECTED: (Status.PENDING, Status.APPROVED),
    Status.PENDING: (Status.REJECTED,),
}


class BadReason(NewsbotError):
    """A rejection reason that is too long to keep."""


def _reason(reason: str | None) -> str | None:
    if reason is None or not reason.strip():
        return None
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON:
        raise BadReason(f"reason is too long ({len(reason):,} characters; at most {MAX_REASON})")
    return reason


async def approve(store: Store, article_id: int, *, actor: str) -> QueueItem:
    return await store.transition(
        article_id, Status.APPROVED, allowed_from=ALLOWED_FROM[Status.APPROVED], actor=actor
    )


async def reject(store: Store, article_id: int, *, actor: str, reason: str | None) -> QueueItem:
    return await store.transition(
        article_id,
        Status.REJECTED,
        allowed_from=ALLOWED_FROM[Status.REJECTED],
        actor=actor,
        reason=_reason(reason),
    )


async def reopen(store: Store, article_id: int, *, actor: str) -> QueueItem:
    """Put a rejected item back to pending (a moderator changed their mind)."""
    return await store.transition(
        article_id, Status.PENDING, allowed_from=ALLOWED_FROM[Status.PENDING], actor=actor
    )


async def approve_all(store: Store, *, actor: str) -> list[int]:
    return await store.transition_all(Status.PENDING, Status.APPROVED, actor=actor)
