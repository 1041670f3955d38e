"""The guild model the double serves: users, roles, channels with overwrites, members.

A test describes its server with :class:`GuildBuilder` (or takes :func:`default_guild`), and
the double turns it into Discord payloads (GUILD_CREATE, channel and member objects) and into
permission decisions, so one description drives both what the bot sees and what it may do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .clock import SnowflakeGenerator, iso_timestamp, snowflake_time
from .permissions import (
    EVERYONE_DEFAULT,
    Overwrite,
    OverwriteType,
    Permission,
    apply_overwrites,
    base_permissions,
)

JsonObject = dict[str, Any]


class ChannelType:
    """The channel type numbers the double serves."""

    GUILD_TEXT = 0
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    GUILD_FORUM = 15


THREAD_TYPES = (
    ChannelType.ANNOUNCEMENT_THREAD,
    ChannelType.PUBLIC_THREAD,
    ChannelType.PRIVATE_THREAD,
)


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def payload(self) -> JsonObject:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "public_flags": 0,
            "bot": self.bot,
        }


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False
    bot_id: int | None = None

    def payload(self) -> JsonObject:
        data: JsonObject = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class Channel:
    id: int
    name: str
    guild_id: int
    type: int = ChannelType.GUILD_TEXT
    position: int = 0
    topic: str | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    parent_id: int | None = None
    nsfw: bool = False
    owner_id: int | None = None
    """Threads: who started it."""
    archived: bool = False
    archived_at: str | None = None
    auto_archive_duration: int = 1440
    created_at: str = field(default_factory=iso_timestamp)
    flags: int = 0
    available_tags: list[JsonObject] = field(default_factory=list)
    """Forums: the tags a post may carry (``{id, name, moderated, emoji_id, emoji_name}``)."""
    applied_tags: list[int] = field(default_factory=list)
    """Forum posts: the ids of the forum's tags the post carries."""

    def payload(self) -> JsonObject:
        if self.type in THREAD_TYPES:
            return self._thread_payload()
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [o.payload() for o in self.overwrites],
            "topic": self.topic,
            "nsfw": self.nsfw,
            "parent_id": None if self.parent_id is None else str(self.parent_id),
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": self.flags,
            **self._forum_fields(),
        }

    def _forum_fields(self) -> JsonObject:
        if self.type != ChannelType.GUILD_FORUM:
            return {}
        return {
            "available_tags": [dict(t) for t in self.available_tags],
            "default_reaction_emoji": None,
            "default_thread_rate_limit_per_user": 0,
            "default_sort_order": None,
            "default_forum_layout": 0,
        }

    def _thread_payload(self) -> JsonObject:
        """A thread as Discord describes one: its parent, owner and thread_metadata."""
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "parent_id": str(self.parent_id),
            "owner_id": str(self.owner_id),
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "applied_tags": [str(t) for t in self.applied_tags],
            "thread_metadata": {
                "archived": self.archived,
                "auto_archive_duration": self.auto_archive_duration,
                "archive_timestamp": self.archived_at or self.created_at,
                "locked": False,
                "create_timestamp": self.created_at,
            },
        }


@dataclass
class Member:
    user: User
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_timestamp)

    @property
    def id(self) -> int:
        return self.user.id

    def payload(self) -> JsonObject:
        return {
            "user": self.user.payload(),
            "roles": [str(r) for r in self.role_ids],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }


@dataclass
class Guild:
    """A server: roles (the @everyone role shares the guild id), channels, members."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)
    """Test-facing aliases (``"review"``, ``"moderator"``...) for channel, member and role ids."""

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def lookup(self, ref: int | str) -> int:
        """Resolve an id or a key/name to an id (channel, member or role)."""
        if isinstance(ref, int):
            return ref
        if ref in self.keys:
            return self.keys[ref]
        named: list[Channel | Role] = [*self.channels.values(), *self.roles.values()]
        for item in named:
            if item.name == ref:
                return item.id
        for member in self.members.values():
            if ref in (member.user.username, member.nick):
                return member.id
        raise KeyError(f"nothing called {ref!r} in guild {self.name!r}")

    def channel(self, ref: int | str) -> Channel:
        return self.channels[self.lookup(ref)]

    def member(self, ref: int | str) -> Member:
        return self.members[self.lookup(ref)]

    def role(self, ref: int | str) -> Role:
        return self.roles[self.lookup(ref)]

    def guild_permissions(self, member_id: int) -> int:
        member = self.members[member_id]
        return base_permissions(
            everyone=self.everyone.permissions,
            role_permissions=(
                self.roles[r].permissions for r in member.role_ids if r in self.roles
            ),
            is_owner=member_id == self.owner_id,
        )

    def channel_permissions(self, member_id: int, channel_id: int) -> int:
        member = self.members[member_id]
        channel = self.channels[channel_id]
        if channel.type in THREAD_TYPES and channel.parent_id in self.channels:
            channel = self.channels[channel.parent_id]  # a thread has its parent's permissions
        return apply_overwrites(
            self.guild_permissions(member_id),
            guild_id=self.id,
            member_id=member_id,
            member_role_ids=member.role_ids,
            overwrites=channel.overwrites,
        )

    def create_payload(self, *, include_all_members: bool) -> JsonObject:
        """GUILD_CREATE data; without the members intent Discord only sends the bot itself."""
        members = list(self.members.values())
        if not include_all_members:
            members = [m for m in members if m.user.bot]
        return {
            **self.payload(),
            "joined_at": iso_timestamp(snowflake_time(self.id)),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "members": [m.payload() for m in members],
            "channels": [c.payload() for c in self.channels.values() if c.type not in THREAD_TYPES],
            "threads": [
                c.payload()
                for c in self.channels.values()
                if c.type in THREAD_TYPES and not c.archived
            ],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def payload(self) -> JsonObject:
        """The REST guild object (GET /guilds/{id})."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "afk_timeout": 300,
            "afk_channel_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "application_id": None,
            "premium_progress_bar_enabled": False,
        }


GuildFactory = Callable[[User, SnowflakeGenerator], Guild]
"""Builds a guild that contains the given bot user; the double calls it at construction."""


class GuildBuilder:
    """Describe a guild in a few calls; ids are real snowflakes unless given explicitly.

    Every entity gets a ``key`` (default: its name) usable wherever the double takes a
    reference, e.g. ``double.channel("review")`` or ``send_slash_command(..., user="moderator")``.
    """

    def __init__(
        self,
        name: str = "Newsroom",
        *,
        ids: SnowflakeGenerator | None = None,
        id: int | None = None,
        everyone_permissions: int = EVERYONE_DEFAULT,
    ) -> None:
        self._ids = ids or SnowflakeGenerator()
        gid = id if id is not None else self._ids()
        self._guild = Guild(id=gid, name=name, owner_id=0)
        self._guild.roles[gid] = Role(
            id=gid, name="@everyone", permissions=int(everyone_permissions)
        )
        self._guild.keys["@everyone"] = gid

    @property
    def guild_id(self) -> int:
        return self._guild.id

    def role(
        self,
        name: str,
        permissions: int = 0,
        *,
        id: int | None = None,
        key: str | None = None,
        color: int = 0,
        hoist: bool = False,
        position: int | None = None,
        bot_id: int | None = None,
        mentionable: bool = False,
    ) -> Role:
        role = Role(
            id=id if id is not None else self._ids(),
            name=name,
            permissions=int(permissions),
            position=position if position is not None else len(self._guild.roles),
            color=color,
            hoist=hoist,
            managed=bot_id is not None,
            mentionable=mentionable,
            bot_id=bot_id,
        )
        self._guild.roles[role.id] = role
        self._guild.keys[key or name] = role.id
        return role

    def text_channel(
        self,
        name: str,
        *,
        id: int | None = None,
        key: str | None = None,
        topic: str | None = None,
        overwrites: Iterable[Overwrite] = (),
        type: int = ChannelType.GUILD_TEXT,
    ) -> Channel:
        channel = Channel(
            id=id if id is not None else self._ids(),
            name=name,
            guild_id=self._guild.id,
            type=type,
            position=len(self._guild.channels),
            topic=topic,
            overwrites=list(overwrites),
        )
        self._guild.channels[channel.id] = channel
        self._guild.keys[key or name] = channel.id
        return channel

    def forum_channel(
        self,
        name: str,
        *,
        tags: Iterable[str] = (),
        require_tag: bool = False,
        key: str | None = None,
        overwrites: Iterable[Overwrite] = (),
    ) -> Channel:
        """A forum channel (type 15) with these tags (``REQUIRE_TAG`` if ``require_tag``)."""
        channel = self.text_channel(
            name, key=key, overwrites=overwrites, type=ChannelType.GUILD_FORUM
        )
        channel.available_tags = [
            {
                "id": str(self._ids()),
                "name": tag,
                "moderated": False,
                "emoji_id": None,
                "emoji_name": None,
            }
            for tag in tags
        ]
        channel.flags = (1 << 4) if require_tag else 0
        return channel

    def member(
        self,
        name: str,
        *,
        roles: Iterable[Role] = (),
        id: int | None = None,
        key: str | None = None,
        nick: str | None = None,
        owner: bool = False,
    ) -> Member:
        user = User(id=id if id is not None else self._ids(), username=name, global_name=name)
        return self.add_user(user, roles=roles, key=key or name, nick=nick, owner=owner)

    def add_user(
        self,
        user: User,
        *,
        roles: Iterable[Role] = (),
        key: str | None = None,
        nick: str | None = None,
        owner: bool = False,
    ) -> Member:
        member = Member(user=user, role_ids=[r.id for r in roles], nick=nick)
        self._guild.members[user.id] = member
        self._guild.keys[key or user.username] = user.id
        if owner:
            self._guild.owner_id = user.id
        return member

    def overwrite(self, target: Role | Member, *, allow: int = 0, deny: int = 0) -> Overwrite:
        kind = OverwriteType.ROLE if isinstance(target, Role) else OverwriteType.MEMBER
        return Overwrite(id=target.id, type=kind, allow=int(allow), deny=int(deny))

    @property
    def everyone(self) -> Role:
        return self._guild.everyone

    def build(self) -> Guild:
        if not self._guild.owner_id:
            raise ValueError("the guild needs an owner (member(..., owner=True))")
        return self._guild


BOT_ROLE_PERMISSIONS = (
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.ADD_REACTIONS
    | Permission.USE_EXTERNAL_EMOJIS
)
MODERATOR_PERMISSIONS = (
    Permission.MANAGE_MESSAGES
    | Permission.KICK_MEMBERS
    | Permission.MODERATE_MEMBERS
    | Permission.VIEW_AUDIT_LOG
)


def default_guild(bot: User, ids: SnowflakeGenerator) -> Guild:
    """The server most tests need.

    Keys: roles ``Moderator`` and ``bot-role`` (plus ``@everyone``); members ``owner`` (guild
    owner, so effectively every permission), ``moderator`` (holds Moderator, no Manage Server),
    ``member`` (no extra roles) and ``bot``; channels ``review`` (moderators and bot only),
    ``digest-general`` and ``digest-ai`` (only the bot may post), ``general`` (anyone),
    ``read-only`` (bot sees it but may not send) and ``hidden`` (bot cannot see it).
    """
    b = GuildBuilder("Newsroom", ids=ids)
    moderator_role = b.role("Moderator", MODERATOR_PERMISSIONS, position=2, hoist=True)
    bot_role = b.role("newsbot", BOT_ROLE_PERMISSIONS, key="bot-role", position=1, bot_id=bot.id)
    b.member("owner", owner=True)
    b.member("moderator", roles=[moderator_role])
    b.member("member")
    b.add_user(bot, roles=[bot_role], key="bot")
    everyone = b.everyone
    view, send = Permission.VIEW_CHANNEL, Permission.SEND_MESSAGES
    b.text_channel(
        "review",
        topic="Pending articles for moderation",
        overwrites=[
            b.overwrite(everyone, deny=view),
            b.overwrite(moderator_role, allow=view | send),
            b.overwrite(bot_role, allow=view | send | Permission.EMBED_LINKS),
        ],
    )
    for name in ("digest-general", "digest-ai"):
        b.text_channel(
            name,
            overwrites=[
                b.overwrite(everyone, deny=send),
                b.overwrite(bot_role, allow=send | Permission.EMBED_LINKS),
            ],
        )
    b.text_channel("general")
    b.text_channel("read-only", overwrites=[b.overwrite(everyone, deny=send)])
    b.text_channel(
        "hidden",
        overwrites=[b.overwrite(everyone, deny=view), b.overwrite(moderator_role, allow=view)],
    )
    return b.build()
