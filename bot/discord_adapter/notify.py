"""Opt-in pings: the "Notify me" / "Stop" buttons under a digest that give and take the
digest's ``ping_role``, and the start-up checks that a ping and its buttons can work.

The buttons are ``DynamicItem``s (custom ids ``newsbot:notify:on:<role>``, built by the core
in :func:`bot.render.pack.notify_row`), so buttons under last week's digest still work after a
restart. A click only ever gives or takes a role some configured digest pings and offers the
buttons for: the role in the custom id is checked against the settings, never trusted.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord.ext import commands

from bot.config import DigestChannel, Settings
from bot.discord_adapter.ids import NOTIFY_BUTTON_ID
from bot.discord_adapter.tree import handle_interaction_error, reply_ephemeral
from bot.render.pack import notify_button_id

log = logging.getLogger(__name__)


class NotifyRoles(commands.Cog):
    """What the buttons act through (discord.py rebuilds a clicked button from its custom id
    alone): the roles members may give and take themselves."""

    def __init__(self, settings: Settings) -> None:
        self.roles = {
            d.ping_role for d in settings.digests if d.notify_button and d.ping_role is not None
        }


def role_problem(role: discord.Role, me: discord.Member) -> str | None:
    """Why the bot cannot give or take ``role``, if it cannot (Manage Roles, and the role
    below the bot's highest role and not an integration's)."""
    if not me.guild_permissions.manage_roles:
        return "the bot lacks Manage Roles"
    if role.managed or role.is_default():
        return f"@{role.name} belongs to an integration and cannot be given"
    if not role.is_assignable():
        return f"@{role.name} is not below the bot's highest role; move the bot's role above it"
    return None


def startup_problem(digest: DigestChannel, channel: discord.abc.GuildChannel) -> str | None:
    """Why ``digest``'s ``ping_role`` or ``notify_button`` cannot work in ``channel``, if so:
    the role exists, the bot may mention it there, and, for the buttons, may give it."""
    if digest.ping_role is None:
        return None
    guild = channel.guild
    role = guild.get_role(digest.ping_role)
    if role is None:
        return f"ping_role: there is no role {digest.ping_role} in {guild.name}"
    perms = channel.permissions_for(guild.me)
    if not role.mentionable and not perms.mention_everyone:
        return (
            f"ping_role: the bot cannot ping @{role.name} in #{channel.name}; make the role"
            " mentionable or give the bot Mention Everyone there"
        )
    if digest.notify_button:
        problem = role_problem(role, guild.me)
        if problem is not None:
            return f"notify_button: the bot cannot give @{role.name}: {problem}"
    return None


class NotifyButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=NOTIFY_BUTTON_ID,
):
    def __init__(self, action: str, role_id: int) -> None:
        on = action == "on"
        super().__init__(
            discord.ui.Button(
                label="Notify me" if on else "Stop",
                style=discord.ButtonStyle.primary if on else discord.ButtonStyle.secondary,
                custom_id=notify_button_id(action, role_id),
            )
        )
        self.action = action
        self.role_id = role_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> NotifyButton:
        return cls(match["action"], int(match["role"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await reply_ephemeral(interaction, await self._toggle(interaction))
        except Exception as exc:  # one error path for every interaction
            await handle_interaction_error(interaction, exc)

    async def _toggle(self, interaction: discord.Interaction[Any]) -> str:
        """Give or take the role; the reply says what happened or why not."""
        client = interaction.client
        cog = client.get_cog(NotifyRoles.__cog_name__) if isinstance(client, commands.Bot) else None
        member, guild = interaction.user, interaction.guild
        if not isinstance(cog, NotifyRoles) or self.role_id not in cog.roles:
            return "These notifications are no longer offered here."
        if guild is None or not isinstance(member, discord.Member):
            return "Notifications are given in the server, not in direct messages."
        role = guild.get_role(self.role_id)
        if role is None:
            return "That notification role no longer exists; tell a moderator."
        problem = role_problem(role, guild.me)
        if problem is not None:
            log.warning("cannot give or take role %d: %s", role.id, problem)
            return f"I can't change your notifications right now: {problem}. Tell a moderator."
        has = any(r.id == role.id for r in member.roles)
        if self.action == "on" and has:
            return f"You already get a ping (@{role.name}) with each digest."
        if self.action == "off" and not has:
            return "You don't get digest pings; nothing to stop."
        try:
            if self.action == "on":
                await member.add_roles(role, reason="newsbot: Notify me")
            else:
                await member.remove_roles(role, reason="newsbot: Stop")
        except discord.Forbidden as exc:
            # Without the members intent the bot may not hear that its own roles changed:
            # Discord's answer is the last word on what it may do.
            log.warning("Discord refused to change role %d of %d: %s", role.id, member.id, exc)
            return (
                "I can't change your notifications right now: Discord refused (the bot needs"
                f" Manage Roles and a role above @{role.name}). Tell a moderator."
            )
        if self.action == "on":
            return f"You'll get a ping (@{role.name}) with each digest. Stop any time."
        return f"Done: no more pings (@{role.name}) for digests."


def notify_view(payload: dict[str, Any]) -> discord.ui.View | None:
    """The payload's notify buttons as a view discord.py can send (None without any)."""
    buttons = [
        match
        for row in payload.get("components") or []
        for component in row.get("components") or []
        if (match := re.fullmatch(NOTIFY_BUTTON_ID, str(component.get("custom_id", ""))))
    ]
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for match in buttons:
        view.add_item(NotifyButton(match["action"], int(match["role"])))
    return view
