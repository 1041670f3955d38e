"""Slash commands: ``/news`` (queue, show, approve, reject, submit) and ``/digest`` (preview,
publish, schedule). Each handler parses options, checks permission, calls one core function
and formats the reply; errors go to the tree's one error handler."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.articles import submitted_article
from bot.discord_adapter.client import actor_of
from bot.discord_adapter.payloads import NO_MENTIONS, message_kwargs
from bot.discord_adapter.permissions import in_configured_guild, is_moderator, require_moderator
from bot.discord_adapter.views import QueuePager
from bot.errors import ConfigError
from bot.markdown import escape_markdown
from bot.publish import plan_digest
from bot.schedule.effective import (
    clear_channel_schedule,
    describe_schedules,
    set_channel_schedule,
)
from bot.store import QueueItem, QueueQuery, Status, Trigger

if TYPE_CHECKING:
    from bot.discord_adapter.client import NewsBot

Interaction = discord.Interaction[Any]

STATUS_CHOICES = [app_commands.Choice(name=s.value, value=s.value) for s in Status]


def _bot(interaction: Interaction) -> NewsBot:
    bot: NewsBot = interaction.client
    return bot


async def _item_autocomplete(
    interaction: Interaction, current: str, statuses: tuple[Status, ...]
) -> list[app_commands.Choice[int]]:
    """Items whose title (or id) matches what the user typed; moderators only, since the
    titles of pending items are not public."""
    bot = _bot(interaction)
    if not is_moderator(interaction.user, bot.app.settings):
        return []
    items = await bot.app.store.list_items(
        QueueQuery(statuses=statuses, search=current.strip() or None, limit=25)
    )
    return [
        app_commands.Choice(name=f"#{i.id} [{i.status.value}] {i.article.title}"[:100], value=i.id)
        for i in items
    ]


async def any_item(interaction: Interaction, current: str) -> list[app_commands.Choice[int]]:
    return await _item_autocomplete(interaction, current, ())


async def pending_item(interaction: Interaction, current: str) -> list[app_commands.Choice[int]]:
    return await _item_autocomplete(interaction, current, (Status.PENDING,))


async def open_item(interaction: Interaction, current: str) -> list[app_commands.Choice[int]]:
    return await _item_autocomplete(interaction, current, (Status.PENDING, Status.APPROVED))


@app_commands.guild_only()
class NewsCog(commands.GroupCog, group_name="news", group_description="The news queue"):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="queue", description="List queued items (only you see it)")
    @app_commands.describe(status="only items in this state", topic="only items with this topic")
    @app_commands.choices(status=STATUS_CHOICES)
    async def queue(
        self,
        interaction: Interaction,
        status: app_commands.Choice[str] | None = None,
        topic: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        require_moderator(interaction, self.bot.app.settings, "list the queue")
        query = QueueQuery(statuses=(Status(status.value),) if status else (), topic=topic)
        pager = QueuePager(self.bot.app.store, query, owner=interaction.user.id)
        content = await pager.render()
        await interaction.response.send_message(
            content, view=pager, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="show", description="Show one item as it would be posted")
    @app_commands.describe(item="item id (type to search titles)")
    @app_commands.autocomplete(item=any_item)
    async def show(self, interaction: Interaction, item: app_commands.Range[int, 1]) -> None:
        require_moderator(interaction, self.bot.app.settings, "show items")
        found = await self.bot.app.store.get(item)
        payload = self.bot.review_payload(found)
        await interaction.response.send_message(ephemeral=True, **message_kwargs(payload))

    @app_commands.command(name="approve", description="Approve an item for the next digests")
    @app_commands.describe(item="item id (type to search titles)")
    @app_commands.autocomplete(item=pending_item)
    async def approve(self, interaction: Interaction, item: app_commands.Range[int, 1]) -> None:
        require_moderator(interaction, self.bot.app.settings, "approve items")
        decided = await self.bot.decide(item, "approve", interaction.user)
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
        require_moderator(interaction, self.bot.app.settings, "reject items")
        decided = await self.bot.decide(item, "reject", interaction.user, reason)
        await self._decided(interaction, "❌ Rejected", decided)

    async def _decided(self, interaction: Interaction, what: str, item: QueueItem) -> None:
        """Tell the moderator, then show the decision on the item's review message."""
        await interaction.response.send_message(
            f"{what} #{item.id}: {escape_markdown(item.article.title)}",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
        await self.bot.refresh_review_message(item)

    @app_commands.command(name="submit", description="Suggest an article for the digest")
    @app_commands.describe(url="the article's http(s) link", title="its headline")
    async def submit(
        self,
        interaction: Interaction,
        url: app_commands.Range[str, 1, 2048],
        title: app_commands.Range[str, 1, 300],
    ) -> None:
        in_configured_guild(interaction, self.bot.app.settings)
        article = submitted_article(url, title, where="/news submit")
        item, created = await self.bot.app.store.submit(
            article, submitted_by=actor_of(interaction.user)
        )
        if created:
            self.bot.wake_review_feed()
            text = f"📨 Thanks! #{item.id} is waiting for a moderator."
        else:
            text = f"ℹ️ That article is already queued as #{item.id} ({item.status.value})."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


def _digest_channel(bot: NewsBot, channel: discord.abc.GuildChannel | None) -> int | None:
    """The configured digest channel a command is about; None means all of them."""
    if channel is None:
        return None
    configured = [d.channel for d in bot.app.settings.digests]
    if channel.id not in configured:
        raise ConfigError(
            f"#{channel.name} is not a digest channel (configured: "
            + (", ".join(f"<#{c}>" for c in configured) or "none")
            + ")"
        )
    return channel.id


@app_commands.guild_only()
@app_commands.default_permissions(manage_messages=True)
class DigestCog(commands.GroupCog, group_name="digest", group_description="Digests"):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot
        super().__init__()

    def _channels(self, channel: discord.abc.GuildChannel | None) -> list[int]:
        chosen = _digest_channel(self.bot, channel)
        if chosen is not None:
            return [chosen]
        channels = [d.channel for d in self.bot.app.settings.digests if d.channel is not None]
        if not channels:
            raise ConfigError("no digest channels are configured (digests: in the config)")
        return channels

    @app_commands.command(name="preview", description="Show exactly what would be posted")
    @app_commands.describe(channel="a digest channel (default: the first configured)")
    async def preview(
        self, interaction: Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        require_moderator(interaction, self.bot.app.settings, "preview digests")
        target = self._channels(channel)[0]
        app = self.bot.app
        plan = await plan_digest(
            app.store, app.renderer, app.settings.digest_for(target), app.clock.now()
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
        require_moderator(interaction, self.bot.app.settings, "publish digests")
        channels = self._channels(channel)
        # Posting paces itself by Discord's rate limits and can take longer than the 3 s an
        # interaction may wait for its first answer.
        await interaction.response.defer(ephemeral=True, thinking=True)
        results = await self.bot.publisher.publish_many(channels, trigger=Trigger.COMMAND)
        lines = [r.summary for r in results]
        await interaction.followup.send(
            "\n".join(lines), ephemeral=True, allowed_mentions=NO_MENTIONS
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
        require_moderator(interaction, self.bot.app.settings, "change schedules")
        target = _digest_channel(self.bot, channel)
        assert target is not None
        await set_channel_schedule(
            self.bot.app.settings,
            self.bot.app.store,
            target,
            cron,
            timezone,
            actor=actor_of(interaction.user),
        )
        self.bot.wake_scheduler()
        lines = await self._describe()
        await interaction.response.send_message(
            f"🗓️ Schedule for <#{target}> set.\n" + "\n".join(lines),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @schedule.command(name="show", description="Each digest channel's schedule and next run")
    async def schedule_show(self, interaction: Interaction) -> None:
        require_moderator(interaction, self.bot.app.settings, "see schedules")
        lines = await self._describe()
        await interaction.response.send_message(
            "\n".join(lines) or "No digest channels are configured.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @schedule.command(name="clear", description="Stop posting a channel on a schedule")
    @app_commands.describe(channel="a digest channel")
    async def schedule_clear(self, interaction: Interaction, channel: discord.TextChannel) -> None:
        require_moderator(interaction, self.bot.app.settings, "change schedules")
        target = _digest_channel(self.bot, channel)
        assert target is not None
        await clear_channel_schedule(
            self.bot.app.settings, self.bot.app.store, target, actor=actor_of(interaction.user)
        )
        self.bot.wake_scheduler()
        await interaction.response.send_message(
            f"🗓️ <#{target}> now posts only on `/digest publish`.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    async def _describe(self) -> list[str]:
        app = self.bot.app
        lines = await describe_schedules(app.settings, app.store, app.clock.now())
        return [f"`{line}`" for line in lines]
