"""Per-route buckets and the global limit, with the headers discord.py paces itself by.

Windows are fixed: a bucket's window opens with its first request and lasts ``window``
seconds on the double's clock. Reset-After is rounded *up* to the millisecond so a client
that sleeps exactly that long never arrives early (a client that obeys the headers must see
zero 429s).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field

from .clock import Clock
from .errors import ApiError

RATE_LIMITED_MESSAGE = "You are being rate limited."


@dataclass(frozen=True)
class BucketSpec:
    limit: int
    window: float


@dataclass
class RateLimitConfig:
    """Limits per route family; ``message_create`` is per channel like Discord's."""

    message_create: BucketSpec = field(default_factory=lambda: BucketSpec(5, 5.0))
    message_edit: BucketSpec = field(default_factory=lambda: BucketSpec(5, 5.0))
    crosspost: BucketSpec = field(default_factory=lambda: BucketSpec(10, 3600.0))
    """Announcement crossposts: about 10 an hour per channel."""
    default: BucketSpec = field(default_factory=lambda: BucketSpec(50, 1.0))
    global_limit: int = 50
    global_window: float = 1.0
    enabled: bool = True


def _ceil_ms(seconds: float) -> float:
    return math.ceil(max(seconds, 0.0) * 1000 - 1e-6) / 1000


@dataclass
class _Window:
    start: float
    count: int = 0


@dataclass
class Decision:
    """Headers to attach, and the 429 to answer instead of handling, if limited."""

    headers: dict[str, str]
    error: ApiError | None = None


class RateLimiter:
    def __init__(self, config: RateLimitConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Window] = {}
        self._global: _Window | None = None

    def _spec(self, family: str) -> BucketSpec:
        spec = getattr(self.config, family, None)
        return spec if isinstance(spec, BucketSpec) else self.config.default

    @staticmethod
    def bucket_hash(family: str) -> str:
        """An opaque, stable id per route family (Discord's X-RateLimit-Bucket)."""
        return hashlib.sha256(family.encode()).hexdigest()[:32]

    def check_global(self) -> ApiError | None:
        """Count one request against the global limit; a 429 error if it is exhausted."""
        if not self.config.enabled:
            return None
        now = self._clock()
        window = self._global
        if window is None or now >= window.start + self.config.global_window:
            window = self._global = _Window(start=now)
        if window.count >= self.config.global_limit:
            retry = _ceil_ms(window.start + self.config.global_window - now)
            return ApiError(
                429,
                0,
                RATE_LIMITED_MESSAGE,
                headers={
                    "Retry-After": str(max(1, math.ceil(retry))),
                    "X-RateLimit-Global": "true",
                    "X-RateLimit-Scope": "global",
                    "Via": "1.1 google",
                },
            ).with_body({"retry_after": retry, "global": True})
        window.count += 1
        return None

    def take(self, family: str, major: str) -> Decision:
        """Consume one token of ``family``'s bucket for the major parameter ``major``."""
        if not self.config.enabled:
            return Decision(headers={})
        spec = self._spec(family)
        now = self._clock()
        key = (family, major)
        window = self._buckets.get(key)
        if window is None or now >= window.start + spec.window:
            window = self._buckets[key] = _Window(start=now)
        reset_after = _ceil_ms(window.start + spec.window - now)
        headers = {
            "X-RateLimit-Limit": str(spec.limit),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.bucket_hash(family),
        }
        if window.count >= spec.limit:
            headers.update(
                {
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Scope": "user",
                    "Retry-After": str(max(1, math.ceil(reset_after))),
                    "Via": "1.1 google",
                }
            )
            error = ApiError(429, 0, RATE_LIMITED_MESSAGE, headers=headers).with_body(
                {"retry_after": reset_after, "global": False}
            )
            return Decision(headers=headers, error=error)
        window.count += 1
        headers["X-RateLimit-Remaining"] = str(spec.limit - window.count)
        return Decision(headers=headers)
