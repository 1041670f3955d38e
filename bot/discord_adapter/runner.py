"""Entry points the CLI calls for Discord work: run the bot, publish over REST, sync commands.

Each returns an exit code and turns the failures an operator can fix (no token, a refused
token, Discord unreachable, a channel the bot cannot see) into one clear line.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import discord

from bot.app import App, open_app
from bot.config import Settings
from bot.discord_adapter.client import NewsBot
from bot.discord_adapter.endpoints import configure_endpoints
from bot.store import Trigger


def _fail(message: str) -> int:
    print(f"newsbot: error: {message}", file=sys.stderr)
    return 1


def _token(settings: Settings) -> str | None:
    token = settings.token.reveal()
    return token or None


@asynccontextmanager
async def _logged_in(settings: Settings, app: App) -> AsyncIterator[NewsBot]:
    """A client logged in over REST only (no gateway), closed on exit."""
    bot = NewsBot(app, sync_on_start=False)
    try:
        await bot.login(settings.token.reveal())
        yield bot
    finally:
        await bot.close()


def _connection_problem(settings: Settings, exc: BaseException) -> str | None:
    if isinstance(exc, discord.LoginFailure):
        return "Discord refused the token in DISCORD_TOKEN (reset it in the Developer Portal)"
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return "Discord refused the requested intents"
    if isinstance(exc, aiohttp.ClientError | OSError | asyncio.TimeoutError):
        return f"cannot reach Discord at {settings.api_base} ({type(exc).__name__}: {exc})"
    if isinstance(exc, discord.GatewayNotFound | discord.ConnectionClosed):
        return f"cannot connect to Discord's gateway ({exc})"
    if isinstance(exc, discord.HTTPException):
        return f"Discord answered {exc.status}: {exc.text}"
    return None


async def run_bot(settings: Settings) -> int:
    if _token(settings) is None:
        return _fail("DISCORD_TOKEN is not set; newsbot run needs the bot's token")
    from bot.schedule.effective import check_schedules

    check_schedules(settings)  # a bad cron or time zone stops start-up with its file and key
    configure_endpoints(settings)
    async with open_app(settings, schedules=True) as app:
        bot = NewsBot(app)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows
                loop.add_signal_handler(sig, lambda: bot.spawn(bot.close(), "shutdown"))
        try:
            async with bot:
                await bot.start(settings.token.reveal(), reconnect=True)
        except Exception as exc:
            problem = _connection_problem(settings, exc)
            if problem is None:
                raise
            return _fail(problem)
        if bot.startup_error is not None:
            return _fail(bot.startup_error)
    return 0


async def publish_once(settings: Settings, channel: int | None) -> int:
    """``newsbot publish``: resume unfinished digests and post due ones over REST."""
    if _token(settings) is None:
        return _fail("DISCORD_TOKEN is not set; newsbot publish needs the bot's token")
    channels = [channel] if channel else [d.channel for d in settings.digests if d.channel]
    if channel is not None:
        settings.digest_for(channel)  # a clear error for an unconfigured channel
    if not channels:
        return _fail(f"{settings.source}: digests: no digest channels are configured")
    configure_endpoints(settings)
    async with open_app(settings) as app:
        try:
            async with _logged_in(settings, app) as bot:
                publisher = bot.publisher
                resumed = await publisher.resume_unfinished()
                results = await publisher.publish_many(channels, trigger=Trigger.CLI)
        except Exception as exc:
            problem = _connection_problem(settings, exc)
            if problem is None:
                raise
            return _fail(problem)
    # What a crashed earlier run left half-sent and this run finished is reported too, so the
    # operator sees it went out (the channel's own line then says what this run found new).
    for result in resumed:
        print("resumed: " + result.summary.replace("<#", "channel ").replace(">", ""))
    for result in results:
        print(result.summary.replace("<#", "channel ").replace(">", ""))
    everything = resumed + results
    return 1 if any(r.status in ("failed", "retry_later") for r in everything) else 0


async def sync_commands(settings: Settings, *, globally: bool) -> int:
    if _token(settings) is None:
        return _fail("DISCORD_TOKEN is not set; newsbot sync-commands needs the bot's token")
    if not globally and settings.guild is None:
        return _fail(f"{settings.source}: guild: not set; give a guild or use --global")
    configure_endpoints(settings)
    async with open_app(settings) as app:
        try:
            async with _logged_in(settings, app) as bot:
                if globally:
                    synced = await bot.tree.sync()
                    where = "globally (may take up to an hour to appear)"
                else:
                    assert settings.guild is not None
                    target = discord.Object(id=settings.guild)
                    bot.tree.copy_global_to(guild=target)
                    synced = await bot.tree.sync(guild=target)
                    where = f"to guild {settings.guild}"
        except Exception as exc:
            problem = _connection_problem(settings, exc)
            if problem is None:
                raise
            return _fail(problem)
    print(f"synced {len(synced)} commands {where}")
    return 0
