"""The discord.py client: intents, start-up checks, and the tasks it keeps (resuming
unfinished digests, the scheduler). It builds the cogs and hands each the services it uses."""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import timedelta
from typing import Any

import discord
from discord.ext import commands

from bot.app import App
from bot.config import Crosspost, DigestChannel
from bot.corrections import Editor
from bot.crosspost import Crossposter
from bot.discord_adapter.cogs import DigestCog, NewsCog
from bot.discord_adapter.deck import DeckButton
from bot.discord_adapter.draft import DraftButton, DraftDesk, DraftSelect
from bot.discord_adapter.feeds import FeedAlertPoster, FeedCog
from bot.discord_adapter.notify import NotifyButton, NotifyRoles, startup_problem
from bot.discord_adapter.poster import DiscordPoster
from bot.discord_adapter.review import ReviewButton, ReviewFeed
from bot.discord_adapter.tree import NewsTree
from bot.draft import Drafts
from bot.feeds.loop import FeedLoop
from bot.feeds.registry import all_feeds
from bot.places import Places
from bot.processes import GLOBAL_LIMIT, Duty, Membership, Role, live_owners
from bot.publish import Publisher, PublishStatus, describe_result
from bot.schedule.loop import Scheduler

log = logging.getLogger(__name__)

WORKER_POLL = timedelta(seconds=30)
"""How often a worker's scheduler looks for schedules and drafts changed elsewhere."""
TAKE_OVER = timedelta(seconds=15)
"""How often a worker looks for half-sent digests of a worker that died."""


def forum_problem(digest: DigestChannel, forum: discord.ForumChannel) -> str | None:
    """Why a digest cannot post in ``forum`` (as ``key: problem`` below the digest): its
    configured tags must be the forum's, a forum that requires a tag must get one, parts
    after the first go into the post, and a post is a thread already."""
    names = {tag.name.lower(): tag.name for tag in forum.available_tags}
    listed = ", ".join(sorted(names.values())) or "none"
    unknown = [tag for tag in digest.tags if tag.lower() not in names]
    if unknown:
        return f"tags: #{forum.name} has no tag {unknown[0]!r} (its tags: {listed})"
    if forum.flags.require_tag and not digest.tags:
        return (
            f"tags: #{forum.name} requires a tag on every post; add one of its tags ({listed})"
            " to tags"
        )
    if digest.thread:
        return f"thread: #{forum.name} is a forum: each digest is a post, a thread already"
    through_webhook = digest.identity is not None  # the webhook posts, not the bot
    if not through_webhook and not forum.permissions_for(forum.guild.me).send_messages_in_threads:
        return (
            f"channel: the bot cannot post in the posts of #{forum.name}; give it Send Messages"
            " in Threads there (a digest's parts after the first go into its post)"
        )
    return None


class NewsBot(commands.Bot):
    """newsbot's Discord client. Everything it needs comes in through ``app``."""

    def __init__(
        self,
        app: App,
        *,
        review_poll: timedelta = timedelta(seconds=10),
        sync_on_start: bool = True,
        role: Role = Role.RUN,
        **client_options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channels, roles and the bot's own permissions; nothing more
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=NewsTree,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **client_options,
        )
        self.role = role
        tree = self.tree
        assert isinstance(tree, NewsTree)
        tree.serve(app.settings)
        self.app = app
        self.poster = DiscordPoster(
            self, guild=app.settings.guild, on_rate_limited=app.metrics.rate_limited.inc
        )
        self.crossposter = Crossposter(app.store, self.poster, app.clock)
        self.publisher = Publisher(
            app.store,
            app.renderer,
            self.poster,
            app.clock,
            app.settings,
            on_crosspost_queued=self.crossposter.wake,
            on_result=app.metrics.published,
        )
        self.drafts = Drafts(app.store, app.renderer, app.clock, app.settings)
        # It looks for edits other processes queued as often as the review feed looks for items.
        self.editor = Editor(
            app.store, app.renderer, self.poster, app.clock, app.settings, poll=review_poll
        )
        self.review_poll = review_poll
        self.sync_on_start = sync_on_start
        owner = self.publisher.leases.owner  # one name per process: leases, duties, heartbeat
        self.membership = Membership(
            app.store, owner, role, self.on_share, on_alive=app.metrics.processes.set
        )
        self.run_slots = Places(2 * GLOBAL_LIMIT)
        """How many scheduled runs a worker makes at once (see ``on_share``)."""
        self._closed = asyncio.Event()
        self.scheduler: Scheduler | None = None
        self.feed_loop: FeedLoop | None = None
        self.startup_error: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Set once start-up checks passed (or failed): lets callers wait for a usable bot.
        self.started = asyncio.Event()
        # Set once the checks passed and unfinished digests were resumed: the review feed
        # waits for it (a REST-only client never sets it).
        self.serving = asyncio.Event()

    # --- start-up ----------------------------------------------------------------------------
    async def setup_hook(self) -> None:
        settings = self.app.settings
        feed = ReviewFeed(
            self,
            settings,
            self.app.store,
            self.app.renderer,
            self.app.clock,
            # newsbot run posts reviews once serving; a worker while it holds the duty.
            serving=self.serving if self.role is Role.RUN else None,
            poll=self.review_poll,
        )
        self.add_dynamic_items(ReviewButton, DeckButton, NotifyButton, DraftButton, DraftSelect)
        await self.add_cog(feed)
        await self.add_cog(DraftDesk(self, settings, self.drafts, self.wake_scheduler))
        await self.add_cog(NotifyRoles(settings))
        await self.add_cog(NewsCog(settings, self.app.store, feed, self.editor.wake))
        app = self.app
        await self.add_cog(
            DigestCog(
                settings, app.store, app.renderer, app.clock, self.publisher, self.wake_scheduler
            )
        )
        await self.add_cog(FeedCog(settings, app.store, self.wake_feeds))
        guild = settings.guild
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
        if self.role is Role.GATEWAY:
            self.serving.set()  # it answers commands and buttons; the workers do the rest
        else:
            self.spawn(self._start_background(), "start-up work")
        self.started.set()

    async def on_app_command_completion(
        self, interaction: discord.Interaction[Any], command: Any
    ) -> None:
        """Counted from the moment Discord created the interaction: what the member waited."""
        waited = discord.utils.utcnow() - interaction.created_at
        self.app.metrics.answered("command", waited.total_seconds())

    @property
    def holds_some_shards(self) -> bool:
        """Whether this process holds only some of the bot's shards (``--shard-ids``)."""
        ids = getattr(self, "shard_ids", None)
        count = self.shard_count
        return ids is not None and count is not None and len(set(ids)) < count

    @property
    def ready_to_serve(self) -> bool:
        """For ``/readyz``: connected, start-up checks passed, unfinished digests resumed."""
        connected = self.is_ready() or self.role is Role.WORKER  # a worker has no gateway
        return connected and self.serving.is_set() and not self.is_closed()

    def check_channels(self) -> str | None:
        """A clear message if the config names a channel the bot cannot use: every channel
        must be visible and open to its posts; a digest channel also needs Read Message
        History (after a crash, newsbot looks there for the parts it posted but had not
        recorded, so that it never posts one twice), when its template makes embeds, Embed
        Links, and with a ``ping_role`` the right to ping it (and with ``notify_button`` to
        give it). A review channel without history is only a warning (see
        ReviewFeed._adopt_posts)."""
        settings = self.app.settings
        wanted: list[tuple[str, int | None, DigestChannel | None]] = [
            ("review_channel", settings.review_channel, None),
            *((f"digests[{n}].channel", d.channel, d) for n, d in enumerate(settings.digests, 1)),
        ]
        for key, channel_id, digest in wanted:
            if channel_id is None:
                continue
            channel = self.get_channel(channel_id)
            if channel is None and self.holds_some_shards:
                # Its guild may be on a shard another gateway process holds; that one checks.
                log.info(
                    "%s: %s: channel %d is not on this process's shards",
                    settings.source,
                    key,
                    channel_id,
                )
                continue
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
            elif isinstance(channel, discord.ForumChannel) and forum_problem(digest, channel):
                problem = forum_problem(digest, channel)
                return f"{settings.source}: {key.removesuffix('.channel')}.{problem}"
            elif digest.tags and not isinstance(channel, discord.ForumChannel):
                return (
                    f"{settings.source}: {key.removesuffix('.channel')}.tags: {where} is no"
                    " forum channel; tags are for forum posts"
                )
            elif digest.thread and not isinstance(channel, discord.TextChannel):
                return (
                    f"{settings.source}: {key.removesuffix('.channel')}.thread: {where} is no"
                    " text channel; a discussion thread starts on a message of one"
                )
            elif digest.thread and not perms.create_public_threads:
                return (
                    f"{settings.source}: {key.removesuffix('.channel')}.thread: the bot cannot"
                    f" start threads in {where}; give it Create Public Threads there"
                )
            elif digest.identity is not None and not perms.manage_webhooks:
                return (
                    f"{settings.source}: {key.removesuffix('.channel')}.identity: the bot cannot"
                    f" manage webhooks in {where}; give it Manage Webhooks there (it posts as"
                    f" {digest.identity.name!r} through a webhook of its own)"
                )
            elif (
                digest.identity is not None
                and digest.crosspost is not Crosspost.OFF
                and not perms.manage_messages
            ):
                return (
                    f"{settings.source}: {key.removesuffix('.channel')}.crosspost: the bot cannot"
                    f" publish its webhook's messages in {where}; give it Manage Messages there"
                    " (Discord asks it of anyone publishing a message someone else posted)"
                )
            else:
                # ping_role / notify_button: the role exists, may be pinged, may be given.
                problem = (
                    startup_problem(digest, channel)
                    if isinstance(channel, discord.abc.GuildChannel)
                    else None
                )
                if problem is not None:
                    key = key.removesuffix(".channel")
                    return f"{settings.source}: {key}.{problem}"
            if problem is not None:
                return f"{settings.source}: {key}: {problem}"
        return None

    async def join(self) -> None:
        """Count among the database's processes (``newsbot publish`` too, while it posts):
        this one's share of the global limit. Before logging in, so that no request of this
        process goes out beyond it."""
        await self.membership.join()
        self.spawn(self.membership.run(), "heartbeat")

    async def _start_background(self) -> None:
        results = await self.publisher.resume_unfinished()
        for result in results:
            log.info("resumed: %s", describe_result(result, f"channel {result.channel}"))
        has_feeds = bool(await all_feeds(self.app.settings, self.app.store))
        self.serving.set()
        if any(d.crosspost is not Crosspost.OFF for d in self.app.settings.digests):
            self.spawn(self.crossposter.run(), "crossposter")
        if self.app.runs_schedules:  # one process works the edits outbox, as the schedules
            self.spawn(self.editor.run(), "editor")
        if self.app.settings.digests and self.app.runs_schedules:
            app = self.app
            # The only scheduler on the database (it holds the scheduler lock): every run
            # claimed and not written when it starts is an orphan.
            self.scheduler = Scheduler(
                app.settings,
                app.store,
                app.clock,
                self.publisher,
                drafts=self.drafts,
                owner=self.membership.owner,
            )
            self.spawn(self.scheduler.run(), "scheduler")
        if has_feeds:
            self._start_feeds()

    async def work(self) -> None:
        """``newsbot worker``: the work without the gateway (the client is logged in over
        REST only), alongside any number of other workers on the database, until ``close()``.

        Every worker runs the schedules (each run is claimed once) and takes over digests a
        killed worker left half-sent (once its lease is free); one worker at a time, by a duty
        in the database, posts review items, polls the feeds, edits corrected messages and
        crossposts."""
        app, settings, store = self.app, self.app.settings, self.app.store
        for result in await self.publisher.resume_unfinished():
            if result.status is not PublishStatus.BUSY:
                log.info("resumed: %s", describe_result(result, f"channel {result.channel}"))
        self.serving.set()
        if settings.digests:
            self.scheduler = Scheduler(
                settings,
                store,
                app.clock,
                self.publisher,
                drafts=self.drafts,
                poll=WORKER_POLL,
                slots=self.run_slots,
                owner=self.membership.owner,
                live=functools.partial(live_owners, store),
            )
            self.spawn(self.scheduler.run(), "scheduler")
        self.spawn(self._take_over(), "take-over")
        owner = self.membership.owner
        duties = [
            Duty("edits", store, owner, self.editor.run),
            Duty("feeds", store, owner, self._poll_feeds),
        ]
        feed = self.get_cog(ReviewFeed.__cog_name__)
        if isinstance(feed, ReviewFeed) and feed.posts:
            duties.append(Duty("review posts", store, owner, feed.run))
        if any(d.crosspost is not Crosspost.OFF for d in settings.digests):
            duties.append(Duty("crossposts", store, owner, self.crossposter.run))
        for duty in duties:
            self.spawn(duty.run(), duty.name)
        await self.wait_until_closed()

    async def _take_over(self) -> None:
        """Finish digests whose worker died mid-send, as soon as their lease lets us."""
        while True:
            await asyncio.sleep(TAKE_OVER.total_seconds())
            try:
                for result in await self.publisher.resume_unfinished():
                    if result.status is not PublishStatus.BUSY:
                        log.info(
                            "took over: %s", describe_result(result, f"channel {result.channel}")
                        )
            except Exception:
                log.exception("could not look for digests to take over; trying again")

    async def _poll_feeds(self) -> None:
        """The feeds duty: a feed loop of its own for as long as the duty is held."""
        self.feed_loop = loop = self._feed_loop()
        try:
            await loop.run()
        finally:
            self.feed_loop = None

    def on_share(self, share: int) -> None:
        """This process's share of the global limit changed (see ``bot.processes``)."""
        self.poster.pacer.resize(share)
        self.app.metrics.share.set(share)
        # Twice as many channels under way as requests a second keeps the share in use (a
        # channel's parts go one after the other) while leaving the rest to other workers.
        self.run_slots.resize(2 * share)

    def _start_feeds(self) -> None:
        """Poll the feeds from now on; like the schedules, only in the process holding the
        database's scheduler lock. Without feeds there is no loop (the first /feed add
        starts it)."""
        if self.feed_loop is not None or not self.app.runs_schedules:
            return
        self.feed_loop = self._feed_loop()
        self.spawn(self.feed_loop.run(), "feeds")

    def _feed_loop(self) -> FeedLoop:
        app = self.app
        return FeedLoop(
            app.settings,
            app.store,
            app.clock,
            alerts=FeedAlertPoster(self.poster, app.settings.review_channel),
            cluster=app.clusterer,
            on_report=app.metrics.fetched,
        )

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
        self.crossposter.stop()
        self.editor.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.feed_loop is not None:
            self.feed_loop.stop()
        # close() itself may be one of the tasks (the SIGTERM handler spawns it): cancelling
        # and then awaiting itself would never end (and recurses in Task.cancel).
        others = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await self.membership.leave()
        self._closed.set()
        await super().close()  # removes the cogs: the review feed stops in its cog_unload
        # A request still waiting for its place (a newcomer has none at first) ends now.
        self.poster.pacer.places.close()

    async def wait_until_closed(self) -> None:
        await self._closed.wait()

    def wake_feeds(self) -> None:
        """Make the feed loop re-read the feeds now (one was added)."""
        if self.feed_loop is None:
            self._start_feeds()
        else:
            self.feed_loop.wake()

    def wake_scheduler(self) -> None:
        """Make the scheduler re-read the schedules now (one was set or cleared)."""
        if self.scheduler is not None:
            self.scheduler.wake()


class ShardedNewsBot(NewsBot, commands.AutoShardedBot):
    """``newsbot gateway --shard-count N``: the same bot over the shards it is given
    (``shard_ids``), each shard a gateway connection of its own."""
