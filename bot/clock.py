"""The clock: what time it is (aware UTC) and how to wait for a moment.

Everything that asks "what time is it" or "wake me at ..." goes through a ``Clock`` passed in by
the composition root, never through ``datetime.now()`` or ``asyncio.sleep()`` directly. That
keeps the schedule logic pure and lets tests drive time with ``ManualClock`` instead of waiting
on the wall clock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock", "require_aware"]


def require_aware(when: datetime, name: str) -> None:
    """Refuse naive datetimes: they mean "local time of whatever machine", which is a bug."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {when.isoformat()}")


class Clock(Protocol):
    """The source of time for the core and the scheduler loop."""

    def now(self) -> datetime:
        """The current instant as an aware UTC datetime."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Return once ``now() >= when`` (at once, after one loop turn, if already past).

        A plain coroutine: cancelling the task that awaits it cancels the sleep cleanly, so a
        scheduler can race it against an ``asyncio.Event`` ("schedule changed") with
        ``asyncio.wait`` and cancel the loser.
        """
        ...


class SystemClock:
    """The real clock: wall-clock UTC time and event-loop sleeps.

    ``asyncio.sleep`` measures a monotonic clock, which does not follow wall-clock corrections
    (NTP steps, manual changes) and on Linux stops while the machine is suspended. A single long
    sleep could therefore wake hours late or early in wall-clock terms. ``sleep_until`` instead
    naps in slices of at most ``max_nap`` and re-reads the wall clock after each, so it wakes
    within one slice of a wall-clock jump and never returns before ``when``.
    """

    def __init__(self, max_nap: timedelta = timedelta(seconds=60)) -> None:
        if max_nap <= timedelta(0):
            raise ValueError("max_nap must be positive")
        self._max_nap = max_nap.total_seconds()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        require_aware(when, "when")
        # Always give the loop one turn, so a caller that loops on a deadline already in the
        # past cannot starve other tasks.
        await asyncio.sleep(0)
        # Re-reading the wall clock between naps is the point here (see the class docstring); no
        # other task sets a condition we could wait on instead, hence the noqa.
        while (remaining := (when - self.now()).total_seconds()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(remaining, self._max_nap))


@dataclass(eq=False)
class _Sleeper:
    deadline: datetime
    future: asyncio.Future[None]


@dataclass(eq=False)
class _SleeperWaiter:
    count: int
    future: asyncio.Future[None]


class ManualClock:
    """A clock for tests: time stands still until the test moves it.

    ``advance``/``set`` move time and wake, through their futures, every sleeper whose deadline
    has been reached (``deadline <= now``). ``wait_for_sleepers(n)`` lets a test wait until the
    code under test has reached its sleep, so tests synchronise on events, never on wall-clock
    sleeps. A sleeper counts as sleeping from the moment it blocks until it is woken or
    cancelled; a woken sleeper stops counting at once (in ``advance``/``set``), so
    ``advance(...)`` followed by ``await wait_for_sleepers(1)`` waits for the *next* sleep.
    """

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        require_aware(start, "start")
        self._now = start.astimezone(UTC)
        self._sleepers: list[_Sleeper] = []
        self._waiters: list[_SleeperWaiter] = []

    def now(self) -> datetime:
        return self._now

    @property
    def sleepers(self) -> int:
        """How many tasks are blocked in ``sleep_until`` right now."""
        return len(self._sleepers)

    @property
    def deadlines(self) -> list[datetime]:
        """The pending sleepers' deadlines, earliest first (what the code intends to wait for)."""
        return sorted(s.deadline for s in self._sleepers)

    @property
    def next_deadline(self) -> datetime | None:
        """The earliest pending deadline, or None if nobody sleeps."""
        return min((s.deadline for s in self._sleepers), default=None)

    def advance(self, delta: timedelta) -> None:
        """Move time forward by ``delta`` and wake every sleeper that is now due."""
        if delta < timedelta(0):
            raise ValueError("advance() cannot go backwards; use set() to simulate a clock step")
        self.set(self._now + delta)

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (forwards or backwards) and wake every sleeper that is now due.

        Going backwards simulates a wall-clock correction: sleepers whose deadline is still in
        the future keep sleeping.
        """
        require_aware(when, "when")
        self._now = when.astimezone(UTC)
        due = [s for s in self._sleepers if s.deadline <= self._now]
        if not due:
            return
        self._sleepers = [s for s in self._sleepers if s.deadline > self._now]
        for sleeper in due:
            if not sleeper.future.done():
                sleeper.future.set_result(None)
        self._notify_waiters()

    async def sleep_until(self, when: datetime) -> None:
        require_aware(when, "when")
        if when <= self._now:
            await asyncio.sleep(0)  # one loop turn, like SystemClock
            return
        sleeper = _Sleeper(when.astimezone(UTC), asyncio.get_running_loop().create_future())
        self._sleepers.append(sleeper)
        self._notify_waiters()
        try:
            await sleeper.future
        finally:
            # Cancelled (or woken): make sure a cancelled sleeper no longer counts.
            if sleeper in self._sleepers:
                self._sleepers.remove(sleeper)
                self._notify_waiters()

    async def wait_for_sleepers(self, count: int = 1) -> None:
        """Return once at least ``count`` tasks are blocked in ``sleep_until``.

        Event-driven: it resolves when a sleeper registers, not by polling. Wrap it in
        ``asyncio.timeout`` in a test if the code under test might never sleep.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        if len(self._sleepers) >= count:
            return
        waiter = _SleeperWaiter(count, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            await waiter.future
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _notify_waiters(self) -> None:
        ready = [w for w in self._waiters if len(self._sleepers) >= w.count]
        for waiter in ready:
            self._waiters.remove(waiter)
            if not waiter.future.done():
                waiter.future.set_result(None)
