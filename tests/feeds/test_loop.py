"""The poll loop on a ManualClock: feeds known at start are spread over their interval, each
is polled again on its interval, and a feed added later is polled at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App, open_app
from bot.clock import ManualClock
from bot.config import FeedSettings, Settings
from bot.feeds.fetch import Fetcher
from bot.feeds.loop import FeedLoop, spread
from tests.feeds.conftest import loopback_only
from tests.feeds.server import FeedServer

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_spread_is_stable_and_within_the_interval() -> None:
    interval = timedelta(minutes=15)
    offsets = [spread(f"https://feeds.example/{n}.xml", interval) for n in range(500)]
    assert all(timedelta(0) <= o < interval for o in offsets)
    assert offsets == [spread(f"https://feeds.example/{n}.xml", interval) for n in range(500)]
    # Spread out, not bunched: every minute of the interval has some feeds, none most.
    minutes = [int(o.total_seconds() // 60) for o in offsets]
    assert set(minutes) == set(range(15)) and max(map(minutes.count, range(15))) < 60


@pytest.fixture
async def setup(
    tmp_path: Path, feed_server: FeedServer
) -> AsyncIterator[tuple[App, ManualClock, list[str]]]:
    urls = [
        feed_server.fixture("/one", "rss2.xml", "application/rss+xml"),
        feed_server.fixture("/two", "atom.xml", "application/atom+xml"),
    ]
    settings = Settings(
        database=tmp_path / "newsbot.db",
        feeds=tuple(FeedSettings(u, interval=timedelta(minutes=15)) for u in urls),
    )
    clock = ManualClock(START)
    async with open_app(settings, clock=clock) as app:
        yield app, clock, urls


async def test_the_loop_spreads_first_polls_then_keeps_each_interval(
    setup: tuple[App, ManualClock, list[str]], feed_server: FeedServer
) -> None:
    app, clock, urls = setup
    loop = FeedLoop(
        app.settings,
        app.store,
        clock,
        fetcher=lambda: Fetcher(loopback_only, timeout=5.0),
        idle=timedelta(hours=1),
    )
    task = asyncio.create_task(loop.run())
    try:
        await asyncio.wait_for(clock.wait_for_sleepers(1), 10)
        firsts = sorted(START + spread(u, timedelta(minutes=15)) for u in urls)
        assert clock.deadlines == [firsts[0] if firsts[0] > START else firsts[1]]
        for when in firsts:
            if when > clock.now():
                clock.set(when)
                await asyncio.wait_for(clock.wait_for_sleepers(1), 10)
        assert feed_server.hits["/one"] == 1 and feed_server.hits["/two"] == 1
        # Each again one interval after its first poll, with a conditional GET.
        clock.set(firsts[1] + timedelta(minutes=15))
        await asyncio.wait_for(clock.wait_for_sleepers(1), 10)
        assert feed_server.not_modified["/one"] == 1 and feed_server.not_modified["/two"] == 1

        added = feed_server.fixture("/three", "feed.json", "application/feed+json")
        await app.store.add_feed(added, ("News",), actor="test")
        loop.wake()
        await asyncio.wait_for(loop.settled(), 10)
        assert feed_server.hits["/three"] == 1
    finally:
        loop.stop()
        await asyncio.wait_for(task, 10)
