"""Digests: choose what a channel receives, render it, and deliver it exactly once.

``plan_digest`` is what ``newsbot preview``, ``/digest preview`` and publishing share, so a
preview shows exactly what would be posted. Delivery goes through the outbox (DESIGN §5).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.app import App
from bot.config import DigestChannel
from bot.pack import PackedMessage
from bot.store import QueueItem, Selection

log = logging.getLogger(__name__)

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

    def item_ids(self, message: PackedMessage) -> tuple[int, ...]:
        return tuple(self.items[index].id for index in message.item_indices)


def selection_for(digest: DigestChannel, now: datetime, limit: int | None = None) -> Selection:
    return Selection(
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
    app: App,
    channel: int | None,
    *,
    limit: int | None = None,
    template: str | None = None,
    now: datetime | None = None,
) -> DigestPlan:
    """Select and render the next digest for ``channel`` (None: the default digest)."""
    digest = app.settings.digest_for(channel)
    if template:
        digest = replace(digest, template=template)
    when = now or app.clock.now()
    items = await app.store.select_for_digest(selection_for(digest, when, limit))
    key = digest_key(digest.channel, [item.id for item in items])
    messages = app.renderer.render_digest(
        [item.article for item in items], digest, now=when, ref=key
    )
    return DigestPlan(
        channel=digest.channel, digest=digest, items=items, messages=messages, key=key
    )
