"""Time sources for the double.

Rate-limit windows, the interaction deadline, the interaction token lifetime and the nonce
dedupe window all read one injectable monotonic clock, so a test can move time forward
instead of waiting for it. Wall-clock time is only used for snowflakes and timestamps that
the client displays.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

Clock = Callable[[], float]
"""A monotonic clock in seconds, like :func:`time.monotonic`."""

DISCORD_EPOCH_MS = 1_420_070_400_000


class ManualClock:
    """A clock that only moves when the test says so (deterministic deadlines and windows)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward; negative steps are refused because the clock is monotonic."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go back")
        self._now += seconds


class SnowflakeGenerator:
    """Strictly increasing snowflakes whose timestamp part is the wall clock.

    discord.py derives ``created_at`` and history ordering from the id, so ids must be real
    snowflakes and must never repeat or go backwards, even within one millisecond.
    """

    def __init__(self, wall_ms: Callable[[], int] | None = None) -> None:
        self._wall_ms = wall_ms or (lambda: int(time.time() * 1000))
        self._last = 0

    def __call__(self) -> int:
        candidate = (self._wall_ms() - DISCORD_EPOCH_MS) << 22
        self._last = max(candidate, self._last + 1)
        return self._last


def snowflake_time(snowflake: int) -> dt.datetime:
    """The creation time Discord encodes in a snowflake."""
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def iso_timestamp(when: dt.datetime | None = None) -> str:
    """An ISO 8601 timestamp in the form Discord sends (``+00:00`` offset)."""
    return (when or dt.datetime.now(tz=dt.UTC)).isoformat()
