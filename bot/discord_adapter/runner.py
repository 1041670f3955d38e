"""Entry points the CLI calls for Discord work: run the bot, publish over REST, sync commands.

They return what they did and raise the failures an operator can fix (no token, a refused
token, Discord unreachable, a channel the bot cannot see) as typed errors whose message is
one clear line; the CLI alone prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
import discord

from bot.app import App, open_app
from bot.config import Settings
from bot.corrections import EditRound
from bot.discord_adapter.client import NewsBot, ShardedNewsBot
from bot.discord_adapter.endpoints import configure_endpoints
from bot.errors import LoginFailed, StartupError
from bot.metrics import serve
from bot.processes import Role
from bot.publish import PublishResult, PublishStatus
from bot.store import Trigger


@dataclass(frozen=True, slots=True)
class PublishRun:
    """What ``newsbot publish`` did: the digests a crashed earlier run left half-sent and
    this run finished, then each channel's new digest."""

    resumed: list[PublishResult]
    results: list[PublishResult]
    edits: EditRound = field(default_factory=EditRound)
    """The pass over the edits outbox (corrections, retractions) that followed."""

    @property
    def failed(self) -> bool:
        blocking = (PublishStatus.FAILED, PublishStatus.RETRY_LATER)
        return any(r.status in blocking for r in self.resumed + self.results)


def _require_token(settings: Settings, command: str) -> None:
    if not settings.token.reveal():
        raise LoginFailed(f"DISCORD_TOKEN is not set; newsbot {command} needs the bot's token")


@asynccontextmanager
async def _logged_in(
    settings: Settings, app: App, *, role: str | None = None
) -> AsyncIterator[NewsBot]:
    """A client logged in over REST only (no gateway), closed on exit; with ``role``, counted
    among the database's processes for its share of the global limit."""
    bot = NewsBot(app, sync_on_start=False)
    try:
        if role is not None:
            bot.membership.role = role
            await bot.join()
        await bot.login(settings.token.reveal())
        yield bot
    finally:
        await bot.close()


def _connection_error(settings: Settings, exc: BaseException) -> StartupError | None:
    """The operator's view of a failure to talk to Discord; None for anything else (a bug)."""
    if isinstance(exc, discord.LoginFailure):
        return LoginFailed(
            "Discord refused the token in DISCORD_TOKEN (reset it in the Developer Portal)"
        )
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return StartupError("Discord refused the requested intents")
    if isinstance(exc, aiohttp.ClientError | OSError | asyncio.TimeoutError):
        return StartupError(
            f"cannot reach Discord at {settings.api_base} ({type(exc).__name__}: {exc})"
        )
    if isinstance(exc, discord.GatewayNotFound | discord.ConnectionClosed):
        return StartupError(f"cannot connect to Discord's gateway ({exc})")
    if isinstance(exc, discord.HTTPException):
        return StartupError(f"Discord answered {exc.status}: {exc.text}")
    return None


@contextlib.contextmanager
def _talking_to_discord(settings: Settings) -> Iterator[None]:
    """Turn a failure to reach or log in to Discord into a :class:`StartupError`."""
    try:
        yield
    except Exception as exc:
        error = _connection_error(settings, exc)
        if error is None:
            raise
        raise error from exc


async def run_bot(settings: Settings) -> None:
    """``newsbot run``: until SIGTERM / SIGINT, or a start-up check fails (raised)."""
    _require_token(settings, "run")
    configure_endpoints(settings)
    async with open_app(settings, schedules=True) as app:
        await _serve(settings, app, NewsBot(app), gateway=True)


async def run_gateway(
    settings: Settings, shard_ids: Sequence[int] | None, shard_count: int | None
) -> None:
    """``newsbot gateway``: slash commands and buttons on the given shards (all of them in
    one connection without ``shard_count``), until SIGTERM / SIGINT."""
    _require_token(settings, "gateway")
    configure_endpoints(settings)
    async with open_app(settings) as app:
        bot: NewsBot
        if shard_count is None:
            bot = NewsBot(app, role=Role.GATEWAY)
        else:
            ids = list(shard_ids) if shard_ids is not None else None
            # Commands are registered once, by the process holding shard 0.
            sync = ids is None or 0 in ids
            bot = ShardedNewsBot(
                app, role=Role.GATEWAY, sync_on_start=sync, shard_ids=ids, shard_count=shard_count
            )
        await _serve(settings, app, bot, gateway=True)


async def run_worker(settings: Settings) -> None:
    """``newsbot worker``: schedules, publishing, review posts, feeds, edits and crossposts
    over REST, with no gateway, beside any number of other workers; until SIGTERM / SIGINT."""
    _require_token(settings, "worker")
    configure_endpoints(settings)
    async with open_app(settings) as app:
        await _serve(
            settings, app, NewsBot(app, role=Role.WORKER, sync_on_start=False), gateway=False
        )


async def _serve(settings: Settings, app: App, bot: NewsBot, *, gateway: bool) -> None:
    """Run ``bot`` (connected to the gateway, or logged in over REST to work) with the
    metrics endpoint when configured, until a signal closes it."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows
            loop.add_signal_handler(sig, lambda: bot.spawn(bot.close(), "shutdown"))
    async with contextlib.AsyncExitStack() as stack:
        if settings.metrics is not None:
            await stack.enter_async_context(
                serve(settings.metrics, app.metrics, app.store, lambda: bot.ready_to_serve)
            )
        with _talking_to_discord(settings):
            async with bot:
                await bot.join()
                if gateway:
                    await bot.start(settings.token.reveal(), reconnect=True)
                else:
                    try:
                        await bot.login(settings.token.reveal())
                    except Exception:
                        if bot.is_closed():
                            return  # SIGTERM while logging in: stopped, nothing begun
                        raise
                    if not bot.is_closed():
                        await bot.work()
    if bot.startup_error is not None:
        raise StartupError(bot.startup_error)


async def publish_once(settings: Settings, channel: int | None) -> PublishRun:
    """``newsbot publish``: resume unfinished digests and post due ones over REST."""
    _require_token(settings, "publish")
    channels = [channel] if channel else [d.channel for d in settings.digests if d.channel]
    if channel is not None:
        settings.digest_for(channel)  # a clear error for an unconfigured channel
    if not channels:
        raise StartupError(f"{settings.source}: digests: no digest channels are configured")
    configure_endpoints(settings)
    async with open_app(settings) as app:
        with _talking_to_discord(settings):
            async with _logged_in(settings, app, role="publish") as bot:
                resumed = await bot.publisher.resume_unfinished()
                results = await bot.publisher.publish_many(channels, trigger=Trigger.CLI)
                # One pass over the crosspost queue; what must wait is left for the next run.
                await bot.crossposter.run_once()
                # And one over the edits outbox (corrections, retractions), held ones again.
                edits = await bot.editor.resume()
    return PublishRun(resumed=resumed, results=results, edits=edits)


async def sync_commands(settings: Settings, *, globally: bool) -> int:
    """``newsbot sync-commands``: register the commands globally or in the configured guild;
    how many were registered."""
    _require_token(settings, "sync-commands")
    if not globally and settings.guild is None:
        raise StartupError(f"{settings.source}: guild: not set; give a guild or use --global")
    configure_endpoints(settings)
    async with open_app(settings) as app:
        with _talking_to_discord(settings):
            async with _logged_in(settings, app) as bot:
                if globally:
                    return len(await bot.tree.sync())
                assert settings.guild is not None
                target = discord.Object(id=settings.guild)
                bot.tree.copy_global_to(guild=target)
                return len(await bot.tree.sync(guild=target))
