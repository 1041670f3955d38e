"""Turning the core's message-create payloads into discord.py keyword arguments."""

from __future__ import annotations

from typing import Any

import discord

NO_MENTIONS = discord.AllowedMentions.none()


def message_kwargs(payload: dict[str, Any]) -> dict[str, Any]:
    """``content`` and ``embeds`` for ``send``/``edit``; mentions are always off."""
    kwargs: dict[str, Any] = {
        "content": payload.get("content") or None,
        "allowed_mentions": NO_MENTIONS,
    }
    embeds = payload.get("embeds") or []
    kwargs["embeds"] = [discord.Embed.from_dict(embed) for embed in embeds]
    return kwargs
