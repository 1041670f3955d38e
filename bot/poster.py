"""The Poster protocol: how the core hands a message to Discord without knowing discord.py,
and how a message found in a channel is recognised as one of ours (:func:`same_message`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from bot.config import Identity

# Where history is read from: a time, or the id of a message (history after it).
After = datetime | int


class ChannelKind(StrEnum):
    """What a digest channel is, as far as delivery cares."""

    TEXT = "text"
    ANNOUNCEMENT = "announcement"
    FORUM = "forum"
    """Each digest is one post (a thread); its first message is the post's starter."""
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    kind: ChannelKind
    tags: Mapping[str, int] = field(default_factory=dict)
    """A forum's tags: id by lower-case name."""
    require_tag: bool = False
    """The forum refuses a post without a tag."""


class Poster(Protocol):
    async def send(self, channel_id: int, payload: dict[str, Any], nonce: str) -> int:
        """Post one message-create payload; return the new message's id. Raise
        ``DeliveryError`` (permanent for 4xx) when Discord does not accept it."""
        ...

    async def edit(self, channel_id: int, message_id: int, payload: dict[str, Any]) -> None:
        """Replace a posted message's content, embeds (and components, when the payload has
        any) with ``payload``, allowing no mentions: a whole payload, so repeating an edit is
        harmless. Raise ``DeliveryError`` (with Discord's ``code``) when it is refused."""
        ...

    async def find_recent(
        self, channel_id: int, payload: Mapping[str, Any], after: After
    ) -> int | None:
        """The id of a message this bot posted in the channel after ``after`` (a time or a
        message id) that is ``payload`` as sent (:func:`same_message`), if any: how a part
        sent just before a crash is recognised, without any id of ours in what readers see."""
        ...

    async def channel_info(self, channel_id: int) -> ChannelInfo:
        """The channel's kind (and a forum's tags); asked before each delivery."""
        ...

    async def create_post(
        self, forum_id: int, name: str, payload: dict[str, Any], tags: Sequence[int]
    ) -> int:
        """Make a forum post named ``name`` whose starter message is ``payload``; return its
        id (the post's thread and its starter message share it). Discord takes no nonce
        here: the same call twice makes two posts."""
        ...

    async def find_post(
        self, forum_id: int, name: str, payload: Mapping[str, Any], after: datetime
    ) -> int | None:
        """A post of this bot named ``name`` in the forum, made after ``after``, whose starter
        message is ``payload`` (open or archived): how a post made just before a crash is
        found instead of made twice."""
        ...

    async def crosspost(self, channel_id: int, message_id: int) -> None:
        """Publish an announcement channel's message to the servers following it. Raise
        ``DeliveryError``: with ``retry_after`` for a 429 (never waiting long for it), with
        ``code`` 40033 when it was published already."""
        ...

    async def with_identity(self, channel_id: int, identity: Identity) -> Poster:
        """A Poster that posts in the channel (and its threads) under ``identity``, through
        the channel's webhook that this bot owns (made on first use). Its ``send``,
        ``find_recent``, ``create_post`` and ``find_post`` act as the webhook, and
        ``find_recent`` recognises that webhook's messages; the rest is this Poster's.
        Raise ``DeliveryError`` when the webhook cannot be had (Manage Webhooks)."""
        ...

    async def start_thread(self, channel_id: int, message_id: int, name: str) -> int:
        """Start a public thread named ``name`` on the message; return the thread's id. A
        message has at most one thread: if it has one already (a start made before a crash),
        that thread's id is returned, so starting again is safe."""
        ...


def _text(holder: object, key: str) -> str:
    value = holder.get(key) if isinstance(holder, Mapping) else None
    return value.strip() if isinstance(value, str) else ""


def _embed_shape(embed: Mapping[str, Any]) -> tuple[Any, ...]:
    """What of an embed Discord shows back as it was sent. Discord adds keys of its own
    (``type``, image sizes, proxy URLs) and trims text, so only the texts and the link count."""
    fields = embed.get("fields")
    return (
        _text(embed, "title"),
        _text(embed, "description"),
        _text(embed, "url"),
        _text(embed.get("author"), "name"),
        _text(embed.get("footer"), "text"),
        tuple(
            (_text(f, "name"), _text(f, "value"))
            for f in (fields if isinstance(fields, Sequence) else ())
        ),
    )


def message_shape(message: Mapping[str, Any]) -> tuple[Any, ...]:
    """A message (as sent, or as Discord returns it) reduced to what identifies it: its
    content and embeds' texts, trimmed the way Discord trims them."""
    embeds = message.get("embeds")
    return (
        _text(message, "content"),
        tuple(
            _embed_shape(e)
            for e in (embeds if isinstance(embeds, Sequence) else ())
            if isinstance(e, Mapping)
        ),
    )


def same_message(found: Mapping[str, Any], payload: Mapping[str, Any]) -> bool:
    """Whether ``found`` (a message in the channel) is ``payload`` as it was sent: the exact
    content and the same embeds. Two parts of newsbot's digests never match one another, since
    each carries different items (and an item goes to a channel once)."""
    return message_shape(found) == message_shape(payload)
