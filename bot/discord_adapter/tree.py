"""The command tree and the one mapping from errors to ephemeral replies.

Commands reach the mapping through the tree's ``on_error``; buttons, modals and views call
:func:`handle_interaction_error` themselves, so every interaction answers the same way.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.config import Settings
from bot.discord_adapter.payloads import NO_MENTIONS
from bot.discord_adapter.permissions import in_configured_guild
from bot.errors import (
    ArticleError,
    InvalidTransition,
    NewsbotError,
    NotFound,
    PermissionDenied,
    StoreError,
)

log = logging.getLogger(__name__)


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


class NewsTree(app_commands.CommandTree[Any]):
    """The bot's command tree (``tree_cls=``): a guild check before every command, and the
    one error mapping after it.

    discord.py builds the tree itself, with the client as its only argument, so the bot hands
    it the settings right after (:meth:`serve`); until then every command is refused.
    """

    settings: Settings | None = None

    def serve(self, settings: Settings) -> None:
        self.settings = settings

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Refuse every command from a server newsbot is not set up for, before discord.py
        looks the command up (one left registered there from an earlier sync included)."""
        try:
            if self.settings is None:
                raise PermissionDenied("newsbot is still starting; try again in a moment.")
            in_configured_guild(interaction, self.settings)
        except PermissionDenied as exc:
            if interaction.type is discord.InteractionType.autocomplete:
                return False  # autocomplete cannot carry a message; offer nothing
            raise app_commands.CheckFailure(str(exc)) from exc
        return True

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await handle_interaction_error(interaction, error)
