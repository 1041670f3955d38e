"""Four ``newsbot worker`` processes on one PostgreSQL database, through the Discord double:
every channel due in the same minute gets exactly one digest, all its parts once and in
order, while workers are SIGKILLed and restarted in the middle of publishing."""

from __future__ import annotations

import functools
import random
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import open_app
from bot.config import Settings
from bot.discord_adapter.ids import review_button_item
from bot.store import QueueQuery
from bot.store.dsn import DatabaseUrl
from tests.discord_double import DiscordDouble
from tests.fleet import PARTS, Fleet, newsroom, prepare_fleet

CHANNELS = 200
WORKERS = 4
KILLS = 10
INTERRUPTED = re.compile(r"making it now \((?:its claimer [^:\s]+:(\d+):\w+ is gone|(.+?))\)")


@pytest.fixture
async def double() -> AsyncIterator[DiscordDouble]:
    started = DiscordDouble(guild=newsroom(CHANNELS))
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


@pytest.fixture
async def fleet(double: DiscordDouble, tmp_path: Path, pg_url: DatabaseUrl) -> AsyncIterator[Fleet]:
    made = await prepare_fleet(double, tmp_path, CHANNELS, pg_url)
    try:
        yield made
    finally:
        for process in made.running():
            await made.kill(process)


async def test_four_workers_killed_ten_times_post_every_digest_once_in_order(
    fleet: Fleet, double: DiscordDouble
) -> None:
    expected = CHANNELS * PARTS
    for _ in range(WORKERS):
        await fleet.start()
    rng = random.Random(16)
    killed: set[int] = set()
    # Kill a random worker each time publishing has moved on, and start another in its place.
    for kill in range(KILLS):
        goal = (kill + 1) * expected // (KILLS + 2)
        await double.wait_until(functools.partial(fleet.reached, goal), 120, f"{goal} messages")
        victim = rng.choice(fleet.running())
        killed.add(victim.pid)
        await fleet.kill(victim)
        await fleet.start()
    try:
        await double.wait_until(functools.partial(fleet.reached, expected), 180, "every digest")
        codes = await fleet.stop()  # SIGTERM: each closes cleanly
    except Exception:
        print(fleet.log_tail())
        raise
    assert codes and all(code == 0 for code in codes), fleet.log_tail()
    assert fleet.started == WORKERS + KILLS
    # A run is taken for interrupted only when the worker that claimed it was killed, never
    # while a live worker is still writing its digest.
    claimers = INTERRUPTED.findall(fleet.log_tail(lines=100_000))
    assert {int(pid) if pid else why for pid, why in claimers} <= killed, (claimers, killed)
    limited = [
        (r.route, r.path, r.limit_scope, round(r.at, 3)) for r in double.requests if r.status == 429
    ]
    assert double.count_429 == 0, limited
    async with open_app(Settings(database=fleet.database)) as app:
        assert await app.store.unfinished_digests() == []
        items = [item.id for item in await app.store.list_items(QueueQuery())]
        deliveries = await app.store.deliveries_of(items)
    assert len(items) == CHANNELS * PARTS
    digests: dict[int, set[int]] = {}
    for item_id in items:
        [delivery] = deliveries[item_id]  # each item published once
        assert delivery.digest_id is not None
        digests.setdefault(delivery.channel_id, set()).add(delivery.digest_id)
    # One digest per channel, each its own.
    assert sorted(digests) == sorted(fleet.channels)
    assert all(len(ids) == 1 for ids in digests.values())
    assert len({next(iter(ids)) for ids in digests.values()}) == CHANNELS
    for channel in fleet.channels:
        messages = double.messages(channel)
        # Both parts once, in order: the first carries item 1, the second item 2.
        assert len(messages) == PARTS, (channel, [m["content"][:60] for m in messages])
        assert [m["content"].count("**1. ") for m in messages] == [1, 0]
        assert [m["content"].count("**2. ") for m in messages] == [0, 1]
        posted = {d.message_id for i in items for d in deliveries[i] if d.channel_id == channel}
        assert posted == {int(m["id"]) for m in messages}


async def test_review_items_are_posted_once_while_the_posting_worker_is_killed(
    double: DiscordDouble, tmp_path: Path, pg_url: DatabaseUrl
) -> None:
    items = 12
    fleet = await prepare_fleet(double, tmp_path, 2, pg_url, for_review=items)
    try:
        for _ in range(3):
            await fleet.start()
        review = double.channel("review").id
        await double.wait_until(
            lambda: len(review_posts(double, review)) >= 3 or None, 60, "3 posts"
        )
        # Kill the worker that holds the review duty: another takes it over and goes on.
        async with open_app(Settings(database=fleet.database)) as app:
            holder = await app.store.duty_holder("review posts", datetime.now(UTC))
        assert holder is not None
        pid = int(holder.split(":")[1])
        [posting] = [p for p in fleet.running() if p.pid == pid]
        await fleet.kill(posting)
        await double.wait_until(
            lambda: len(review_posts(double, review)) >= items or None, 120, "every review post"
        )
        async with open_app(Settings(database=fleet.database)) as app:
            after = await app.store.duty_holder("review posts", datetime.now(UTC))
        codes = await fleet.stop()
    except Exception:
        print(fleet.log_tail())
        raise
    finally:
        for process in fleet.running():
            await fleet.kill(process)
    assert after is not None and after != holder
    assert codes == [0, 0]
    posts = review_posts(double, review)
    assert sorted(posts) == sorted(set(posts)) and len(posts) == items  # each item once


def review_posts(double: DiscordDouble, channel: int) -> list[int]:
    """The item of each review post in the channel (one per post)."""
    found: list[int] = []
    for message in double.messages(channel):
        ids = {
            review_button_item(component.get("custom_id"))
            for row in message.get("components") or []
            for component in row.get("components") or []
        } - {None}
        found.extend(i for i in ids if i is not None)
    return found
