"""The paginated ``/news queue`` view: Previous / Next buttons over a store query."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import discord

from bot.discord_adapter.tree import handle_interaction_error
from bot.render.escape import escape_markdown
from bot.store import QueueItem, QueueQuery, Store

PAGE_SIZE = 10


class QueuePager(discord.ui.View):
    """One page of the queue at a time, read fresh from the store on every click.

    Pages are by key (the ids around the page shown), so turning to any page of a million
    items costs the same as the first; one item more than a page tells whether there is a
    next (or previous) one.
    """

    def __init__(self, store: Store, query: QueueQuery, *, owner: int) -> None:
        super().__init__(timeout=600)
        self.store = store
        self.query = query
        self.owner = owner
        self.page = 1
        self.after: int | None = None  # the page shown: the items after this id,
        self.before: int | None = None  # or the items just before this one
        self.shown: tuple[int, int] | None = None  # first and last id on the page

    async def _page(self) -> tuple[list[QueueItem], bool, bool]:
        """The items of the page at the cursor, and whether pages exist before and after."""
        items = await self.store.list_items(
            replace(self.query, limit=PAGE_SIZE + 1, after=self.after, before=self.before)
        )
        if self.before is not None:
            return items[-PAGE_SIZE:], len(items) > PAGE_SIZE, True
        return items[:PAGE_SIZE], self.after is not None, len(items) > PAGE_SIZE

    async def render(self) -> str:
        total = await self.store.count_items(self.query)
        pages = max(1, -(-total // PAGE_SIZE))
        items, earlier, later = await self._page()
        if self.before is not None and not earlier:
            # Back at the start (perhaps sooner than counted): show a full first page.
            self.before = None
            items, earlier, later = await self._page()
        elif self.after is not None and not items:
            # Everything after the cursor left the queue: show the page that ends there.
            self.before, self.after = self.after + 1, None
            self.page -= 1
            items, earlier, later = await self._page()
        # The page number is counted from the clicks, so items that left the queue before the
        # page can make it drift; keep it within what the neighbours say (the first page, which
        # is read from the start, puts it right again).
        if not earlier:
            self.page = 1
        elif not later:
            self.page = max(2, pages)
        else:
            self.page = max(2, min(self.page, pages - 1))
        self.shown = (items[0].id, items[-1].id) if items else None
        self.previous.disabled = not earlier
        self.next.disabled = not later
        if not items:
            return "The queue is empty." if not self.query.statuses else "No items match."
        lines = [f"**Queue** · {total} item{'s' if total != 1 else ''} · page {self.page}/{pages}"]
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
        if self.shown is not None:
            first, last = self.shown
            self.after, self.before = (last, None) if delta > 0 else (None, first)
            self.page += delta
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
