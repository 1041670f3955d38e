"""``newsbot gateway`` beside ``newsbot worker``: the gateway answers commands and buttons and
does none of the work; the worker, with no gateway connection, does it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from bot.app import open_app
from bot.config import Settings
from bot.discord_adapter.client import NewsBot
from bot.processes import Role
from bot.store import Status
from tests.discord_double import DiscordDouble
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
