"""``/feed add|list|remove`` for moderators, and the failing-feed report in the review channel.

The handlers parse options, check permission, call one function of ``bot.feeds.registry`` and
format the reply. The report is worded here (the core hands over a ``FeedAlert``) and posted
through the Poster with a nonce derived from the feed and the failure, so a retry within
Discord's nonce window never posts it twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import Settings
from bot.discord_adapter.ids import actor_of
from bot.discord_adapter.payloads import NO_MENTIONS
from bot.discord_adapter.permissions import is_moderator, require_moderator
from bot.feeds.poll import FeedAlert
from bot.feeds.registry import add_feed, all_feeds, feed_statuses, parse_topics, remove_feed
from bot.limits import CONTENT_MAX, length
from bot.poster import Poster
from bot.render.escape import escape_markdown
from bot.store import Store

Interaction = discord.Interaction[Any]


def _when(value: datetime | None) -> str:
    return f"<t:{int(value.timestamp())}:R>" if value is not None else "not yet"


def alert_payload(alert: FeedAlert) -> dict[str, Any]:
    """The review channel's message about a feed that fails, or that works again."""
    if alert.failing:
        lines = [
            f"⚠️ **Feed failing**: <{alert.url}> failed {alert.failures} times in a row"
            f" (since {_when(alert.since)}).",
            f"Problem: {escape_markdown(alert.problem)}",
            f"How to fix: {escape_markdown(alert.hint)}.",
            f"newsbot keeps trying, less often; next try {_when(alert.next_try)}.",
        ]
    else:
        lines = [f"✅ **Feed working again**: <{alert.url}> was fetched successfully."]
    text = "\n".join(lines)
    while length(text) > CONTENT_MAX:  # only with a URL of near 2,000 characters
        text = text[: len(text) - (length(text) - CONTENT_MAX) - 1] + "…"
    return {"content": text, "allowed_mentions": {"parse": []}}


def alert_nonce(alert: FeedAlert) -> str:
    key = f"{alert.url}|{alert.failing}|{alert.since.isoformat() if alert.since else ''}"
    return "feed" + hashlib.blake2b(key.encode(), digest_size=10).hexdigest()[:21]


class FeedAlertPoster:
    """The poller's ``alerts``: posts each report to the review channel; False (tried again
    on a later poll) when no review channel is configured."""

    def __init__(self, poster: Poster, channel: int | None) -> None:
        self.poster = poster
        self.channel = channel

    async def __call__(self, alert: FeedAlert) -> bool:
        if self.channel is None:
            return False
        await self.poster.send(self.channel, alert_payload(alert), alert_nonce(alert))
        return True


@app_commands.guild_only()
@app_commands.default_permissions(manage_messages=True)
class FeedCog(commands.GroupCog, group_name="feed", group_description="News feeds"):
    """``wake`` makes the poll loop look at the feeds again (one was added)."""

    def __init__(self, settings: Settings, store: Store, wake: Callable[[], None]) -> None:
        self.settings = settings
        self.store = store
        self.wake = wake
        super().__init__()

    async def stored_feed(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if not is_moderator(interaction.user, self.settings):
            return []
        configured = {f.url for f in self.settings.feeds}
        feeds = [f.url for f in await all_feeds(self.settings, self.store)]
        return [
            app_commands.Choice(name=url[:100], value=url)
            for url in feeds
            if url not in configured and current.lower() in url.lower()
        ][:25]

    @app_commands.command(name="add", description="Poll a feed (RSS, Atom or JSON Feed)")
    @app_commands.describe(url="the feed's http(s) address", topics="comma-separated topics")
    async def add(
        self,
        interaction: Interaction,
        url: app_commands.Range[str, 1, 2048],
        topics: app_commands.Range[str, 1, 500] | None = None,
    ) -> None:
        require_moderator(interaction, self.settings, "add feeds")
        feed, added = await add_feed(
            self.settings, self.store, url, parse_topics(topics), actor=actor_of(interaction.user)
        )
        if added:
            self.wake()
            about = f" with topics {escape_markdown(', '.join(feed.topics))}" if feed.topics else ""
            text = f"📰 Added <{feed.url}>{about}; its newest entries will be up for review."
        else:
            text = f"ℹ️ <{feed.url}> is already polled; nothing changed."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="list", description="Every feed and how it is doing")
    async def list_(self, interaction: Interaction) -> None:
        require_moderator(interaction, self.settings, "list feeds")
        lines = []
        for status in await feed_statuses(self.settings, self.store):
            state, feed = status.state, status.feed
            where = f"added by {feed.added_by}" if feed.added_by else "config file"
            if state is None:
                lines.append(f"• <{feed.url}> · never fetched · {escape_markdown(where)}")
                continue
            failing = f" · ⚠️ {state.failures} failures" if state.failures else ""
            lines.append(
                f"• <{feed.url}> · {escape_markdown(state.last_status)}{failing}"
                f" · {state.entries} entries · next {_when(state.next_fetch_at)}"
                f" · {escape_markdown(where)}"
            )
        more, total = "\n… and more (see `newsbot feeds`)", len(lines)
        while lines and length("\n".join(lines)) > CONTENT_MAX - len(more):
            lines.pop()
        text = "\n".join(lines) + (more if len(lines) < total else "")
        text = text or "No feeds yet: add one with `/feed add`."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="remove", description="Stop polling a feed added here")
    @app_commands.describe(url="the feed's address")
    @app_commands.autocomplete(url=stored_feed)
    async def remove(self, interaction: Interaction, url: app_commands.Range[str, 1, 2048]) -> None:
        require_moderator(interaction, self.settings, "remove feeds")
        address = await remove_feed(self.settings, self.store, url)
        await interaction.response.send_message(
            f"🗑️ <{address}> is no longer polled; its articles stay in the queue.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
