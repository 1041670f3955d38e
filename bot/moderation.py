"""The moderation state machine (DESIGN §4): who may move an item from which state to which,
and the auto-approve policy.

The store applies each change atomically and records it in the audit log; this module decides
what is allowed, so the CLI, slash commands, review buttons and ingest all follow the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from bot.articles import Article, canonical_url
from bot.articles.frontmatter import MAX_EXCERPT, MAX_TITLE
from bot.articles.urls import http_url_problem
from bot.config import AutoApprove
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


class BadCorrection(NewsbotError):
    """A moderator's edit of an item that cannot be stored (nothing given, empty, too long)."""


class NoOutlet(NewsbotError):
    """Trust outlet on an item that names no provider."""


def _reason(reason: str | None) -> str | None:
    if reason is None or not reason.strip():
        return None
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON:
        raise BadReason(f"reason is too long ({len(reason):,} characters; at most {MAX_REASON})")
    return reason


def _rule(article: Article, policy: AutoApprove, feed: str | None) -> str | None:
    """Why the policy approves ``article`` (the audit log's reason), or None."""
    quality, least = article.quality, policy.min_quality
    if least is not None and quality is not None and quality >= least:
        return f"quality >= {least}"
    provider = article.provider
    if provider is not None and policy.providers:
        for name in (provider.domain.lower(), provider.name.lower()):
            if name and name in policy.providers:
                return f"trusted outlet {name}"
    for topic in article.topics:
        if topic.lower() in policy.topics:
            return f"topic {topic}"
    if feed is not None and feed in policy.feeds:
        return f"feed {feed}"
    return None


def auto_approvals(
    articles: Iterable[Article],
    policy: AutoApprove,
    *,
    trusted: Iterable[str] = (),
    feed: str | None = None,
) -> dict[str, Approval]:
    """The config's ``auto_approve`` policy, by article url: which articles are approved as
    they are stored. Any rule that matches approves: ``min_quality``, an outlet in
    ``providers`` or ``trusted`` (outlets trusted from Discord, kept in the database), a topic
    in ``topics``, or ``feed`` (the feed that brought the batch) in ``feeds``.

    Only the store knows which ones are new; it applies an approval to a new article only, in
    the transaction that inserts it, so an item the policy approves is never seen pending. An
    article that arrives ``published: true`` needs no approval."""
    extra = tuple(t.lower() for t in trusted)
    if extra:
        policy = replace(policy, providers=policy.providers + extra)
    if policy.empty:
        return {}
    approvals: dict[str, Approval] = {}
    for article in articles:
        if article.published:
            continue
        reason = _rule(article, policy, feed)
        if reason is not None:
            approvals[article.url] = Approval(actor=AUTO_APPROVER, reason=reason)
    return approvals


def outlet_of(item: QueueItem) -> str | None:
    """The name the deck's Trust outlet records for an item's provider: its domain, or else
    its name, lower-case; None when the item names no provider."""
    provider = item.article.provider
    if provider is None:
        return None
    return (provider.domain or provider.name).strip().lower() or None


async def trust_outlet(store: Store, item_id: int, *, actor: str) -> tuple[QueueItem, str, bool]:
    """Trust the outlet of a pending item: its future items are approved as they arrive, and
    this item is approved now. Returns (item, outlet, newly trusted)."""
    item = await store.get(item_id, with_related=False)
    outlet = outlet_of(item)
    if outlet is None:
        raise NoOutlet(f"item {item_id} names no outlet (provider) to trust")
    # Approve first: when another moderator decided the item meanwhile, this raises and
    # nothing changes (the outlet is not trusted on a card that was already stale).
    approved = await approve(store, item_id, actor=actor, reason=f"trusted outlet {outlet}")
    added = await store.trust_provider(outlet, actor=actor)
    return approved, outlet, added


async def approve(
    store: Store, article_id: int, *, actor: str, reason: str | None = None
) -> QueueItem:
    return await store.transition(
        article_id,
        Status.APPROVED,
        allowed_from=ALLOWED_FROM[Status.APPROVED],
        actor=actor,
        reason=reason,
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


async def retract(store: Store, article_id: int, *, actor: str, reason: str | None) -> QueueItem:
    """Retract an item: it shows as retracted, with ``reason``, in every message that carries
    it (the store queues the edits), and is never selected again. Audited; a reason is
    required, since readers are shown it."""
    why = _reason(reason)
    if why is None:
        raise BadReason("a retraction needs a reason (readers see it where the item was posted)")
    return await store.retract(article_id, why, actor=actor)


async def edit(
    store: Store,
    article_id: int,
    *,
    actor: str,
    title: str | None = None,
    excerpt: str | None = None,
) -> QueueItem:
    """A moderator's correction of an item's title or excerpt (None: kept as it is); where
    the item was posted, its messages are edited to match."""
    if title is None and excerpt is None:
        raise BadCorrection("give a new title, a new excerpt, or both")
    if title is not None:
        title = " ".join(title.split())
        if not title:
            raise BadCorrection("the title cannot be empty")
        if len(title) > MAX_TITLE:
            raise BadCorrection(
                f"title is too long ({len(title):,} characters; at most {MAX_TITLE:,})"
            )
    if excerpt is not None:
        excerpt = excerpt.strip()
        if len(excerpt) > MAX_EXCERPT:
            raise BadCorrection(
                f"excerpt is too long ({len(excerpt):,} characters; at most {MAX_EXCERPT:,})"
            )
    return await store.edit_item(article_id, title=title, excerpt=excerpt, actor=actor)
