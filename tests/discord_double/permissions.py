"""Discord permission bits and the documented permission computation.

The double computes effective channel permissions exactly the way Discord documents it
(guild base from @everyone + roles, owner and ADMINISTRATOR shortcut, then @everyone, role and
member overwrites) so that the bot's own permission checks and the double's 403s agree.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Permission(enum.IntFlag):
    """Permission bits as Discord numbers them (the subset the bot can meet, plus admin)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    SEND_MESSAGES_IN_THREADS = 1 << 38
    MODERATE_MEMBERS = 1 << 40


ALL_PERMISSIONS = (1 << 51) - 1
"""Every bit Discord currently defines; what owners and administrators effectively hold."""

GUILD_ONLY_PERMISSIONS = sum(
    1 << bit
    for bit in (
        1,  # kick members
        2,  # ban members
        3,  # administrator
        5,  # manage guild
        7,  # view audit log
        19,  # view guild insights
        26,  # change nickname
        27,  # manage nicknames
        30,  # manage expressions
        33,  # manage events
        40,  # moderate members
        41,  # view creator monetization analytics
        43,  # create expressions
        44,  # create events
    )
)
"""Bits that are not about a channel; losing VIEW_CHANNEL leaves only these (as discord.py)."""

EVERYONE_DEFAULT = (
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.ADD_REACTIONS
    | Permission.USE_EXTERNAL_EMOJIS
    | Permission.USE_APPLICATION_COMMANDS
    | Permission.CHANGE_NICKNAME
    | Permission.CREATE_INSTANT_INVITE
    | Permission.SEND_MESSAGES_IN_THREADS
    | Permission.CREATE_PUBLIC_THREADS
)
"""Roughly what a new server grants @everyone."""


class OverwriteType(enum.IntEnum):
    ROLE = 0
    MEMBER = 1


@dataclass
class Overwrite:
    """One channel permission overwrite (allow/deny bit sets for a role or a member)."""

    id: int
    type: OverwriteType
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "type": int(self.type),
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


def base_permissions(
    *,
    everyone: int,
    role_permissions: Iterable[int],
    is_owner: bool,
) -> int:
    """Guild-level permissions of a member (Discord's ``compute_base_permissions``)."""
    if is_owner:
        return ALL_PERMISSIONS
    perms = everyone
    for role_perms in role_permissions:
        perms |= role_perms
    if perms & Permission.ADMINISTRATOR:
        return ALL_PERMISSIONS
    return perms


def apply_overwrites(
    base: int,
    *,
    guild_id: int,
    member_id: int,
    member_role_ids: Iterable[int],
    overwrites: Iterable[Overwrite],
) -> int:
    """Channel permissions from the guild-level base (Discord's ``compute_overwrites``).

    Without VIEW_CHANNEL a member has no channel permission there (guild-wide bits such as
    MANAGE_GUILD remain), and without SEND_MESSAGES the message-dependent bits do not apply
    either: Discord's implicit denials, computed exactly as discord.py's ``permissions_for``.
    """
    if base & Permission.ADMINISTRATOR:
        return ALL_PERMISSIONS
    by_target = {(o.type, o.id): o for o in overwrites}
    perms = base
    everyone = by_target.get((OverwriteType.ROLE, guild_id))
    if everyone is not None:
        perms = (perms & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for role_id in member_role_ids:
        ow = by_target.get((OverwriteType.ROLE, role_id))
        if ow is not None:
            allow |= ow.allow
            deny |= ow.deny
    perms = (perms & ~deny) | allow
    member = by_target.get((OverwriteType.MEMBER, member_id))
    if member is not None:
        perms = (perms & ~member.deny) | member.allow
    if not perms & Permission.VIEW_CHANNEL:
        return perms & GUILD_ONLY_PERMISSIONS
    if not perms & Permission.SEND_MESSAGES:
        perms &= ~(
            Permission.EMBED_LINKS
            | Permission.ATTACH_FILES
            | Permission.MENTION_EVERYONE
            | Permission.SEND_TTS_MESSAGES
        )
    return perms
