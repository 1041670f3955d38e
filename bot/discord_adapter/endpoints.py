"""Where discord.py connects: the one place ``Route.BASE`` and the gateway URL are set."""

from __future__ import annotations

import logging

import discord
import yarl

from bot.config import Settings

log = logging.getLogger(__name__)


def configure_endpoints(settings: Settings) -> None:
    """Point discord.py at ``NEWSBOT_DISCORD_API_BASE`` / ``NEWSBOT_DISCORD_GATEWAY``.

    discord.py builds every REST URL (interaction callbacks and follow-ups included) from
    ``Route.BASE``, and a non-sharded client connects straight to ``DEFAULT_GATEWAY``
    without asking ``GET /gateway/bot``, so these two settings move all traffic.
    """
    discord.http.Route.BASE = settings.api_base.rstrip("/")
    if settings.gateway:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway)
    log.debug(
        "Discord API %s, gateway %s",
        discord.http.Route.BASE,
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )
