"""Messages the double holds: channel history, interaction messages, nonce dedupe.

Payloads are stored in Discord's wire shape (what GET returns), so tests can compare them
with what the bot meant to send. Ephemeral interaction messages live only in ``by_id``, never
in a channel's history, as on Discord.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .clock import Clock, SnowflakeGenerator, iso_timestamp
from .state import User

JsonObject = dict[str, Any]

MESSAGE_TYPE_DEFAULT = 0
OLD_MESSAGE_AGE = 3600.0
"""Discord limits edits of messages older than an hour (30046)."""
MESSAGE_TYPE_CHAT_INPUT_COMMAND = 20


@dataclass
class UploadedFile:
    """A file part of a multipart request (``files[n]``)."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class _NonceEntry:
    message_id: int
    at: float


def _normalise_embeds(embeds: Sequence[Mapping[str, Any]] | None) -> list[JsonObject]:
    out = []
    for embed in embeds or []:
        e = dict(embed)
        e.setdefault("type", "rich")
        if not e.get("fields"):
            e.pop("fields", None)
        out.append(e)
    return out


class MessageStore:
    def __init__(self, ids: SnowflakeGenerator, clock: Clock, nonce_ttl: float) -> None:
        self._ids = ids
        self._clock = clock
        self.nonce_ttl = nonce_ttl
        self.by_id: dict[int, JsonObject] = {}
        self.by_channel: dict[int, list[JsonObject]] = {}
        self.deleted: dict[int, JsonObject] = {}
        self.created_at: dict[int, float] = {}
        """When each message was made, on the double's clock (its age decides edit limits)."""
        self.old_edits: dict[int, int] = {}
        """Edits accepted per message while it was older than an hour."""
        self._nonces: dict[tuple[int, int, str], _NonceEntry] = {}

    def create(
        self,
        *,
        channel_id: int,
        guild_id: int | None,
        author: User,
        body: Mapping[str, Any],
        files: Sequence[UploadedFile] = (),
        ephemeral: bool = False,
        message_type: int = MESSAGE_TYPE_DEFAULT,
        extra: Mapping[str, Any] | None = None,
        message_id: int | None = None,
    ) -> JsonObject:
        """Store a new message; ``message_id`` when its id was drawn already (a forum post's
        starter message has the id of its thread)."""
        message_id = self._ids() if message_id is None else message_id
        flags = int(body.get("flags") or 0)
        message: JsonObject = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": author.payload(),
            "content": body.get("content") or "",
            "timestamp": iso_timestamp(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self._attachments(body, files),
            "embeds": _normalise_embeds(body.get("embeds")),
            "components": copy.deepcopy(body.get("components") or []),
            "reactions": [],
            "pinned": False,
            "type": message_type,
            "flags": flags,
        }
        if guild_id is not None:
            message["guild_id"] = str(guild_id)
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        if extra:
            message.update(extra)
        self.by_id[message_id] = message
        self.created_at[message_id] = self._clock()
        if not ephemeral:
            self.by_channel.setdefault(channel_id, []).append(message)
        return message

    def _attachments(
        self, body: Mapping[str, Any], files: Sequence[UploadedFile]
    ) -> list[JsonObject]:
        described = {str(a.get("id")): a for a in body.get("attachments") or []}
        out = []
        for index, f in enumerate(files):
            meta = described.get(str(index), {})
            attachment_id = self._ids()
            url = f"https://cdn.discordapp.invalid/attachments/{attachment_id}/{f.filename}"
            out.append(
                {
                    "id": str(attachment_id),
                    "filename": meta.get("filename", f.filename),
                    "description": meta.get("description"),
                    "content_type": f.content_type,
                    "size": len(f.data),
                    "url": url,
                    "proxy_url": url,
                }
            )
        return out

    def age(self, message_id: int) -> float:
        """Seconds since the message was made, on the double's clock."""
        return self._clock() - self.created_at.get(message_id, self._clock())

    def edit(
        self, message_id: int, body: Mapping[str, Any], extra: Mapping[str, Any] | None = None
    ) -> JsonObject:
        """Apply a PATCH body: present keys replace, ``null`` clears; ``extra`` are the
        mention fields the edited content resolves to."""
        message = self.by_id[message_id]
        if self.age(message_id) > OLD_MESSAGE_AGE:
            self.old_edits[message_id] = self.old_edits.get(message_id, 0) + 1
        if extra:
            message.update(extra)
        for key in ("content", "embeds", "components", "allowed_mentions"):
            if key in body:
                value = body[key]
                if key == "content":
                    message[key] = value or ""
                elif key == "embeds":
                    message[key] = _normalise_embeds(value)
                elif key == "components":
                    message[key] = copy.deepcopy(value or [])
        if "flags" in body and body["flags"] is not None:
            keep = message["flags"] & ~(1 << 2)  # only SUPPRESS_EMBEDS is editable
            message["flags"] = keep | (int(body["flags"]) & (1 << 2))
        if "attachments" in body and body["attachments"] is not None:
            keep_ids = {str(a.get("id")) for a in body["attachments"]}
            message["attachments"] = [a for a in message["attachments"] if a["id"] in keep_ids]
        message["edited_timestamp"] = iso_timestamp()
        return message

    def preview_edit(self, message_id: int, body: Mapping[str, Any]) -> JsonObject:
        """What the message would look like after ``edit`` (for the emptiness check)."""
        current = self.by_id[message_id]
        merged = {k: current.get(k) for k in ("content", "embeds", "components", "attachments")}
        for key in ("content", "embeds", "components"):
            if key in body:
                merged[key] = body[key]
        return merged

    def delete(self, message_id: int) -> JsonObject:
        message = self.by_id.pop(message_id)
        channel_messages = self.by_channel.get(int(message["channel_id"]), [])
        if message in channel_messages:
            channel_messages.remove(message)
        self.deleted[message_id] = message
        return message

    def channel(self, channel_id: int) -> list[JsonObject]:
        return list(self.by_channel.get(channel_id, []))

    def history(
        self,
        channel_id: int,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[JsonObject]:
        """Discord's GET /messages: always newest first, windows as Discord picks them."""
        msgs = sorted(self.by_channel.get(channel_id, []), key=lambda m: int(m["id"]))
        if around is not None:
            older = [m for m in msgs if int(m["id"]) < around][-(limit // 2) :] if limit > 1 else []
            newer = [m for m in msgs if int(m["id"]) >= around][: limit - len(older)]
            window = older + newer
        elif after is not None:
            window = [m for m in msgs if int(m["id"]) > after][:limit]
        else:
            if before is not None:
                msgs = [m for m in msgs if int(m["id"]) < before]
            window = msgs[-limit:] if limit else []
        return list(reversed(window))

    # ------------------------------------------------------------------ nonce dedupe

    def find_nonce(self, channel_id: int, author_id: int, nonce: str) -> JsonObject | None:
        entry = self._nonces.get((channel_id, author_id, nonce))
        if entry is None or self._clock() - entry.at > self.nonce_ttl:
            return None
        return self.by_id.get(entry.message_id) or self.deleted.get(entry.message_id)

    def remember_nonce(self, channel_id: int, author_id: int, nonce: str, message_id: int) -> None:
        self._nonces[(channel_id, author_id, nonce)] = _NonceEntry(message_id, self._clock())
