"""Draft digests in the review channel: the draft's messages as the digest channel would get
them, then one control message (drop select, Approve, Skip this run, Refresh).

The controls are ``DynamicItem``s whose custom ids carry the draft and its version
(``bot.discord_adapter.ids.DRAFT_ID``), so they work after a restart and a click on an
outdated control is refused by the store and answered with where the draft stands now.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import discord
from discord.ext import commands

from bot.config import Settings
from bot.discord_adapter.ids import (
    DRAFT_BUTTON_ID,
    DRAFT_SELECT_ID,
    actor_of,
    draft_control_id,
    draft_nonce,
)
from bot.discord_adapter.payloads import message_kwargs
from bot.discord_adapter.permissions import require_moderator
from bot.discord_adapter.tree import handle_interaction_error
from bot.draft import DraftAction, DraftConflict, Drafts, describe_draft
from bot.plan import DigestPlan
from bot.store import DraftRecord, DraftState, QueueItem

log = logging.getLogger(__name__)

SELECT_MAX = 25
"""Discord's limit of options in one select menu: a draft of more items lets the first 25 be
dropped from the menu (max_items above 25 is rare for a digest; the rest stay)."""
LABEL_MAX = 100


class DraftDesk(commands.Cog):
    """Shows drafts in the review channel and applies moderators' decisions to them."""

    def __init__(
        self,
        client: discord.Client,
        settings: Settings,
        drafts: Drafts,
        wake_scheduler: Callable[[], None],
    ) -> None:
        self.client = client
        self.settings = settings
        self.drafts = drafts
        self.wake_scheduler = wake_scheduler

    async def cog_load(self) -> None:
        self.drafts.shower = self

    async def cog_unload(self) -> None:
        self.drafts.shower = None

    async def show(self, draft: DraftRecord, plan: DigestPlan) -> None:
        """Post the draft's messages (no mentions: a preview must not ping the digest's role)
        and its controls, and remember the control message."""
        channel_id = self.settings.review_channel
        if channel_id is None:
            return
        channel = self.client.get_partial_messageable(channel_id)
        for position, message in enumerate(plan.messages):
            await channel.send(
                nonce=f"{draft_nonce(draft.id, draft.version)}-{position}",
                **message_kwargs(message.payload),
            )
        role = self.settings.digest_for(draft.channel_id).review_ping_role
        control = await channel.send(
            content=control_text(draft, ping=role),
            view=draft_view(draft, plan.items),
            nonce=draft_nonce(draft.id, draft.version),
            allowed_mentions=discord.AllowedMentions(
                everyone=False,
                users=False,
                roles=[discord.Object(id=role)] if role is not None else False,
            ),
        )
        await self.drafts.store.set_draft_control(draft.id, control.id)
        log.info("draft %d shown in channel %d", draft.id, channel_id)

    async def act(
        self,
        interaction: discord.Interaction[Any],
        action: DraftAction,
        draft_id: int,
        version: int,
        dropped: tuple[int, ...] = (),
    ) -> None:
        require_moderator(interaction, self.settings, "review drafts")
        try:
            decided = await self.drafts.decide(
                draft_id, version, action, actor=actor_of(interaction.user), dropped=dropped
            )
        except DraftConflict as conflict:
            now = conflict.current
            where = describe_draft(now) if now is not None else "it no longer exists"
            await interaction.response.send_message(
                f"This draft changed before your click, nothing was done: {where}.",
                ephemeral=True,
            )
            return
        draft = decided.draft
        if action is DraftAction.REFRESH:
            text = f"Refreshed by <@{interaction.user.id}>: the new draft follows."
            await interaction.response.edit_message(content=text, view=None)
        else:
            await interaction.response.edit_message(
                content=control_text(draft),
                view=draft_view(draft, decided.plan.items)
                if draft.state is DraftState.WAITING
                else None,
            )
        self.wake_scheduler()


def control_text(draft: DraftRecord, *, ping: int | None = None) -> str:
    when = int(draft.scheduled_for.timestamp())
    lead = f"<@&{ping}> " if ping is not None else ""
    return (
        f"{lead}**Draft digest** for <#{draft.channel_id}>, run <t:{when}:f> (<t:{when}:R>):"
        f" {describe_draft(draft)}."
    )


def draft_view(draft: DraftRecord, items: list[QueueItem]) -> discord.ui.View:
    """The controls of a waiting draft. ``items`` are its kept items; the menu offers the
    draft's items with the dropped ones selected, so a new choice replaces the old one."""
    view = discord.ui.View(timeout=None)
    titles = {item.id: item.article.title for item in items}
    options = [
        discord.SelectOption(
            label=(titles.get(i) or f"Item {i} (dropped)")[:LABEL_MAX],
            value=str(i),
            default=i in draft.dropped,
        )
        for i in draft.item_ids
        if i in titles or i in draft.dropped
    ][:SELECT_MAX]
    if options:
        view.add_item(DraftSelect(draft.id, draft.version, options))
    for action in (DraftAction.APPROVE, DraftAction.SKIP, DraftAction.REFRESH):
        view.add_item(DraftButton(action, draft.id, draft.version))
    return view


def _desk(interaction: discord.Interaction[Any]) -> DraftDesk:
    client = interaction.client
    desk = client.get_cog(DraftDesk.__cog_name__) if isinstance(client, commands.Bot) else None
    if not isinstance(desk, DraftDesk):
        raise RuntimeError("a draft control was used but the draft desk is not loaded")
    return desk


_BUTTONS = {
    DraftAction.APPROVE: ("Approve", discord.ButtonStyle.success),
    DraftAction.SKIP: ("Skip this run", discord.ButtonStyle.secondary),
    DraftAction.REFRESH: ("Refresh", discord.ButtonStyle.primary),
}


class DraftButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=DRAFT_BUTTON_ID):
    def __init__(self, action: DraftAction, draft_id: int, version: int) -> None:
        label, style = _BUTTONS[action]
        super().__init__(
            discord.ui.Button(
                label=label, style=style, custom_id=draft_control_id(action, draft_id, version)
            )
        )
        self.action, self.draft_id, self.version = action, draft_id, version

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> DraftButton:
        return cls(DraftAction(match["action"]), int(match["id"]), int(match["version"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await _desk(interaction).act(interaction, self.action, self.draft_id, self.version)
        except Exception as exc:
            await handle_interaction_error(interaction, exc)


class DraftSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=DRAFT_SELECT_ID):
    """Drop items: the selected options are the draft's dropped items."""

    def __init__(
        self, draft_id: int, version: int, options: list[discord.SelectOption] | None = None
    ) -> None:
        options = options or []
        super().__init__(
            discord.ui.Select(
                custom_id=draft_control_id(DraftAction.DROP, draft_id, version),
                placeholder="Drop items from this digest",
                min_values=0,
                max_values=max(len(options), 1),
                options=options,
            )
        )
        self.draft_id, self.version = draft_id, version

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> DraftSelect:
        return cls(int(match["id"]), int(match["version"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            data: Any = interaction.data or {}
            dropped = tuple(int(v) for v in data.get("values", []) if str(v).isdigit())
            await _desk(interaction).act(
                interaction, DraftAction.DROP, self.draft_id, self.version, dropped
            )
        except Exception as exc:
            await handle_interaction_error(interaction, exc)
