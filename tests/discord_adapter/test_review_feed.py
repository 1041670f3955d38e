"""The review channel at volume: at most ``review_feed_max`` posts an hour, highest quality
first, and one standing message (edited, never posted twice) for the rest. Time is the
injected ManualClock; the bot is real discord.py against the loopback double."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import open_app
from bot.articles import Article, Provider
from bot.clock import ManualClock
from bot.config import Settings
from bot.discord_adapter.review import ReviewFeed
from tests.discord_double import BucketSpec, DiscordDouble, RateLimitConfig
from tests.discord_double.fixtures import DoubleFactory
from tests.reliability import harness
from tests.reliability.harness import running_bot

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PENDING = 10_000
PER_HOUR = 4


async def seed(settings: Settings, count: int) -> None:
    articles = [
        Article(
            url=f"https://ex.org/{n}",
            web_url=f"https://ex.org/{n}",
            title=f"Story {n}",
            provider=Provider("Example", "ex.org"),
            quality=n % 1000,  # 10 items each of quality 999, 998, ...
            source=f"---\ntitle: Story {n}\n---\n",
            source_hash=f"h{n}",
        )
        for n in range(count)
    ]
    async with open_app(settings) as app:
        await app.store.upsert_articles(articles, actor="test")


def item_posts(double: DiscordDouble) -> list[dict[str, Any]]:
    return [m for m in double.messages("review") if m["components"]]


def standing(double: DiscordDouble) -> list[dict[str, Any]]:
    return [m for m in double.messages("review") if m["content"].startswith("📥")]


def qualities(posts: list[dict[str, Any]]) -> list[int]:
    """The quality of each posted item (story n has quality n % 1000)."""
    return [int(re.search(r"Story (\d+)", m["content"])[1]) % 1000 for m in posts]  # type: ignore[index]


def feed_of(bot: Any) -> ReviewFeed:
    feed = bot.get_cog(ReviewFeed.__cog_name__)
    assert isinstance(feed, ReviewFeed)
    return feed


async def test_ten_thousand_pending_items_get_at_most_the_hourly_posts(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    # Discord's own pacing (5 posts per 5 s) would only slow the test; the limit under test
    # is newsbot's.
    double = await discord_double_factory(
        rate_limits=RateLimitConfig(message_create=BucketSpec(50, 5.0))
    )
    settings = harness.settings_for(
        double, tmp_path / "newsbot.db", digests=(), review_feed_max=PER_HOUR
    )
    await seed(settings, PENDING)
    clock = ManualClock(T0)
    async with running_bot(settings, double, clock) as bot:
        await double.wait_for_messages("review", PER_HOUR + 1, timeout=10)
        await clock.wait_for_sleepers(1)
        assert clock.deadlines == [T0 + timedelta(hours=1)]  # when a post is free again
        assert len(item_posts(double)) == PER_HOUR
        assert qualities(item_posts(double)) == [999] * PER_HOUR  # highest quality first
        [note] = standing(double)
        assert note["content"] == (
            f"📥 **{PENDING - PER_HOUR:,}** more pending items wait beyond the {PER_HOUR} posted"
            " here each hour (highest quality first). Go through them with `/news review`."
        )
        # Half an hour on, another pass posts nothing.
        clock.advance(timedelta(minutes=30))
        assert await feed_of(bot).post_pending() == T0 + timedelta(hours=1)
        assert len(item_posts(double)) == PER_HOUR
        # The hour is over: the next posts, and the same standing message, edited.
        clock.advance(timedelta(minutes=30))
        await double.wait_until(lambda: len(item_posts(double)) == 2 * PER_HOUR or None, timeout=10)
        await double.wait_until(
            lambda: f"**{PENDING - 2 * PER_HOUR:,}**" in standing(double)[0]["content"] or None,
            timeout=10,
        )
        assert [m["id"] for m in standing(double)] == [note["id"]]
    # A restart within the hour posts nothing, and never a second standing message.
    async with running_bot(settings, double, clock):
        await clock.wait_for_sleepers(1)
    assert len(item_posts(double)) == 2 * PER_HOUR
    assert [m["id"] for m in standing(double)] == [note["id"]]
    item_ids = [m["components"][0]["components"][0]["custom_id"] for m in item_posts(double)]
    assert len(set(item_ids)) == len(item_ids)  # nothing posted twice


async def test_a_lost_standing_record_is_found_again_not_posted_twice(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    settings = harness.settings_for(
        discord_double, tmp_path / "newsbot.db", digests=(), review_feed_max=1
    )
    await seed(settings, 3)
    clock = ManualClock(T0)
    async with running_bot(settings, discord_double, clock):
        await discord_double.wait_for_messages("review", 2, timeout=10)
        await clock.wait_for_sleepers(1)
    [note] = standing(discord_double)
    async with open_app(settings) as app:
        await app.store.set_bot_message("review-standing", 1, 1)  # as if for another channel
    clock.advance(timedelta(hours=1))
    async with running_bot(settings, discord_double, clock):
        await discord_double.wait_until(
            lambda: len(item_posts(discord_double)) == 2 or None, timeout=10
        )
        await discord_double.wait_until(
            lambda: "**1**" in standing(discord_double)[0]["content"] or None, timeout=10
        )
        await clock.wait_for_sleepers(1)
    assert [m["id"] for m in standing(discord_double)] == [note["id"]]


async def test_review_feed_off_posts_nothing(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    settings = harness.settings_for(
        discord_double, tmp_path / "newsbot.db", digests=(), review_feed="off"
    )
    await seed(settings, 3)
    async with running_bot(settings, discord_double) as bot:
        assert "review feed" not in {t.get_name() for t in asyncio.all_tasks()}
        assert await feed_of(bot).post_pending() is None
    assert discord_double.messages("review") == []
