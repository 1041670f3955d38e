"""The discord.py Poster: sends digest messages over REST and maps failures to the core's
``DeliveryError`` (permanent for 4xx, transient for 5xx, timeouts and disconnects)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import aiohttp
import discord

from bot.discord_adapter.payloads import message_kwargs
from bot.errors import DeliveryError

log = logging.getLogger(__name__)

# How far back a resumed digest looks for a part that was sent but not recorded.
HISTORY_LIMIT = 50


class DiscordPoster:
    """Posts through a logged-in client; needs only REST, so ``newsbot publish`` works
    without the gateway."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def send(self, channel_id: int, payload: dict[str, Any], nonce: str) -> int:
        channel = self.client.get_partial_messageable(channel_id)
        try:
            # discord.py sends ``enforce_nonce`` with a nonce, so Discord returns the earlier
            # message instead of posting a second one if this is a retry.
            message = await channel.send(nonce=nonce, **message_kwargs(payload))
        except discord.DiscordServerError as exc:
            raise DeliveryError(
                _describe(exc), permanent=False, status=exc.status, code=exc.code
            ) from exc
        except discord.RateLimited as exc:
            raise DeliveryError(
                f"rate limited for {exc.retry_after:.0f}s", permanent=False, status=429
            ) from exc
        except discord.HTTPException as exc:
            raise DeliveryError(
                _describe(exc), permanent=True, status=exc.status, code=exc.code
            ) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(
                f"connection failed ({type(exc).__name__})", permanent=False
            ) from exc
        return message.id

    async def find_recent(self, channel_id: int, content: str, after: datetime) -> int | None:
        channel = self.client.get_partial_messageable(channel_id)
        me = self.client.user
        wanted = content.strip()
        try:
            async for message in channel.history(limit=HISTORY_LIMIT, after=after):
                if (me is None or message.author.id == me.id) and message.content.strip() == wanted:
                    return message.id
        except discord.HTTPException as exc:
            # Without history access we cannot check; sending with the nonce is the best left.
            log.warning("cannot read history of channel %d: %s", channel_id, _describe(exc))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(
                f"connection failed ({type(exc).__name__})", permanent=False
            ) from exc
        return None


def _describe(exc: discord.HTTPException) -> str:
    text = exc.text or exc.response.reason or "error"
    return f"{exc.status} {text} (code {exc.code})" if exc.code else f"{exc.status} {text}"
