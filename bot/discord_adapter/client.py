"""The discord.py client: intents, the command tree with its one error handler, the review
feed, and the tasks it keeps (review feed, scheduler)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from datetime import timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import moderation
from bot.app import App
from bot.config import DigestChannel
from bot.discord_adapter.payloads import NO_MENTIONS, message_kwargs
from bot.discord_adapter.permissions import in_configured_guild
from bot.discord_adapter.poster import DiscordPoster
from bot.errors import (
    ArticleError,
    InvalidTransition,
    NewsbotError,
    NotFound,
    PermissionDenied,
    StoreError,
)
from bot.publish import Publisher
from bot.review import review_payload
from bot.store import QueueItem, Status

log = logging.getLogger(__name__)

REVIEW_BATCH = 20
REVIEW_HISTORY = 50
"""Messages of the review channel read at start for posts whose record was lost."""
REVIEW_BUTTON_ID = r"newsbot:review:(?P<action>approve|reject):(?P<id>[0-9]{1,19})"
"""The custom id of a review message's Approve and Reject buttons."""
_REVIEW_BUTTON = re.compile(REVIEW_BUTTON_ID)


def describe_error(error: BaseException) -> str | None:
    """The ephemeral reply for an error the user can act on; None for a bug."""
    if isinstance(error, PermissionDenied):
        return f"⛔ {error}"
    if isinstance(error, NotFound):
        return f"🔍 {error.what.capitalize()} {error.key} does not exist."
    if isinstance(error, InvalidTransition):
        return f"ℹ️ Item {error.article_id} was already {error.current}; nothing changed."
    if isinstance(error, StoreError):
        return "⚠️ The queue database is not available right now; nothing was changed."
    if isinstance(error, ArticleError):
        return f"⚠️ {error.problem}"
    if isinstance(error, NewsbotError):  # ConfigError and the rest: their text says it all
        return f"⚠️ {error}"
    return None


async def reply_ephemeral(interaction: discord.Interaction[Any], text: str) -> None:
    """Answer, or follow up when the interaction was already answered or deferred."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
    else:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def handle_interaction_error(
    interaction: discord.Interaction[Any], error: BaseException
) -> None:
    """The one mapping from errors to replies, shared by commands, buttons and modals."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original  # what the handler raised
    message = describe_error(error)
    if message is None and isinstance(error, app_commands.TransformerError):
        message = f"⚠️ {error}"  # an option Discord passed that does not convert
    if message is None and isinstance(error, app_commands.CheckFailure):
        message = f"⛔ {error}" if str(error) else "⛔ You cannot use this command here."
    if message is None:
        command = interaction.command.qualified_name if interaction.command else None
        log.error(
            "unexpected error in interaction %s (command %s, user %s, guild %s, channel %s)",
            interaction.id,
            command,
            interaction.user.id,
            interaction.guild_id,
            interaction.channel_id,
            exc_info=error,
        )
        message = "💥 Something went wrong on our side; it has been logged. Nothing was changed."
    try:
        await reply_ephemeral(interaction, message)
    except discord.HTTPException:
        log.warning("could not send the error reply for interaction %s", interaction.id)


class NewsTree(app_commands.CommandTree["NewsBot"]):
    async def interaction_check(self, interaction: discord.Interaction[NewsBot]) -> bool:
        """Refuse every command from a server newsbot is not set up for, before discord.py
        looks the command up (one left registered there from an earlier sync included)."""
        try:
            in_configured_guild(interaction, interaction.client.app.settings)
        except PermissionDenied as exc:
            if interaction.type is discord.InteractionType.autocomplete:
                return False  # autocomplete cannot carry a message; offer nothing
            raise app_commands.CheckFailure(str(exc)) from exc
        return True

    async def on_error(
        self, interaction: discord.Interaction[NewsBot], error: app_commands.AppCommandError
    ) -> None:
        await handle_interaction_error(interaction, error)


def review_nonce(item_id: int) -> str:
    """The nonce of an item's review post (at most 25 characters; digest parts use
    ``nb<ref>.<n>``, which always has a dot)."""
    return f"nbrv{item_id}"


def actor_of(user: discord.abc.User) -> str:
    """How a Discord user is recorded in the audit log."""
    return f"discord:{user.id}:{user.name}"


class NewsBot(commands.Bot):
    """newsbot's Discord client. Everything it needs comes in through ``app``."""

    def __init__(
        self,
        app: App,
        *,
        review_poll: timedelta = timedelta(seconds=10),
        sync_on_start: bool = True,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channels, roles and the bot's own permissions; nothing more
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=NewsTree,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
        )
        self.app = app
        self.poster = DiscordPoster(self)
        self.publisher = Publisher(app.store, app.renderer, self.poster, app.clock, app.settings)
        self.review_poll = review_poll
        self.sync_on_start = sync_on_start
        self.review_wakeup = asyncio.Event()
        self.scheduler: Any = None
        self.startup_error: str | None = None
        self._review_history_read = False
        self._tasks: set[asyncio.Task[None]] = set()
        # Set once start-up checks passed (or failed): lets callers wait for a usable bot.
        self.started = asyncio.Event()

    # --- start-up ----------------------------------------------------------------------------
    async def setup_hook(self) -> None:
        from bot.discord_adapter.cogs import DigestCog, NewsCog
        from bot.discord_adapter.review import ReviewButton

        self.add_dynamic_items(ReviewButton)
        await self.add_cog(NewsCog(self))
        await self.add_cog(DigestCog(self))
        guild = self.app.settings.guild
        if guild is not None and self.sync_on_start:
            target = discord.Object(id=guild)
            self.tree.copy_global_to(guild=target)
            self.tree.clear_commands(guild=None)
            synced = await self.tree.sync(guild=target)
            log.info("synced %d commands to guild %d", len(synced), guild)

    async def on_ready(self) -> None:
        if self.started.is_set():
            return  # a reconnect, not a start
        problem = self.check_channels()
        if problem is not None:
            self.startup_error = problem
            log.error("%s", problem)
            self.started.set()
            await self.close()
            return
        self.spawn(self._start_background(), "start-up work")
        self.started.set()

    def check_channels(self) -> str | None:
        """A clear message if the config names a channel the bot cannot use: every channel
        must be visible and open to its posts; a digest channel also needs Read Message
        History (after a crash, newsbot looks there for the parts it posted but had not
        recorded, so that it never posts one twice) and, when its template makes embeds,
        Embed Links. A review channel without history is only a warning (see
        _adopt_review_posts)."""
        settings = self.app.settings
        wanted: list[tuple[str, int | None, DigestChannel | None]] = [
            ("review_channel", settings.review_channel, None),
            *((f"digests[{n}].channel", d.channel, d) for n, d in enumerate(settings.digests, 1)),
        ]
        for key, channel_id, digest in wanted:
            if channel_id is None:
                continue
            channel = self.get_channel(channel_id)
            # Discord lists every channel of a guild, hidden ones too; permissions decide.
            perms = (
                channel.permissions_for(channel.guild.me)
                if isinstance(channel, discord.abc.GuildChannel)
                else None
            )
            if channel is None or (perms is not None and not perms.view_channel):
                return (
                    f"{settings.source}: {key}: the bot cannot see channel {channel_id}"
                    " (wrong id, or the bot lacks View Channel there)"
                )
            if perms is None:
                continue
            where = f"#{getattr(channel, 'name', channel_id)} ({channel_id})"
            if not perms.send_messages:
                problem: str | None = f"the bot cannot post in {where}; give it Send Messages there"
            elif digest is None:
                if not perms.read_message_history:
                    log.warning(
                        "%s: %s: the bot cannot read the history of %s; a review post made just"
                        " before a restart may be posted again (give it Read Message History"
                        " there)",
                        settings.source,
                        key,
                        where,
                    )
                problem = None
            elif not perms.read_message_history:
                problem = (
                    f"the bot cannot read the history of {where}; give it Read Message History"
                    " there (after a crash, newsbot looks there for the digest parts it posted"
                    " but had not recorded, so that it never posts one twice)"
                )
            elif not perms.embed_links and self.app.renderer.renders_embeds(digest):
                problem = (
                    f"the bot cannot post embeds in {where}, which its template"
                    f" {digest.template!r} makes; give it Embed Links there"
                )
            else:
                problem = None
            if problem is not None:
                return f"{settings.source}: {key}: {problem}"
        return None

    async def _start_background(self) -> None:
        results = await self.publisher.resume_unfinished()
        for result in results:
            log.info("resumed: %s", result.summary)
        self.spawn(self._review_feed(), "review feed")
        if self.app.settings.digests and self.app.runs_schedules:
            from bot.schedule.loop import Scheduler

            app = self.app
            self.scheduler = Scheduler(app.settings, app.store, app.clock, self.publisher)
            self.spawn(self.scheduler.run(), "scheduler")

    def spawn(self, coro: Any, name: str) -> None:
        """Start a background task and keep a reference to it until it ends."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        # close() itself may be one of the tasks (the SIGTERM handler spawns it): cancelling
        # and then awaiting itself would never end (and recurses in Task.cancel).
        others = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await super().close()

    # --- review channel ----------------------------------------------------------------------
    def wake_review_feed(self) -> None:
        self.review_wakeup.set()

    def wake_scheduler(self) -> None:
        """Make the scheduler re-read the schedules now (one was set or cleared)."""
        if self.scheduler is not None:
            self.scheduler.wake()

    async def _review_feed(self) -> None:
        """Post each new pending item to the review channel once, whoever queued it (ingest in
        another process, /news submit, or items found at start)."""
        if self.app.settings.review_channel is None:
            return
        while True:
            try:
                await self.post_pending_reviews()
            except Exception:
                log.exception("review feed iteration failed; will retry")
            self.review_wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.review_wakeup.wait(), self.review_poll.total_seconds())

    async def post_pending_reviews(self) -> int:
        channel_id = self.app.settings.review_channel
        if channel_id is None:
            return 0
        from bot.discord_adapter.review import review_view

        posted = 0
        while True:
            items = await self.app.store.unreviewed_pending(REVIEW_BATCH)
            if not items:
                return posted
            if not self._review_history_read:
                # Set once it worked: a dropped connection or a database error ends this pass
                # (the feed retries it), and posting without the look would post again.
                items = await self._adopt_review_posts(channel_id, items)
                self._review_history_read = True
            channel = self.get_partial_messageable(channel_id)
            for item in items:
                payload = self.review_payload(item)
                # A nonce of the item's own (with discord.py's enforce_nonce): when the answer
                # to a post is lost (a dropped connection after Discord stored it), the next
                # iteration's retry gets the stored message back instead of posting it twice.
                message = await channel.send(
                    view=review_view(item),
                    nonce=review_nonce(item.id),
                    **message_kwargs(payload),
                )
                await self.app.store.record_review_post(item.id, channel_id, message.id)
                posted += 1

    async def _adopt_review_posts(self, channel_id: int, items: list[QueueItem]) -> list[QueueItem]:
        """``items`` without those already posted: a post whose record was lost (newsbot
        stopped between posting and recording it) is found in the channel's recent history and
        recorded instead. The post's nonce covers this only for a few minutes; a restart can
        come later."""
        wanted = {item.id for item in items}
        found: dict[int, int] = {}
        channel = self.get_partial_messageable(channel_id)
        me = self.user.id if self.user else None
        try:
            async for message in channel.history(limit=REVIEW_HISTORY):
                if message.author.id != me:
                    continue
                for row in message.components:
                    for child in getattr(row, "children", ()):
                        match = _REVIEW_BUTTON.fullmatch(getattr(child, "custom_id", None) or "")
                        if match and int(match["id"]) in wanted:
                            found.setdefault(int(match["id"]), message.id)
        except discord.HTTPException as exc:
            log.warning(
                "could not read the review channel's history (%s); a review post whose record"
                " was lost before a restart may be posted again",
                exc,
            )
            return items
        for item_id, message_id in found.items():
            await self.app.store.record_review_post(item_id, channel_id, message_id)
            log.info(
                "item %d: its review post %d was already made; recorded it", item_id, message_id
            )
        return [item for item in items if item.id not in found]

    def review_payload(self, item: QueueItem) -> dict[str, Any]:
        return review_payload(self.app.renderer, item, self.app.settings.digest_for(None))

    async def refresh_review_message(self, item: QueueItem) -> None:
        """Edit the item's review message (if any) to show its new state."""
        post = await self.app.store.review_post(item.id)
        if post is None:
            return
        from bot.discord_adapter.review import review_view

        message = self.get_partial_messageable(post.channel_id).get_partial_message(post.message_id)
        view = review_view(item) if item.status is Status.PENDING else None
        try:
            await message.edit(view=view, **message_kwargs(self.review_payload(item)))
        except discord.HTTPException as exc:
            log.warning("could not update review message %d: %s", post.message_id, exc)

    # --- moderation used by commands and buttons ---------------------------------------------
    async def decide(
        self, item_id: int, action: str, user: discord.abc.User, reason: str | None = None
    ) -> QueueItem:
        actor = actor_of(user)
        if action == "approve":
            item = await moderation.approve(self.app.store, item_id, actor=actor)
        else:
            item = await moderation.reject(self.app.store, item_id, actor=actor, reason=reason)
        log.info("item %d %s by %s", item_id, item.status.value, actor)
        return item
