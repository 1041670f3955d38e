"""``newsbot gateway`` beside ``newsbot worker``: the gateway answers commands and buttons and
does none of the work; the worker, with no gateway connection, does it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app import open_app
from bot.config import Settings
from bot.discord_adapter.client import NewsBot, ShardedNewsBot
from bot.discord_adapter.endpoints import configure_endpoints
from bot.processes import Role
from bot.store import Status
from tests.discord_double import (
    DiscordDouble,
    DoubleFactory,
    GuildBuilder,
    SnowflakeGenerator,
    User,
    on_shard,
    shard_of,
)
from tests.discord_double.state import default_guild
from tests.reliability import harness
from tests.reliability.harness import running_bot
from tests.test_bot_e2e import seeded
from tests.test_workers_e2e import review_posts

__all__ = ["seeded"]  # the fixture, used by name


@asynccontextmanager
async def working(settings: Settings) -> AsyncIterator[NewsBot]:
    """A worker as ``newsbot worker`` runs it: logged in over REST, no gateway."""
    async with open_app(settings) as app:
        bot = NewsBot(
            app, role=Role.WORKER, sync_on_start=False, review_poll=timedelta(seconds=0.1)
        )
        await bot.join()
        await bot.login(settings.token.reveal())
        task = asyncio.create_task(bot.work())
        try:
            await asyncio.wait_for(bot.serving.wait(), 10)
            yield bot
        finally:
            await bot.close()
            await asyncio.wait_for(task, 10)


async def test_the_gateway_answers_and_the_worker_posts(
    discord_double: DiscordDouble, tmp_path: Path, seeded: Path, restore_endpoints: None
) -> None:
    settings = harness.settings_for(discord_double, seeded)
    review = discord_double.channel("review").id
    async with running_bot(settings, discord_double, role=Role.GATEWAY) as gateway:
        # A command round trip: the gateway serves, and has started none of the work.
        handle = await discord_double.send_slash_command("news queue", {}, user="moderator")
        await handle.response()
        assert gateway.scheduler is None and gateway.feed_loop is None
        assert gateway.ready_to_serve
        assert review_posts(discord_double, review) == []
        async with working(settings) as worker:
            assert worker.ready_to_serve  # logged in, no gateway: ready all the same
            assert worker.scheduler is not None
            posts = await discord_double.wait_until(
                lambda: review_posts(discord_double, review) or None, 10, "review posts"
            )
            await discord_double.wait_until(
                lambda: len(review_posts(discord_double, review)) >= 3 or None, 10
            )
            posted = review_posts(discord_double, review)
            assert sorted(posted) == sorted(set(posted)) and len(posted) == 3  # each once
            messages = len(discord_double.messages(review))
            first = posts[0]
            # A moderator's button goes through the gateway, whichever process posted it.
            button = f"newsbot:review:approve:{first}"
            [message] = [
                m for m in discord_double.messages(review) if f"'{button}'" in str(m["components"])
            ]
            click = await discord_double.click_button(message, button, user="moderator")
            await click.response()
            # The post is edited to show the decision (no buttons); nothing is posted anew.
            assert sorted(review_posts(discord_double, review)) == sorted(set(posted) - {first})
            assert len(discord_double.messages(review)) == messages
    async with open_app(settings) as app:
        assert (await app.store.get(first)).status is Status.APPROVED
        assert await app.store.duty_holder("review posts", app.clock.now()) is None  # released


@asynccontextmanager
async def gateway_on(
    settings: Settings, double: DiscordDouble, shard: int, count: int
) -> AsyncIterator[ShardedNewsBot]:
    """``newsbot gateway --shard-ids shard --shard-count count``, in this process."""
    configure_endpoints(settings)
    async with open_app(settings) as app:
        bot = ShardedNewsBot(
            app, role=Role.GATEWAY, sync_on_start=shard == 0, shard_ids=[shard], shard_count=count
        )
        await bot.join()
        task = asyncio.create_task(bot.start(settings.token.reveal()))
        try:
            await asyncio.wait_for(bot.started.wait(), 10)
            yield bot
        finally:
            await bot.close()
            await asyncio.wait_for(task, 10)


async def test_two_gateway_processes_each_answer_the_guilds_of_their_shard(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    def elsewhere(bot: User, ids: SnowflakeGenerator) -> Any:
        # On the other shard of two from the newsroom (made first, so its id is smaller).
        b = GuildBuilder("Elsewhere", ids=ids, id=on_shard(ids(), 1 - newsroom_shard[0], 2))
        b.member("owner", owner=True)
        b.add_user(bot, key="bot")
        b.text_channel("news")
        return b.build()

    newsroom_shard: list[int] = []

    def newsroom(bot: User, ids: SnowflakeGenerator) -> Any:
        guild = default_guild(bot, ids)
        newsroom_shard.append(shard_of(guild.id, 2))
        return guild

    double = await discord_double_factory(guild=newsroom, extra_guilds=[elsewhere])
    settings = harness.settings_for(double, tmp_path / "newsbot.db")
    home = newsroom_shard[0]
    async with (
        gateway_on(settings, double, 0, 2) as zero,
        gateway_on(settings, double, 1, 2) as one,
    ):
        holder, other = (zero, one) if home == 0 else (one, zero)
        # Each checked only the channels on its shards; neither refused to start.
        assert holder.startup_error is None and other.startup_error is None
        assert [g.name for g in holder.guilds] == ["Newsroom"]
        assert [g.name for g in other.guilds] == ["Elsewhere"]
        assert double.commands()  # the holder of shard 0 registered the commands
        completed = asyncio.ensure_future(holder.wait_for("app_command_completion", timeout=10))
        handle = await double.send_slash_command("news queue", {}, user="moderator")
        await handle.response()
        await completed
        assert holder.ready_to_serve and other.ready_to_serve
    shards = {
        e.detail["shard"]
        for e in double.gateway.log
        if e.kind == "dispatch" and e.detail["event"] == "INTERACTION_CREATE"
    }
    assert shards == {home}
