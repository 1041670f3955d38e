"""Who counts as a moderator, checked when a command or button runs.

Discord's default command permissions can be changed by server admins, so every moderator
action also checks here: one of the configured moderator roles (by id or name) or Manage
Server, in the configured guild only.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.config import Settings
from bot.errors import PermissionDenied


def in_configured_guild(interaction: discord.Interaction[Any], settings: Settings) -> None:
    if interaction.guild_id is None:
        raise PermissionDenied("newsbot commands work only in a server, not in direct messages.")
    if settings.guild is not None and interaction.guild_id != settings.guild:
        raise PermissionDenied("newsbot is not set up for this server.")


def is_moderator(member: discord.abc.User, settings: Settings) -> bool:
    if not isinstance(member, discord.Member):
        return False
    if member.guild_permissions.manage_guild or member.guild_permissions.administrator:
        return True
    wanted = set(settings.moderator_roles)
    return any(role.id in wanted or role.name in wanted for role in member.roles)


def require_moderator(
    interaction: discord.Interaction[Any], settings: Settings, action: str
) -> None:
    """Raise PermissionDenied (nothing changed) unless the user may moderate here."""
    in_configured_guild(interaction, settings)
    if not is_moderator(interaction.user, settings):
        roles = ", ".join(str(r) for r in settings.moderator_roles) or "none configured"
        raise PermissionDenied(
            f"Only moderators can {action} (moderator roles: {roles}; or Manage Server)."
        )
