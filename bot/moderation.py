"""The moderation state machine (DESIGN §4): who may move an item from which state to which,
and the auto-approve policy.

The store applies each change atomically and records it in the audit log; this module decides
what is allowed, so the CLI, slash commands, review buttons and ingest all follow the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.articles import Article, canonical_url
from bot.articles.urls import http_url_problem
from bot.errors import NewsbotError, one_line
from bot.store import Approval, QueueItem, Status, Store

MAX_REASON = 500

AUTO_APPROVER = "auto-approve"
"""The actor the audit log names for an approval the policy made."""

# Which states each decision may start from. Published is final: the item is out.
ALLOWED_FROM: dict[Status, tuple[Status, ...]] = {
    Status.APPROVED: (Status.PENDING,),
    Status.REJECTED: (Status.PENDING, Status.APPROVED),
}


class BadReason(NewsbotError):
    """A rejection reason that is too long to keep."""


class BadUrl(NewsbotError):
    """A URL given to a command that cannot be an article's (not http(s), no host...)."""


def _reason(reason: str | None) -> str | None:
    if reason is None or not reason.strip():
        return None
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON:
        raise BadReason(f"reason is too long ({len(reason):,} characters; at most {MAX_REASON})")
    return reason


def auto_approvals(articles: Iterable[Article], min_quality: int | None) -> dict[str, Approval]:
    """The config's ``auto_approve`` policy, by article url: which articles are approved as
    they are stored. Only the store knows which ones are new; it applies an approval to a new
    article only, in the transaction that inserts it, so an item the policy approves is never
    seen pending. An article that arrives ``published: true`` needs no approval."""
    if min_quality is None:
        return {}
    approval = Approval(actor=AUTO_APPROVER, reason=f"quality >= {min_quality}")
    return {
        article.url: approval
        for article in articles
        if not article.published and article.quality is not None and article.quality >= min_quality
    }


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


async def approve_all(store: Store, *, actor: str) -> list[int]:
    return await store.transition_all(Status.PENDING, Status.APPROVED, actor=actor)


async def split(store: Store, article_id: int, url: str, *, actor: str) -> QueueItem:
    """Undo a wrong merge: the related coverage ``url`` of item ``article_id`` (that
    clustering put there) becomes a pending item of its own, for moderators to decide. The
    split is audited on both items; the coverage never joins a story again by itself, since
    its url is an item now."""
    problem = http_url_problem(url.strip())
    if problem is not None:
        raise BadUrl(f"{one_line(url)!r} {problem}")
    return await store.split(article_id, canonical_url(url.strip()), actor=actor)
