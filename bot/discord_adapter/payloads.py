"""Turning the core's message-create payloads into discord.py keyword arguments."""

from __future__ import annotations

from typing import Any

import discord

NO_MENTIONS = discord.AllowedMentions.none()


def allowed_mentions(payload: dict[str, Any]) -> discord.AllowedMentions:
    """The payload's ``allowed_mentions`` as discord.py takes them: none, or exactly the roles
    it lists (a digest's ``ping_role``). Users, ``@everyone`` and ``parse`` never pass."""
    allowed = payload.get("allowed_mentions")
    roles = allowed.get("roles") if isinstance(allowed, dict) else None
    if not roles:
        return NO_MENTIONS
    return discord.AllowedMentions(
        everyone=False,
        users=False,
        roles=[discord.Object(id=int(role)) for role in roles],
        replied_user=False,
    )


def message_kwargs(payload: dict[str, Any], *, pings: bool = False) -> dict[str, Any]:
    """``content`` and ``embeds`` for ``send``/``edit``. Mentions are off; with ``pings`` (a
    digest being posted, never a preview or a review post) the roles the payload allows
    ping (see :func:`allowed_mentions`)."""
    kwargs: dict[str, Any] = {
        "content": payload.get("content") or None,
        "allowed_mentions": allowed_mentions(payload) if pings else NO_MENTIONS,
    }
    embeds = payload.get("embeds") or []
    kwargs["embeds"] = [discord.Embed.from_dict(embed) for embed in embeds]
    return kwargs
