"""Edits of posted messages as Discord takes them: the core's payload as a PATCH body.

The body is the whole rendered message (content, embeds, and components when the payload has
any: left out, Discord keeps the message's buttons), so an edit sent twice shows the same
message; ``allowed_mentions`` allow nothing, since Discord parses the mentions of edited
content again. This is the bot's route (PATCH /channels/{id}/messages/{id}); a message posted
through a webhook is edited through the webhook's route instead (not handled here yet).
"""

from __future__ import annotations

from typing import Any

import discord
from discord.http import MultipartParameters


def edit_body(payload: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "content": payload.get("content") or "",
        # Through discord.py's Embed, as a send goes: the edited embeds are sent as posted.
        "embeds": [discord.Embed.from_dict(e).to_dict() for e in payload.get("embeds") or []],
        "allowed_mentions": {"parse": []},
    }
    if payload.get("components"):
        body["components"] = payload["components"]
    return body


def edit_params(payload: dict[str, Any]) -> MultipartParameters:
    return MultipartParameters(payload=edit_body(payload), multipart=None, files=None)
