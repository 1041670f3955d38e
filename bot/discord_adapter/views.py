"""The paginated ``/news queue`` view: Previous / Next buttons over a store query."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import discord

from bot.discord_adapter.tree import handle_interaction_error
from bot.render.escape import escape_markdown
from bot.store import QueueQuery, Store

PAGE_SIZE = 10


class QueuePager(discord.ui.View):
    """One page of the queue at a time, read fresh from the store on every click."""

    def __init__(self, store: Store, query: QueueQuery, *, owner: int) -> None:
        super().__init__(timeout=600)
        self.store = store
        self.query = query
        self.owner = owner
        self.page = 0
        self.pages = 1

    async def render(self) -> str:
        total = await self.store.count_items(self.query)
        self.pages = max(1, -(-total // PAGE_SIZE))
        self.page = min(self.page, self.pages - 1)
        items = await self.store.list_items(
            replace(self.query, limit=PAGE_SIZE, offset=self.page * PAGE_SIZE)
        )
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
        if not items:
            return "The queue is empty." if not self.query.statuses else "No items match."
        lines = [
            f"**Queue** · {total} item{'s' if total != 1 else ''} · page {self.page + 1}"
            f"/{self.pages}"
        ]
        for item in items:
            quality = "" if item.article.quality is None else f" · q{item.article.quality}"
            title = escape_markdown(item.article.title)
            if len(title) > 120:
                title = title[:119].rstrip("\\") + "…"
            lines.append(f"`#{item.id}` **{item.status.value}**{quality} · {title}")
        return "\n".join(lines)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.owner

    async def _turn(self, interaction: discord.Interaction[Any], delta: int) -> None:
        self.page = max(0, self.page + delta)
        content = await self.render()
        await interaction.response.edit_message(content=content, view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]
    ) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]) -> None:
        await self._turn(interaction, +1)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        await handle_interaction_error(interaction, error)
