"""A channel's next digest: which items it gets and the messages that carry them.

``plan_digest`` is what ``newsbot preview``, ``/digest preview``, draft digests and publishing
share, so a preview shows exactly what would be posted (delivery: :mod:`bot.publish`).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import DigestChannel
from bot.render import PackedMessage, Renderer
from bot.store import QueueItem, Selection, Store

# Without a max_age, an item already published to one channel is still offered to another
# channel for this long; older ones are history, not news.
REPUBLISH_WINDOW = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DigestPlan:
    """The next digest of one channel: the chosen items and the messages that carry them."""

    channel: int | None
    digest: DigestChannel
    items: list[QueueItem]
    messages: list[PackedMessage]
    key: str
    thread_name: str | None = None
    """The name of its forum post or discussion thread (the template's ``thread_name``)."""

    def item_ids(self, message: PackedMessage) -> tuple[int, ...]:
        return tuple(self.items[index].id for index in message.item_indices)


def selection_for(
    digest: DigestChannel,
    now: datetime,
    limit: int | None = None,
    only: tuple[int, ...] | None = None,
) -> Selection:
    return Selection(
        only=only,
        channel=digest.channel,
        topics=digest.topics,
        min_quality=digest.min_quality,
        providers=digest.providers,
        published_after=now - digest.max_age if digest.max_age else None,
        republish_after=now - (digest.max_age or REPUBLISH_WINDOW),
        order=digest.order,
        limit=limit or digest.max_items,
    )


def digest_key(channel: int | None, item_ids: list[int]) -> str:
    """A short identity for a digest: the same channel and items give the same key, so the
    preview shows the identity publishing will use and a resumed digest is recognised."""
    text = f"{channel}:{','.join(map(str, item_ids))}"
    return hashlib.blake2b(text.encode(), digest_size=5).hexdigest()


async def plan_digest(
    store: Store,
    renderer: Renderer,
    digest: DigestChannel,
    now: datetime,
    *,
    limit: int | None = None,
    only: tuple[int, ...] | None = None,
) -> DigestPlan:
    """Select and render the next digest of the channel ``digest`` configures (get it with
    ``settings.digest_for(channel)``; its ``channel`` None is the default digest). ``only``
    restricts it to those items (an approved draft's), which must still qualify."""
    items = await store.select_for_digest(selection_for(digest, now, limit, only))
    key = digest_key(digest.channel, [item.id for item in items])
    articles = [item.article for item in items]

    def render() -> tuple[list[PackedMessage], str | None]:
        messages = renderer.render_digest(articles, digest, now=now, ref=key)
        if not messages:
            return messages, None
        return messages, renderer.thread_name(articles, digest, now=now, ref=key)

    # Off the event loop: an operator's template may use its whole time budget.
    messages, thread = await asyncio.to_thread(render)
    return DigestPlan(
        channel=digest.channel,
        digest=digest,
        items=items,
        messages=messages,
        key=key,
        thread_name=thread,
    )
