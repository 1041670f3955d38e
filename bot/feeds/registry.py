"""Which feeds newsbot polls: those of the config file (``feeds:``) and those moderators add
with ``/feed add`` (stored in the database), with each one's polling state.

The config file's feeds are changed in the file; ``/feed remove`` says so instead of pretending
to remove one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.articles.urls import http_url_problem, safe_url
from bot.config import FeedSettings, Settings
from bot.errors import FeedError, NotFound
from bot.store import FeedState, Store

MAX_TOPICS = 25


@dataclass(frozen=True, slots=True)
class FeedStatus:
    feed: FeedSettings
    state: FeedState | None
    """None until the feed was polled once."""

    def as_json(self) -> dict[str, Any]:
        """The object ``newsbot feeds --json`` prints for this feed."""
        feed, state = self.feed, self.state or FeedState(url=self.feed.url)
        return {
            "url": feed.url,
            "added_by": feed.added_by,
            "topics": list(feed.topics),
            "interval_seconds": int(feed.interval.total_seconds()),
            "last_fetch": _iso(state.last_fetch_at),
            "last_status": state.last_status or None,
            "entries": state.entries,
            "failures": state.failures,
            "next_fetch": _iso(state.next_fetch_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def feed_url(url: str) -> str:
    """The address a feed is known by; FeedError for one that cannot be fetched."""
    url = url.strip()
    problem = http_url_problem(url)
    if problem is not None:
        raise FeedError(f"{url!r} {problem}; a feed needs its http(s) address")
    safe = safe_url(url)
    assert safe is not None  # http_url_problem passed it
    return safe


async def all_feeds(settings: Settings, store: Store) -> list[FeedSettings]:
    """The config file's feeds, then the added ones (a URL in both counts once, as the
    config file says)."""
    feeds = list(settings.feeds)
    configured = {f.url for f in feeds}
    for stored in await store.stored_feeds():
        if stored.url not in configured:
            feeds.append(FeedSettings(stored.url, topics=stored.topics, added_by=stored.added_by))
    return feeds


async def feed_statuses(settings: Settings, store: Store) -> list[FeedStatus]:
    states = await store.feed_states()
    return [FeedStatus(f, states.get(f.url)) for f in await all_feeds(settings, store)]


def parse_topics(text: str | None) -> tuple[str, ...]:
    """``AI, Space`` -> ('AI', 'Space'): the topics option of ``/feed add``."""
    topics: list[str] = []
    for part in (text or "").split(","):
        topic = " ".join(part.split())
        if topic and topic not in topics:
            topics.append(topic[:100])
    if len(topics) > MAX_TOPICS:
        raise FeedError(f"too many topics ({len(topics)}; at most {MAX_TOPICS})")
    return tuple(topics)


async def add_feed(
    settings: Settings, store: Store, url: str, topics: Sequence[str], *, actor: str
) -> tuple[FeedSettings, bool]:
    """Add a feed to poll; returns (feed, added). A feed already polled is not added again."""
    address = feed_url(url)
    for feed in await all_feeds(settings, store):
        if feed.url == address:
            return feed, False
    added = await store.add_feed(address, topics, actor=actor)
    return FeedSettings(address, topics=tuple(topics), added_by=actor), added


async def remove_feed(settings: Settings, store: Store, url: str) -> str:
    """Stop polling an added feed (its articles stay in the queue); returns its address."""
    address = feed_url(url)
    if any(f.url == address for f in settings.feeds):
        raise FeedError(
            f"{address} is set in {settings.source} (feeds:); remove it there and restart"
        )
    if not await store.remove_feed(address):
        raise NotFound("feed", address)
    return address
