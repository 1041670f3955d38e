"""Slash commands: ``/news`` (queue, show, approve, reject, split, edit, retract, submit) and
``/digest`` (preview, publish, schedule). Each handler parses options, checks permission, calls
one core function and formats the reply; errors go to the tree's one error handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import moderation
from bot.articles import submitted_article
from bot.clock import Clock
from bot.config import Settings
from bot.discord_adapter.deck import deck_message
from bot.discord_adapter.ids import DeckState, actor_of, check_deck_filters
from bot.discord_adapter.payloads import NO_MENTIONS, message_kwargs
from bot.discord_adapter.permissions import in_configured_guild, is_moderator, require_moderator
from bot.discord_adapter.review import ReviewFeed, decide
from bot.discord_adapter.views import QueuePager
from bot.errors import ConfigError
from bot.limits import CONTENT_MAX, length
from bot.plan import plan_digest
from bot.publish import Publisher, PublishResult, describe_result
from bot.render import Renderer
from bot.render.escape import escape_markdown
from bot.schedule.effective import (
    clear_channel_schedule,
    describe_schedules,
    set_channel_schedule,
)
from bot.status import gather_status, status_lines
from bot.store import QueueItem, QueueQuery, Status, Store, Trigger

Interaction = discord.Interaction[Any]

STATUS_CHOICES = [app_commands.Choice(name=s.value, value=s.value) for s in Status]


def fit_lines(lines: list[str]) -> str:
    """Whole lines up to Discord's message limit, then an ellipsis line."""
    kept: list[str] = []
    for line in lines:
        if length("\n".join([*kept, line, "…"])) > CONTENT_MAX:
            kept.append("…")
            break
        kept.append(line)
    return "\n".join(kept)


def publish_reply(result: PublishResult) -> str:
    """A publish result as a moderator reads it: the channel as a mention."""
    return describe_result(result, f"<#{result.channel}>")


@app_commands.guild_only()
class NewsCog(commands.GroupCog, group_name="news", group_description="The news queue"):
    def __init__(
        self,
        settings: Settings,
        store: Store,
        feed: ReviewFeed,
        edits_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.feed = feed
        self.edits_queued = edits_queued
        """Wakes the bot's Editor: a retraction or correction queued edits of posted messages."""
        super().__init__()

    async def _choices(
        self, interaction: Interaction, current: str, statuses: tuple[Status, ...]
    ) -> list[app_commands.Choice[int]]:
        """Items whose title (or id) matches what the user typed; moderators only, since the
        titles of pending items are not public."""
        if not is_moderator(interaction.user, self.settings):
            return []
        items = await self.store.list_items(
            QueueQuery(statuses=statuses, search=current.strip() or None, limit=25)
        )
        return [
            app_commands.Choice(
                name=f"#{i.id} [{i.status.value}] {i.article.title}"[:100], value=i.id
            )
            for i in items
        ]

    async def any_item(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return await self._choices(interaction, current, ())

    async def pending_item(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return await self._choices(interaction, current, (Status.PENDING,))

    async def open_item(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return await self._choices(interaction, current, (Status.PENDING, Status.APPROVED))

    @app_commands.command(name="queue", description="List queued items (only you see it)")
    @app_commands.describe(status="only items in this state", topic="only items with this topic")
    @app_commands.choices(status=STATUS_CHOICES)
    async def queue(
        self,
        interaction: Interaction,
        status: app_commands.Choice[str] | None = None,
        topic: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        require_moderator(interaction, self.settings, "list the queue")
        query = QueueQuery(statuses=(Status(status.value),) if status else (), topic=topic)
        pager = QueuePager(self.store, query, owner=interaction.user.id)
        content = await pager.render()
        await interaction.response.send_message(
            content, view=pager, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="show", description="Show one item as it would be posted")
    @app_commands.describe(item="item id (type to search titles)")
    @app_commands.autocomplete(item=any_item)
    async def show(self, interaction: Interaction, item: app_commands.Range[int, 1]) -> None:
        require_moderator(interaction, self.settings, "show items")
        found = await self.store.get(item)
        payload = await self.feed.payload(found)
        await interaction.response.send_message(ephemeral=True, **message_kwargs(payload))

    @app_commands.command(name="approve", description="Approve an item for the next digests")
    @app_commands.describe(item="item id (type to search titles)")
    @app_commands.autocomplete(item=pending_item)
    async def approve(self, interaction: Interaction, item: app_commands.Range[int, 1]) -> None:
        require_moderator(interaction, self.settings, "approve items")
        decided = await decide(self.store, item, "approve", interaction.user)
        await self._decided(interaction, "✅ Approved", decided)

    @app_commands.command(name="reject", description="Reject an item so it is never posted")
    @app_commands.describe(item="item id (type to search titles)", reason="why (kept in the log)")
    @app_commands.autocomplete(item=open_item)
    async def reject(
        self,
        interaction: Interaction,
        item: app_commands.Range[int, 1],
        reason: app_commands.Range[str, 1, 500],
    ) -> None:
        require_moderator(interaction, self.settings, "reject items")
        decided = await decide(self.store, item, "reject", interaction.user, reason)
        await self._decided(interaction, "❌ Rejected", decided)

    @app_commands.command(
        name="split", description="Make an article clustering merged into an item its own item"
    )
    @app_commands.describe(
        item="the item it was merged into (type to search titles)",
        url="the merged article's link, as /news show lists it",
    )
    @app_commands.autocomplete(item=any_item)
    async def split(
        self,
        interaction: Interaction,
        item: app_commands.Range[int, 1],
        url: app_commands.Range[str, 1, 2048],
    ) -> None:
        require_moderator(interaction, self.settings, "split items")
        new = await moderation.split(self.store, item, url, actor=actor_of(interaction.user))
        await interaction.response.send_message(
            f"✂️ Split from #{item}: #{new.id} {escape_markdown(new.article.title)} is pending.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
        self.feed.wake()  # the new pending item goes to the review channel
        await self.feed.refresh(await self.store.get(item))  # without it as related coverage

    @app_commands.command(
        name="edit", description="Correct an item's title or excerpt; its posts are edited"
    )
    @app_commands.describe(
        item="item id (type to search titles)",
        title="the new title",
        excerpt="the new excerpt",
    )
    @app_commands.autocomplete(item=any_item)
    async def edit(
        self,
        interaction: Interaction,
        item: app_commands.Range[int, 1],
        title: app_commands.Range[str, 1, 1000] | None = None,
        excerpt: app_commands.Range[str, 1, 4000] | None = None,
    ) -> None:
        require_moderator(interaction, self.settings, "edit items")
        actor = actor_of(interaction.user)
        edited = await moderation.edit(self.store, item, actor=actor, title=title, excerpt=excerpt)
        self.edits_queued()
        await self._changed(interaction, "✏️ Edited", edited)

    @app_commands.command(
        name="retract", description="Retract a published item; its posts show it struck through"
    )
    @app_commands.describe(
        item="item id (type to search titles)", reason="why (shown to readers, kept in the log)"
    )
    @app_commands.autocomplete(item=any_item)
    async def retract(
        self,
        interaction: Interaction,
        item: app_commands.Range[int, 1],
        reason: app_commands.Range[str, 1, 500],
    ) -> None:
        require_moderator(interaction, self.settings, "retract items")
        actor = actor_of(interaction.user)
        retracted = await moderation.retract(self.store, item, actor=actor, reason=reason)
        self.edits_queued()
        await self._changed(interaction, "🚫 Retracted", retracted)

    async def _changed(self, interaction: Interaction, what: str, item: QueueItem) -> None:
        """Tell the moderator what changed and how many posted messages are being edited."""
        posted = len(await self.store.deliveries(item.id))
        where = (
            f"; {posted} posted message{'s are' if posted != 1 else ' is'} being edited"
            if posted
            else ""
        )
        await interaction.response.send_message(
            f"{what} #{item.id}: {escape_markdown(item.article.title)}{where}",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    async def _decided(self, interaction: Interaction, what: str, item: QueueItem) -> None:
        """Tell the moderator, then show the decision on the item's review message."""
        await interaction.response.send_message(
            f"{what} #{item.id}: {escape_markdown(item.article.title)}",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
        await self.feed.refresh(item)

    @app_commands.command(
        name="review", description="Review pending items one at a time (only you see it)"
    )
    @app_commands.describe(
        topic="only items with this topic", feed="only items from feeds whose address contains this"
    )
    async def review(
        self,
        interaction: Interaction,
        topic: app_commands.Range[str, 1, 40] | None = None,
        feed: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        require_moderator(interaction, self.settings, "review items")
        check_deck_filters(topic, feed)  # they must fit in the buttons: say so now, not later
        message = await deck_message(self.feed, DeckState(0, topic, feed))
        if message["view"] is None:
            del message["view"]  # discord.py's send_message takes a view or none at all
        await interaction.response.send_message(ephemeral=True, **message)

    @app_commands.command(
        name="status", description="Queue counts, last and next digests, errors (only you)"
    )
    async def status(self, interaction: Interaction) -> None:
        require_moderator(interaction, self.settings, "see the status")
        report = await gather_status(self.settings, self.store, self.feed.clock.now())
        lines = status_lines(report, lambda channel: f"<#{channel}>", escape_markdown)
        await interaction.response.send_message(
            fit_lines(lines), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="submit", description="Suggest an article for the digest")
    @app_commands.describe(url="the article's http(s) link", title="its headline")
    async def submit(
        self,
        interaction: Interaction,
        url: app_commands.Range[str, 1, 2048],
        title: app_commands.Range[str, 1, 300],
    ) -> None:
        in_configured_guild(interaction, self.settings)
        article = submitted_article(url, title, where="/news submit")
        item, created = await self.store.submit(article, submitted_by=actor_of(interaction.user))
        if created:
            self.feed.wake()
            text = f"📨 Thanks! #{item.id} is waiting for a moderator."
        else:
            text = f"ℹ️ That article is already queued as #{item.id} ({item.status.value})."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


@app_commands.guild_only()
@app_commands.default_permissions(manage_messages=True)
class DigestCog(commands.GroupCog, group_name="digest", group_description="Digests"):
    """``wake_scheduler`` makes the scheduler re-read the schedules after one changed."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        renderer: Renderer,
        clock: Clock,
        publisher: Publisher,
        wake_scheduler: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.store = store
        self.renderer = renderer
        self.clock = clock
        self.publisher = publisher
        self.wake_scheduler = wake_scheduler
        super().__init__()

    def _digest_channel(self, channel: discord.abc.GuildChannel | None) -> int | None:
        """The configured digest channel a command is about; None means all of them."""
        if channel is None:
            return None
        configured = [d.channel for d in self.settings.digests]
        if channel.id not in configured:
            raise ConfigError(
                f"#{channel.name} is not a digest channel (configured: "
                + (", ".join(f"<#{c}>" for c in configured) or "none")
                + ")"
            )
        return channel.id

    def _channels(self, channel: discord.abc.GuildChannel | None) -> list[int]:
        chosen = self._digest_channel(channel)
        if chosen is not None:
            return [chosen]
        channels = [d.channel for d in self.settings.digests if d.channel is not None]
        if not channels:
            raise ConfigError("no digest channels are configured (digests: in the config)")
        return channels

    @app_commands.command(name="preview", description="Show exactly what would be posted")
    @app_commands.describe(channel="a digest channel (default: the first configured)")
    async def preview(
        self, interaction: Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        require_moderator(interaction, self.settings, "preview digests")
        target = self._channels(channel)[0]
        plan = await plan_digest(
            self.store, self.renderer, self.settings.digest_for(target), self.clock.now()
        )
        if not plan.messages:
            await interaction.response.send_message(
                f"Nothing new for <#{target}>.", ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        first, *rest = plan.messages
        await interaction.response.send_message(ephemeral=True, **message_kwargs(first.payload))
        for message in rest:
            await interaction.followup.send(ephemeral=True, **message_kwargs(message.payload))

    @app_commands.command(name="publish", description="Post the digest now")
    @app_commands.describe(channel="a digest channel (default: all configured)")
    async def publish(
        self, interaction: Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        require_moderator(interaction, self.settings, "publish digests")
        channels = self._channels(channel)
        # Posting paces itself by Discord's rate limits and can take longer than the 3 s an
        # interaction may wait for its first answer.
        await interaction.response.defer(ephemeral=True, thinking=True)
        results = await self.publisher.publish_many(channels, trigger=Trigger.COMMAND)
        await interaction.followup.send(
            "\n".join(map(publish_reply, results)), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    schedule = app_commands.Group(name="schedule", description="When digests are posted")

    @schedule.command(name="set", description="Post a channel's digest on a schedule")
    @app_commands.describe(
        channel="a digest channel",
        cron="cron expression, e.g. 0 9 * * 1-5 (09:00 on weekdays)",
        timezone="IANA time zone, e.g. Europe/Berlin (default: the channel's configured one)",
    )
    async def schedule_set(
        self,
        interaction: Interaction,
        channel: discord.TextChannel,
        cron: app_commands.Range[str, 1, 100],
        timezone: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        require_moderator(interaction, self.settings, "change schedules")
        target = self._digest_channel(channel)
        assert target is not None
        await set_channel_schedule(
            self.settings,
            self.store,
            target,
            cron,
            timezone,
            actor=actor_of(interaction.user),
        )
        self.wake_scheduler()
        lines = await self._describe()
        await interaction.response.send_message(
            f"🗓️ Schedule for <#{target}> set.\n" + "\n".join(lines),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @schedule.command(name="show", description="Each digest channel's schedule and next run")
    async def schedule_show(self, interaction: Interaction) -> None:
        require_moderator(interaction, self.settings, "see schedules")
        lines = await self._describe()
        await interaction.response.send_message(
            "\n".join(lines) or "No digest channels are configured.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @schedule.command(name="clear", description="Stop posting a channel on a schedule")
    @app_commands.describe(channel="a digest channel")
    async def schedule_clear(self, interaction: Interaction, channel: discord.TextChannel) -> None:
        require_moderator(interaction, self.settings, "change schedules")
        target = self._digest_channel(channel)
        assert target is not None
        await clear_channel_schedule(
            self.settings, self.store, target, actor=actor_of(interaction.user)
        )
        self.wake_scheduler()
        await interaction.response.send_message(
            f"🗓️ <#{target}> now posts only on `/digest publish`.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    async def _describe(self) -> list[str]:
        lines = await describe_schedules(self.settings, self.store, self.clock.now())
        return [f"`{line}`" for line in lines]
