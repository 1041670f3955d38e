"""Announcement crossposts end to end (bot/crosspost.py, issue 14), through ``newsbot
publish``'s code path and the double, which limits crossposts per channel (about 10 an hour)
and refuses a second crosspost of a message (40033).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.app import open_app
from bot.config import Crosspost, DigestChannel
from bot.discord_adapter.runner import publish_once
from tests.discord_double import (
    BucketSpec,
    DiscordDouble,
    DoubleFactory,
    GuildBuilder,
    ManualClock,
    RateLimitConfig,
    User,
)
from tests.discord_double.clock import SnowflakeGenerator
from tests.discord_double.state import BOT_ROLE_PERMISSIONS, ChannelType
from tests.reliability.harness import running_bot
from tests.test_publish_e2e import THREE_PARTS, approve_articles, settings_for, write_articles

CROSSPOSTS = "POST /channels/*/messages/*/crosspost"
ROOMY = BucketSpec(50, 5.0)


def announcing_newsroom(bot: User, ids: SnowflakeGenerator) -> Any:
    b = GuildBuilder("Announcements", ids=ids)
    bot_role = b.role("newsbot", BOT_ROLE_PERMISSIONS, key="bot-role", position=1)
    b.member("owner", owner=True)
    b.add_user(bot, roles=[bot_role], key="bot")
    b.text_channel("review")
    b.text_channel("alerts", key="announce-a", type=ChannelType.GUILD_ANNOUNCEMENT)
    b.text_channel("bulletin", key="announce-b", type=ChannelType.GUILD_ANNOUNCEMENT)
    b.text_channel("plain")
    return b.build()


async def setup(
    double: DiscordDouble, tmp_path: Path, a: Crosspost, b: Crosspost = Crosspost.OFF
) -> Any:
    ids = {key: double.channel(key).id for key in ("announce-a", "announce-b", "plain")}
    settings = settings_for(
        double,
        tmp_path,
        DigestChannel(channel=ids["announce-a"], topics=("A",), crosspost=a, **THREE_PARTS),
        DigestChannel(channel=ids["announce-b"], topics=("B",), crosspost=b, **THREE_PARTS),
        DigestChannel(channel=ids["plain"], topics=("C",)),
    )
    for topic in ("A", "B", "C"):
        write_articles(tmp_path / topic, 10, topic=topic, words=60)
        await approve_articles(settings, tmp_path / topic)
    return settings, ids


async def waiting(settings: Any) -> int:
    async with open_app(settings) as app:
        return len(await app.store.waiting_crossposts(100))


async def test_first_crossposts_the_first_part_and_all_every_part(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(
        guild=announcing_newsroom, rate_limits=RateLimitConfig(message_create=ROOMY)
    )
    settings, ids = await setup(double, tmp_path, Crosspost.FIRST, Crosspost.ALL)
    run = await publish_once(settings, None)
    assert not run.failed
    first = double.messages(ids["announce-a"])
    every = double.messages(ids["announce-b"])
    assert len(first) >= 2 and len(every) >= 2
    assert sorted(double.crossposts) == sorted(
        [int(first[0]["id"])] + [int(m["id"]) for m in every]
    )
    assert all(m["flags"] & 1 for m in every) and not first[1]["flags"] & 1
    assert double.requests_to(CROSSPOSTS) and await waiting(settings) == 0


async def test_an_hour_long_crosspost_limit_delays_nothing_and_nothing_is_crossposted_twice(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    clock = ManualClock()
    double = await discord_double_factory(
        guild=announcing_newsroom,
        clock=clock,
        rate_limits=RateLimitConfig(message_create=ROOMY, crosspost=BucketSpec(1, 3600.0)),
    )
    settings, ids = await setup(double, tmp_path, Crosspost.ALL)
    # The first crosspost uses the hour's one; Discord's answer says none remain, so the next
    # waits in the queue without being tried.
    run = await asyncio.wait_for(publish_once(settings, ids["announce-a"]), 60)
    assert not run.failed
    parts = double.messages(ids["announce-a"])
    assert len(parts) >= 3
    assert double.crossposts == [int(parts[0]["id"])]
    assert len(double.requests_to(CROSSPOSTS)) == 1
    assert await waiting(settings) == len(parts) - 1
    # The other channels' digests go out at once.
    others = await asyncio.wait_for(publish_once(settings, ids["plain"]), 60)
    assert not others.failed and double.messages(ids["plain"])
    # Another process, which does not know of the limit, tries: Discord answers 429 with an
    # hour to wait, and discord.py is not left sitting that out (the guard only catches a hang).
    await asyncio.wait_for(publish_once(settings, ids["announce-a"]), 60)
    assert double.count_429 >= 1  # (discord.py may try once more before it would sleep)
    assert double.crossposts == [int(parts[0]["id"])]
    # Each hour after, one more, each once.
    for _ in parts[1:]:
        clock.advance(3601)
        await asyncio.wait_for(publish_once(settings, ids["announce-a"]), 60)
    assert double.crossposts == [int(m["id"]) for m in parts]
    assert await waiting(settings) == 0


async def test_a_crosspost_discord_made_before_the_answer_was_lost_counts_as_done(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(
        guild=announcing_newsroom, rate_limits=RateLimitConfig(message_create=ROOMY)
    )
    settings, ids = await setup(double, tmp_path, Crosspost.FIRST)
    hold = double.hold(CROSSPOSTS, after_handling=True)
    publishing = asyncio.ensure_future(publish_once(settings, ids["announce-a"]))
    await hold.wait(timeout=30)
    hold.drop()  # Discord crossposted it; the connection closes before the answer
    assert not (await asyncio.wait_for(publishing, 60)).failed
    assert await waiting(settings) == 1
    await asyncio.wait_for(publish_once(settings, ids["announce-a"]), 60)
    first = int(double.messages(ids["announce-a"])[0]["id"])
    assert double.crossposts == [first]  # 40033 the second time: done, not tried again
    assert await waiting(settings) == 0
    async with open_app(settings) as app:
        assert await app.store.waiting_crossposts(10) == []


async def test_the_running_bot_crossposts_as_soon_as_a_digest_is_posted(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(
        guild=announcing_newsroom, rate_limits=RateLimitConfig(message_create=ROOMY)
    )
    settings, ids = await setup(double, tmp_path, Crosspost.FIRST)
    async with running_bot(settings, double) as bot:
        result = await bot.publisher.publish(ids["announce-a"])
        assert result.status == "posted"
        first = int(double.messages(ids["announce-a"])[0]["id"])
        assert await double.wait_until(lambda: double.crossposts or None, timeout=10) == [first]
    # Stopped right after Discord's answer, perhaps before it was recorded: the next run
    # settles it (done, or 40033 "already crossposted") without a second crosspost.
    await asyncio.wait_for(publish_once(settings, ids["announce-a"]), 60)
    assert double.crossposts == [first]
    assert await waiting(settings) == 0
