"""The Poster protocol: how the core hands a message to Discord without knowing discord.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol


class Poster(Protocol):
    async def send(self, channel_id: int, payload: dict[str, Any], nonce: str) -> int:
        """Post one message-create payload; return the new message's id. Raise
        ``DeliveryError`` (permanent for 4xx) when Discord does not accept it."""
        ...

    async def find_recent(self, channel_id: int, content: str, after: datetime) -> int | None:
        """The id of a message this bot posted in the channel after ``after`` whose content is
        ``content``, if any: how a part sent just before a crash is recognised."""
        ...
