"""A loopback Discord (REST v10 + gateway v10) for testing the bot with real discord.py.

Typical use::

    async def test_publish(discord_double):
        # the bot reads NEWSBOT_DISCORD_API_BASE / NEWSBOT_DISCORD_GATEWAY = double.env()
        await discord_double.wait_for_ready()
        handle = await discord_double.send_slash_command("digest publish", user="moderator",
                                                         channel="review")
        response = await handle.response(timeout=5)
        message = await discord_double.wait_for_message("digest-general")
"""

from .clock import Clock, ManualClock, SnowflakeGenerator
from .double import DiscordDouble
from .errors import ApiError
from .faults import Hold, RouteFilter
from .fixtures import DoubleFactory, assert_no_unknown_routes
from .gateway import (
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    PRIVILEGED_INTENTS,
    GatewayLogEntry,
    GatewaySession,
    on_shard,
    shard_of,
)
from .interactions import CallbackRecord, CallbackType, InteractionHandle, InteractionType
from .permissions import ALL_PERMISSIONS, EVERYONE_DEFAULT, Overwrite, OverwriteType, Permission
from .ratelimit import BucketSpec, RateLimitConfig
from .recording import RecordedRequest
from .state import (
    BOT_ROLE_PERMISSIONS,
    MODERATOR_PERMISSIONS,
    Channel,
    Guild,
    GuildBuilder,
    GuildFactory,
    Member,
    Role,
    User,
    default_guild,
)

__all__ = [
    "ALL_PERMISSIONS",
    "BOT_ROLE_PERMISSIONS",
    "EVERYONE_DEFAULT",
    "INTENT_GUILDS",
    "INTENT_GUILD_MEMBERS",
    "INTENT_GUILD_MESSAGES",
    "INTENT_MESSAGE_CONTENT",
    "MODERATOR_PERMISSIONS",
    "PRIVILEGED_INTENTS",
    "ApiError",
    "BucketSpec",
    "CallbackRecord",
    "CallbackType",
    "Channel",
    "Clock",
    "DiscordDouble",
    "DoubleFactory",
    "GatewayLogEntry",
    "GatewaySession",
    "Guild",
    "GuildBuilder",
    "GuildFactory",
    "Hold",
    "InteractionHandle",
    "InteractionType",
    "ManualClock",
    "Member",
    "Overwrite",
    "OverwriteType",
    "Permission",
    "RateLimitConfig",
    "RecordedRequest",
    "Role",
    "RouteFilter",
    "SnowflakeGenerator",
    "User",
    "assert_no_unknown_routes",
    "default_guild",
    "on_shard",
    "shard_of",
]
