"""The double's message edits (PATCH /channels/{id}/messages/{id}), proven with discord.py:
only the author edits (50005), not in an archived thread (50083), a message older than an hour
takes a bounded number of edits (30046), mentions are parsed again under the edit's
``allowed_mentions``, and ``edited_timestamp`` is set."""

from __future__ import annotations

from typing import Any

import discord
from discord.http import Route

from tests.discord_double import (
    BucketSpec,
    DiscordDouble,
    DoubleFactory,
    ManualClock,
    RateLimitConfig,
)
from tests.discord_double.forum import archive
from tests.test_discord_double import raw_params, running

HOUR = 3600.0


async def patch(bot: discord.Client, channel: int, message: int, **body: Any) -> int | None:
    """The error code of a raw edit, or None when it was accepted."""
    route = Route("PATCH", f"/channels/{channel}/messages/{message}")
    try:
        await bot.http.request(route, json=body)
    except discord.HTTPException as exc:
        return exc.code
    return None


async def test_only_the_author_edits_and_the_edit_is_stamped(
    discord_double: DiscordDouble,
) -> None:
    double = discord_double
    channel = double.channel("general").id
    async with running(double, sync=False) as bot:
        theirs = double.add_message("general", "member", "not yours")
        assert await patch(bot, channel, int(theirs["id"]), content="mine now") == 50005
        assert double.message(theirs["id"])["content"] == "not yours"
        ours = await bot.http.send_message(channel, params=raw_params({"content": "v1"}))
        assert double.message(ours["id"])["edited_timestamp"] is None
        assert await patch(bot, channel, int(ours["id"]), content="v2") is None
        edited = double.message(ours["id"])
        assert edited["content"] == "v2" and edited["edited_timestamp"] is not None


async def test_mentions_are_parsed_again_under_the_edits_allowed_mentions(
    discord_double: DiscordDouble,
) -> None:
    double = discord_double
    channel = double.channel("general").id
    member = double.user("member").id
    async with running(double, sync=False) as bot:
        sent = await bot.http.send_message(
            channel, params=raw_params({"content": "hi", "allowed_mentions": {"parse": []}})
        )
        ping = f"<@{member}> look"
        none = {"parse": []}
        assert (
            await patch(bot, channel, int(sent["id"]), content=ping, allowed_mentions=none) is None
        )
        assert double.message(sent["id"])["mentions"] == []
        # Without allowed_mentions, Discord parses the edited content's mentions as on a send.
        assert await patch(bot, channel, int(sent["id"]), content=ping + "!") is None
        assert [m["id"] for m in double.message(sent["id"])["mentions"]] == [str(member)]
        bad = {"parse": ["users"], "users": [str(member)]}
        assert await patch(bot, channel, int(sent["id"]), content="x", allowed_mentions=bad) == (
            50035
        )


async def test_old_messages_take_a_bounded_number_of_edits(
    discord_double_factory: DoubleFactory,
) -> None:
    clock = ManualClock()
    roomy = BucketSpec(50, 1.0)  # the test is about 30046, not the edit bucket
    double = await discord_double_factory(
        clock=clock,
        old_message_edits=2,
        rate_limits=RateLimitConfig(message_create=roomy, message_edit=roomy),
    )
    channel = double.channel("general").id
    async with running(double, sync=False) as bot:
        old = await bot.http.send_message(channel, params=raw_params({"content": "old"}))
        # Within its first hour a message takes any number of edits.
        for n in range(4):
            assert await patch(bot, channel, int(old["id"]), content=f"young {n}") is None
        clock.advance(HOUR + 1)
        young = await bot.http.send_message(channel, params=raw_params({"content": "young"}))
        assert await patch(bot, channel, int(old["id"]), content="a") is None
        assert await patch(bot, channel, int(old["id"]), content="b") is None
        assert await patch(bot, channel, int(old["id"]), content="c") == 30046
        assert double.message(old["id"])["content"] == "b"
        # Another message is not affected.
        for n in range(3):
            assert await patch(bot, channel, int(young["id"]), content=f"y{n}") is None


async def test_no_edits_in_an_archived_thread(discord_double: DiscordDouble) -> None:
    double = discord_double
    channel = double.channel("digest-general").id
    async with running(double, sync=False) as bot:
        first = await bot.http.send_message(channel, params=raw_params({"content": "part 1"}))
        thread = await bot.http.start_thread_with_message(
            channel, first["id"], name="Talk", auto_archive_duration=1440, rate_limit_per_user=None
        )
        inside = await bot.http.send_message(
            int(thread["id"]), params=raw_params({"content": "in thread"})
        )
        archive(double.channel(int(thread["id"])))
        assert await patch(bot, int(thread["id"]), int(inside["id"]), content="x") == 50083
        assert double.message(inside["id"])["content"] == "in thread"
        # The message the thread started on lives in its channel, which is not archived.
        assert await patch(bot, channel, int(first["id"]), content="part 1, edited") is None
