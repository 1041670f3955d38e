"""The clocks: ManualClock drives time for tests; SystemClock naps in slices of the wall clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.clock import Clock, ManualClock, SystemClock

T0 = datetime(2026, 5, 1, 9, tzinfo=UTC)
US = timedelta(microseconds=1)
# A safety net so a broken clock fails the test instead of hanging it; never reached when green.
HANG = 5


async def settle() -> None:
    """Let every ready task run (loop turns only, no wall-clock time)."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_both_clocks_satisfy_the_protocol() -> None:
    clocks: list[Clock] = [SystemClock(), ManualClock(T0)]
    for clock in clocks:
        now = clock.now()
        assert now.tzinfo is not None
        assert now.utcoffset() == timedelta(0)


def test_manual_clock_start_and_moves() -> None:
    clock = ManualClock(datetime(2026, 5, 1, 11, tzinfo=ZoneInfo("Europe/Berlin")))
    assert clock.now() == T0
    assert clock.now().tzinfo is UTC
    clock.advance(timedelta(minutes=5))
    assert clock.now() == T0 + timedelta(minutes=5)
    clock.set(T0 - timedelta(hours=1))
    assert clock.now() == T0 - timedelta(hours=1)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-US)


def test_naive_times_are_refused() -> None:
    naive = datetime(2026, 5, 1, 9)
    with pytest.raises(ValueError, match="aware"):
        ManualClock(naive)
    with pytest.raises(ValueError, match="aware"):
        ManualClock(T0).set(naive)


async def test_naive_deadline_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        await ManualClock(T0).sleep_until(datetime(2026, 5, 1, 10))
    with pytest.raises(ValueError, match="aware"):
        await SystemClock().sleep_until(datetime(2026, 5, 1, 10))


async def test_sleeper_wakes_exactly_at_its_deadline() -> None:
    clock = ManualClock(T0)
    deadline = T0 + timedelta(hours=1)
    task = asyncio.create_task(clock.sleep_until(deadline))
    async with asyncio.timeout(HANG):
        await clock.wait_for_sleepers(1)
    assert clock.deadlines == [deadline]

    clock.advance(timedelta(hours=1) - US)
    await settle()
    assert not task.done()
    assert clock.sleepers == 1

    clock.advance(US)
    assert clock.sleepers == 0  # counted out at once, before the task even runs
    async with asyncio.timeout(HANG):
        await task
    assert clock.now() == deadline


async def test_only_due_sleepers_wake() -> None:
    clock = ManualClock(T0)
    tasks = [asyncio.create_task(clock.sleep_until(T0 + timedelta(minutes=m))) for m in (3, 1, 2)]
    async with asyncio.timeout(HANG):
        await clock.wait_for_sleepers(3)
    assert clock.next_deadline == T0 + timedelta(minutes=1)
    assert clock.deadlines == [T0 + timedelta(minutes=m) for m in (1, 2, 3)]

    clock.advance(timedelta(minutes=2))
    await settle()
    assert [t.done() for t in tasks] == [False, True, True]
    assert clock.deadlines == [T0 + timedelta(minutes=3)]

    clock.advance(timedelta(hours=5))  # a big jump wakes everything that is overdue
    async with asyncio.timeout(HANG):
        await asyncio.gather(*tasks)
    assert clock.sleepers == 0
    assert clock.next_deadline is None


async def test_setting_time_backwards_wakes_nobody() -> None:
    clock = ManualClock(T0)
    task = asyncio.create_task(clock.sleep_until(T0 + timedelta(minutes=10)))
    async with asyncio.timeout(HANG):
        await clock.wait_for_sleepers(1)
    clock.set(T0 - timedelta(hours=1))
    await settle()
    assert not task.done()
    clock.set(T0 + timedelta(minutes=10))
    async with asyncio.timeout(HANG):
        await task


async def test_past_deadline_returns_without_registering() -> None:
    clock = ManualClock(T0)
    async with asyncio.timeout(HANG):
        await clock.sleep_until(T0)
        await clock.sleep_until(T0 - timedelta(days=1))
    assert clock.sleepers == 0


async def test_cancelling_a_sleeper() -> None:
    clock = ManualClock(T0)
    task = asyncio.create_task(clock.sleep_until(T0 + timedelta(hours=1)))
    async with asyncio.timeout(HANG):
        await clock.wait_for_sleepers(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.sleepers == 0
    clock.advance(timedelta(hours=2))  # waking nobody must not trip over the cancelled one
    assert clock.sleepers == 0


async def test_schedule_changed_event_wins_the_race_and_sleep_is_cancelled() -> None:
    """The scheduler's pattern: sleep until the next run, or until the schedule changes."""
    clock = ManualClock(T0)
    changed = asyncio.Event()
    sleep = asyncio.create_task(clock.sleep_until(T0 + timedelta(hours=1)))
    event = asyncio.create_task(changed.wait())
    async with asyncio.timeout(HANG):
        await clock.wait_for_sleepers(1)
        changed.set()
        done, pending = await asyncio.wait({sleep, event}, return_when=asyncio.FIRST_COMPLETED)
    assert done == {event}
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    assert sleep.cancelled()
    assert clock.sleepers == 0


async def test_sleep_wins_the_race_when_time_comes() -> None:
    clock = ManualClock(T0)
    changed = asyncio.Event()
    sleep = asyncio.create_task(clock.sleep_until(T0 + timedelta(hours=1)))
    event = asyncio.create_task(changed.wait())
    async with asyncio.timeout(HANG):
        await clock.wait_for_sleepers(1)
        clock.advance(timedelta(hours=1))
        done, pending = await asyncio.wait({sleep, event}, return_when=asyncio.FIRST_COMPLETED)
    assert done == {sleep}
    assert pending == {event}
    event.cancel()
    await asyncio.gather(event, return_exceptions=True)


async def test_wait_for_sleepers_counts_and_can_be_cancelled() -> None:
    clock = ManualClock(T0)
    waiter = asyncio.create_task(clock.wait_for_sleepers(2))
    first = asyncio.create_task(clock.sleep_until(T0 + timedelta(minutes=1)))
    await settle()
    assert not waiter.done()
    second = asyncio.create_task(clock.sleep_until(T0 + timedelta(minutes=2)))
    async with asyncio.timeout(HANG):
        await waiter

    lonely = asyncio.create_task(clock.wait_for_sleepers(3))
    await settle()
    lonely.cancel()
    with pytest.raises(asyncio.CancelledError):
        await lonely
    clock.advance(timedelta(minutes=2))
    async with asyncio.timeout(HANG):
        await asyncio.gather(first, second)
    with pytest.raises(ValueError, match="at least 1"):
        await clock.wait_for_sleepers(0)


async def test_driving_a_loop_step_by_step() -> None:
    """advance() then wait_for_sleepers() waits for the loop's next sleep, not the old one."""
    clock = ManualClock(T0)
    woke: list[datetime] = []

    async def every_ten_minutes() -> None:
        deadline = T0
        while True:
            deadline += timedelta(minutes=10)
            await clock.sleep_until(deadline)
            woke.append(clock.now())

    loop_task = asyncio.create_task(every_ten_minutes())
    try:
        async with asyncio.timeout(HANG):
            for step in range(1, 4):
                await clock.wait_for_sleepers(1)
                assert clock.next_deadline == T0 + timedelta(minutes=10 * step)
                clock.advance(timedelta(minutes=10))
            await clock.wait_for_sleepers(1)
        assert woke == [T0 + timedelta(minutes=10 * step) for step in range(1, 4)]
    finally:
        loop_task.cancel()
        await asyncio.gather(loop_task, return_exceptions=True)
    assert clock.sleepers == 0


# --- SystemClock ---------------------------------------------------------------------------


class _FakeWall:
    """Stands in for the wall clock and for asyncio.sleep, so no real time passes."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.naps: list[float] = []
        self.real_sleep = asyncio.sleep

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.naps.append(seconds)
            self.now += timedelta(seconds=seconds)
        await self.real_sleep(0)


@pytest.fixture
def fake_wall(monkeypatch: pytest.MonkeyPatch) -> Iterator[_FakeWall]:
    wall = _FakeWall(T0)
    monkeypatch.setattr(asyncio, "sleep", wall.sleep)
    monkeypatch.setattr(SystemClock, "now", lambda self: wall.now)
    yield wall


async def test_system_clock_naps_in_slices_and_wakes_at_the_deadline(fake_wall: _FakeWall) -> None:
    clock = SystemClock(max_nap=timedelta(minutes=1))
    await clock.sleep_until(T0 + timedelta(minutes=3, seconds=30))
    assert fake_wall.naps == [60, 60, 60, 30]
    assert fake_wall.now == T0 + timedelta(minutes=3, seconds=30)


async def test_system_clock_follows_a_wall_clock_jump(
    fake_wall: _FakeWall, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SystemClock(max_nap=timedelta(minutes=1))
    original_sleep = fake_wall.sleep

    async def sleep_then_jump(seconds: float) -> None:
        await original_sleep(seconds)
        if len(fake_wall.naps) == 1:
            fake_wall.now += timedelta(hours=2)  # NTP step or resume from suspend

    monkeypatch.setattr(asyncio, "sleep", sleep_then_jump)
    await clock.sleep_until(T0 + timedelta(hours=1))
    assert fake_wall.naps == [60]  # noticed after one slice, not an hour later


async def test_system_clock_past_deadline_returns_after_one_loop_turn(
    fake_wall: _FakeWall,
) -> None:
    await SystemClock().sleep_until(T0 - timedelta(seconds=1))
    assert fake_wall.naps == []


def test_system_clock_rejects_a_non_positive_nap() -> None:
    with pytest.raises(ValueError, match="positive"):
        SystemClock(max_nap=timedelta(0))
