"""Approve / Reject buttons on review messages, and the modal asking for a reject reason.

The buttons are ``DynamicItem``s with ids like ``newsbot:review:approve:42``: discord.py
matches them by pattern, so buttons posted before a restart keep working and their state
comes from the store, not from memory.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.discord_adapter.client import REVIEW_BUTTON_ID, handle_interaction_error
from bot.discord_adapter.payloads import message_kwargs
from bot.discord_adapter.permissions import require_moderator
from bot.moderation import MAX_REASON
from bot.store import QueueItem

if TYPE_CHECKING:
    from bot.discord_adapter.client import NewsBot


class ReviewButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=REVIEW_BUTTON_ID,
):
    def __init__(self, action: str, item_id: int) -> None:
        approve = action == "approve"
        super().__init__(
            discord.ui.Button(
                label="Approve" if approve else "Reject",
                style=discord.ButtonStyle.success if approve else discord.ButtonStyle.danger,
                custom_id=f"newsbot:review:{action}:{item_id}",
            )
        )
        self.action = action
        self.item_id = item_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> ReviewButton:
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: NewsBot = interaction.client
        try:
            verb = "approve items" if self.action == "approve" else "reject items"
            require_moderator(interaction, bot.app.settings, verb)
            if self.action == "reject":
                await interaction.response.send_modal(RejectModal(self.item_id))
                return
            item = await bot.decide(self.item_id, "approve", interaction.user)
            await interaction.response.edit_message(
                view=None, **message_kwargs(bot.review_payload(item))
            )
        except Exception as exc:  # one error path for every interaction
            await handle_interaction_error(interaction, exc)


class RejectModal(discord.ui.Modal, title="Reject item"):
    reason: discord.ui.TextInput[RejectModal] = discord.ui.TextInput(
        label="Reason (kept in the audit log)",
        style=discord.TextStyle.paragraph,
        max_length=MAX_REASON,
        required=False,
    )

    def __init__(self, item_id: int) -> None:
        super().__init__(custom_id=f"newsbot:reject-reason:{item_id}")
        self.item_id = item_id

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        bot: NewsBot = interaction.client
        require_moderator(interaction, bot.app.settings, "reject items")
        item = await bot.decide(self.item_id, "reject", interaction.user, self.reason.value)
        if interaction.message is not None:
            await interaction.response.edit_message(
                view=None, **message_kwargs(bot.review_payload(item))
            )
        else:
            await interaction.response.send_message(f"Rejected item {item.id}.", ephemeral=True)
            await bot.refresh_review_message(item)

    # Modal's own on_error narrows BaseView's signature; matching Modal's is what discord.py calls.
    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[Any], error: Exception
    ) -> None:
        await handle_interaction_error(interaction, error)


def review_view(item: QueueItem) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ReviewButton("approve", item.id))
    view.add_item(ReviewButton("reject", item.id))
    return view
