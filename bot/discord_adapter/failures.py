"""What a failed request to Discord comes to for the core: a ``DeliveryError``, permanent for
a 4xx (Discord refused; sending again changes nothing), transient for 5xx, timeouts and lost
connections."""

from __future__ import annotations

import aiohttp
import discord

from bot.errors import DeliveryError

FAILURES = (discord.HTTPException, discord.RateLimited, TimeoutError, aiohttp.ClientError, OSError)
"""What a request to Discord can fail with (RateLimited: a wait over max_ratelimit_timeout)."""


def delivery_error(exc: BaseException) -> DeliveryError:
    """What a failed request comes to for the core: permanent for a 4xx, else transient."""
    if isinstance(exc, discord.DiscordServerError):
        return DeliveryError(describe(exc), permanent=False, status=exc.status, code=exc.code)
    if isinstance(exc, discord.RateLimited):
        # discord.py would have waited longer than the client's max_ratelimit_timeout.
        return DeliveryError(
            f"rate limited for {exc.retry_after:.0f}s",
            permanent=False,
            status=429,
            retry_after=exc.retry_after,
        )
    if isinstance(exc, discord.HTTPException):
        return DeliveryError(describe(exc), permanent=True, status=exc.status, code=exc.code)
    return DeliveryError(f"connection failed ({type(exc).__name__})", permanent=False)


def describe(exc: discord.HTTPException) -> str:
    text = exc.text or exc.response.reason or "error"
    return f"{exc.status} {text} (code {exc.code})" if exc.code else f"{exc.status} {text}"
