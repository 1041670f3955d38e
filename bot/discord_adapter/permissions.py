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


def home_guilds(client: discord.Client, settings: Settings) -> set[int]:
    """The servers newsbot works for: the configured ``guild``, or else the servers holding
    the review and digest channels. Empty when nothing names a server (then any server)."""
    if settings.guild is not None:
        return {settings.guild}
    channels = [settings.review_channel, *(d.channel for d in settings.digests)]
    found = (client.get_channel(c) for c in channels if c is not None)
    return {ch.guild.id for ch in found if isinstance(ch, discord.abc.GuildChannel)}


def in_configured_guild(interaction: discord.Interaction[Any], settings: Settings) -> None:
    if interaction.guild_id is None:
        raise PermissionDenied("newsbot commands work only in a server, not in direct messages.")
    home = home_guilds(interaction.client, settings)
    if home and interaction.guild_id not in home:
        # A Moderator role (matched by name) in another server must not moderate this queue.
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
