"""The scheduler loop over a real SQLite store, driven by the ManualClock.

The publisher is a recording double (the real Publisher and Discord are tested end to end
elsewhere). Synchronisation is only through ``clock.wait_for_sleepers`` (after moving the
clock) and ``Scheduler.wait_idle`` (after ``wake()``); no wall-clock waits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, open_app
from bot.clock import ManualClock
from bot.config import DigestChannel, Settings
from bot.errors import ConfigError
from bot.publish import PublishResult, PublishStatus
from bot.schedule import MissedRunPolicy
from bot.schedule.effective import (
    ScheduleSource,
    clear_channel_schedule,
    describe_schedules,
    effective_schedules,
    reset_channel_schedule,
    set_channel_schedule,
)
from bot.schedule.loop import DigestPublisher, Scheduler
from bot.store import StoredSchedule, Trigger

HANG = 5  # seconds; a safety net so a broken loop fails the test instead of hanging it
A, B = 456, 457
H = timedelta(hours=1)
M = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
LOGGER = "bot.schedule.loop"


def utc(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


class RecordingPublisher:
    """Records each publish; can raise or return a chosen status."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.calls: list[tuple[int, Trigger, datetime]] = []
        self.runs: list[datetime | None] = []
        self.raise_for: dict[int, list[BaseException]] = {}
        self.status = PublishStatus.POSTED

    async def publish(
        self,
        channel: int,
        *,
        trigger: Trigger,
        scheduled_for: datetime | None = None,
        only: tuple[int, ...] | None = None,
    ) -> PublishResult:
        self.calls.append((channel, trigger, self.clock.now()))
        self.runs.append(scheduled_for)
        errors = self.raise_for.get(channel)
        if errors:
            raise errors.pop(0)
        return PublishResult(channel=channel, status=self.status)

    def times(self, channel: int = A) -> list[datetime]:
        return [at for c, _, at in self.calls if c == channel]


def digest(channel: int = A, schedule: str | None = "0 9 * * *", **kw: Any) -> DigestChannel:
    return DigestChannel(channel=channel, schedule=schedule, **kw)


@asynccontextmanager
async def make_app(
    tmp_path: Path, clock: ManualClock, *digests: DigestChannel, grace: timedelta = 6 * H
) -> AsyncIterator[App]:
    settings = Settings(
        database=tmp_path / "q.db", digests=digests, catch_up_grace=grace, source="q.yaml"
    )
    async with open_app(settings, clock=clock) as app:
        yield app


def scheduler_for(
    app: App, publisher: DigestPublisher, policy: MissedRunPolicy | None = None
) -> Scheduler:
    return Scheduler(app.settings, app.store, app.clock, publisher, policy)


@asynccontextmanager
async def running(scheduler: Scheduler, clock: ManualClock) -> AsyncIterator[Scheduler]:
    """Run the loop as a task until the block ends; wait for its first sleep."""
    task = asyncio.create_task(scheduler.run())
    try:
        async with asyncio.timeout(HANG):
            await scheduler.wait_idle()
        yield scheduler
    finally:
        scheduler.stop()
        async with asyncio.timeout(HANG):
            await task


async def move(clock: ManualClock, to: datetime) -> None:
    """Set the clock and wait until the loop (if it was woken) is asleep again."""
    clock.set(to)
    async with asyncio.timeout(HANG):
        await clock.wait_for_sleepers(1)


async def rewake(scheduler: Scheduler, clock: ManualClock | None = None) -> None:
    """wake() and wait until the loop has re-read the schedules (and, with a clock, is
    sleeping on it again)."""
    scheduler.wake()
    async with asyncio.timeout(HANG):
        await scheduler.wait_idle()
        if clock is not None:
            await clock.wait_for_sleepers(1)


def run_rows(app: App) -> list[tuple[int, str, str]]:
    """The recorded schedule runs (read-only look at the test's own database file)."""
    with sqlite3.connect(app.settings.database) as db:
        rows = db.execute(
            "SELECT channel_id, scheduled_for, outcome FROM schedule_runs ORDER BY scheduled_for"
        ).fetchall()
    return [(int(c), str(s), str(o)) for c, s, o in rows]


# --- which schedule applies ---------------------------------------------------------------


def test_effective_schedules_database_wins_and_none_means_off() -> None:
    settings = Settings(
        digests=(
            digest(A, "0 9 * * *", timezone="Europe/Berlin"),
            digest(B, "0 9 * * *"),
            digest(458, "0 9 * * *"),
            digest(459, None),
            digest(460, None),
        )
    )
    at = utc(1, 1)
    stored = [
        StoredSchedule(B, "30  7 * * 1-5", "America/New_York", "alice", at),
        StoredSchedule(458, None, "UTC", "bob", at),
        StoredSchedule(460, "0 9 * * *", "Mars/Olympus", "carol", at),
        StoredSchedule(999, "0 9 * * *", "UTC", "dave", at),  # no longer configured: ignored
    ]
    got = {s.channel: s for s in effective_schedules(settings, stored)}
    assert list(got) == [A, B, 458, 459, 460]
    assert got[A].source is ScheduleSource.CONFIG
    assert got[A].spec is not None and got[A].spec.timezone == "Europe/Berlin"
    assert got[B].source is ScheduleSource.DATABASE
    assert got[B].spec is not None and got[B].spec.cron == "30 7 * * 1-5"
    assert got[B].updated_by == "alice"
    assert got[458].source is ScheduleSource.OFF and got[458].spec is None
    assert got[459].source is ScheduleSource.NONE and got[459].spec is None
    assert got[460].source is ScheduleSource.DATABASE and got[460].spec is None
    assert got[460].problem == "Mars/Olympus: unknown time zone"


async def test_describe_schedules(tmp_path: Path) -> None:
    clock = ManualClock(utc(1, 15, 7))
    async with make_app(
        tmp_path,
        clock,
        digest(A, "0 9 * * *", timezone="Europe/Berlin"),
        digest(B, None),
        digest(4580, "30 0 * * *", timezone="Europe/Berlin"),
        digest(459, "0 9 * * *"),
        digest(4600, "0 12 * * 1"),
        digest(461, "0 6 * * *"),
        digest(462, "0 6 * * *"),
    ) as app:
        await clear_channel_schedule(app.settings, app.store, 459, actor="alice")
        await set_channel_schedule(
            app.settings, app.store, 4600, "15  18 * * *", "America/New_York", actor="bob"
        )
        await app.store.set_schedule(461, "0 9 * * *", "Mars/Olympus", actor="carol")
        assert await describe_schedules(app.settings, app.store, app.clock.now()) == [
            "456   0 9 * * *    Europe/Berlin     next: 2026-01-15 09:00 CET (08:00 UTC)  [config]",
            "457   no schedule (only on command)",
            "4580  30 0 * * *   Europe/Berlin     next: 2026-01-16 00:30 CET"
            " (2026-01-15 23:30 UTC)  [config]",
            "459   no schedule (only on command)  [off]",
            "4600  15 18 * * *  America/New_York  next: 2026-01-15 18:15 EST (23:15 UTC)"
            "  [database]",
            "461   0 9 * * *    Mars/Olympus      invalid: Mars/Olympus: unknown time zone;"
            " only on command until set again  [database]",
            "462   0 6 * * *    UTC               next: 2026-01-16 06:00 UTC  [config]",
        ]
        # Back to the config file's schedule once the stored one is forgotten.
        await reset_channel_schedule(app.settings, app.store, 4600)
        lines = await describe_schedules(app.settings, app.store, app.clock.now())
        assert lines[4] == "4600  0 12 * * 1  UTC            next: 2026-01-19 12:00 UTC  [config]"


async def test_setting_a_bad_schedule_writes_nothing(tmp_path: Path) -> None:
    clock = ManualClock(utc(1, 15, 7))
    async with make_app(tmp_path, clock, digest(A)) as app:
        with pytest.raises(
            ConfigError, match=r'^"0 9 \* \* 8": day-of-week must be 0-7 or sun-sat$'
        ):
            await set_channel_schedule(app.settings, app.store, A, "0 9 * * 8", actor="alice")
        with pytest.raises(ConfigError, match="channel 999 is not configured"):
            await set_channel_schedule(app.settings, app.store, 999, "0 9 * * *", actor="alice")
        assert await app.store.schedules() == []


# --- the loop -------------------------------------------------------------------------------


async def test_a_schedule_fires_at_its_time_exactly_once(tmp_path: Path) -> None:
    clock = ManualClock(utc(3, 2, 7))
    publisher = RecordingPublisher(clock)
    async with (
        make_app(tmp_path, clock, digest(A, "0 9 * * *", timezone="Europe/Berlin")) as app,
        running(scheduler_for(app, publisher), clock),
    ):
        await clock.wait_for_sleepers(1)
        assert clock.deadlines == [utc(3, 2, 8)]  # 09:00 CET
        await move(clock, utc(3, 2, 7, 59, 59))
        assert publisher.calls == []
        await move(clock, utc(3, 2, 8))
        assert publisher.calls == [(A, Trigger.SCHEDULE, utc(3, 2, 8))]
        for minutes in (1, 30, 60, 23 * 60):
            await move(clock, utc(3, 2, 8) + minutes * M)
        assert publisher.times() == [utc(3, 2, 8)]
        assert clock.deadlines == [utc(3, 3, 8)]
        assert await app.store.last_scheduled_run(A) == utc(3, 2, 8)
        assert run_rows(app) == [(A, "2026-03-02T08:00:00.000000+00:00", "posted")]


async def test_missed_runs_within_grace_give_one_catch_up(tmp_path: Path) -> None:
    clock = ManualClock(utc(3, 2, 8, 30))
    publisher = RecordingPublisher(clock)
    async with (
        make_app(tmp_path, clock, digest(A, "0 * * * *"), grace=6 * H) as app,
        running(scheduler_for(app, publisher), clock),
    ):
        await move(clock, utc(3, 2, 9))
        assert publisher.times() == [utc(3, 2, 9)]
        # The machine was suspended: 10:00, 11:00, 12:00 and 13:00 pass unseen.
        await move(clock, utc(3, 2, 13, 30))
        assert publisher.times() == [utc(3, 2, 9), utc(3, 2, 13, 30)]
        assert await app.store.last_scheduled_run(A) == utc(3, 2, 13)
        assert clock.deadlines == [utc(3, 2, 14)]
        await move(clock, utc(3, 2, 14))
        assert publisher.times() == [utc(3, 2, 9), utc(3, 2, 13, 30), utc(3, 2, 14)]


async def test_missed_run_beyond_grace_waits_for_the_next_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = ManualClock(utc(3, 2, 8))
    publisher = RecordingPublisher(clock)
    async with (
        make_app(tmp_path, clock, digest(A, "0 9 * * *"), grace=2 * H) as app,
        running(scheduler_for(app, publisher), clock),
    ):
        await move(clock, utc(3, 2, 9))
        await move(clock, utc(3, 3, 11, 1))  # 2 h 1 min after the 3 March run
        assert publisher.times() == [utc(3, 2, 9)]
        assert clock.deadlines == [utc(3, 4, 9)]
        assert "runs from 2026-03-03T09:00:00+00:00 on were missed" in caplog.text
        await move(clock, utc(3, 4, 9))
        assert publisher.times() == [utc(3, 2, 9), utc(3, 4, 9)]


async def test_restart_catches_up_a_run_missed_while_down(tmp_path: Path) -> None:
    clock = ManualClock(utc(3, 2, 8))
    publisher = RecordingPublisher(clock)
    async with make_app(tmp_path, clock, digest(A, "0 9 * * *")) as app:
        async with running(scheduler_for(app, publisher), clock):
            await move(clock, utc(3, 2, 9))
        clock.set(utc(3, 3, 10))  # down from 3 March 08:00 to 10:00
        async with running(scheduler_for(app, publisher), clock):
            await clock.wait_for_sleepers(1)
        assert publisher.times() == [utc(3, 2, 9), utc(3, 3, 10)]
        assert await app.store.last_scheduled_run(A) == utc(3, 3, 9)


async def test_restart_just_after_a_run_does_not_run_it_again(tmp_path: Path) -> None:
    clock = ManualClock(utc(3, 2, 8))
    publisher = RecordingPublisher(clock)
    async with make_app(tmp_path, clock, digest(A, "0 9 * * *")) as app:
        async with running(scheduler_for(app, publisher), clock):
            await move(clock, utc(3, 2, 9))
        clock.set(utc(3, 2, 9, 0, 30))
        async with running(scheduler_for(app, publisher), clock):
            await clock.wait_for_sleepers(1)
            assert clock.deadlines == [utc(3, 3, 9)]
        assert publisher.times() == [utc(3, 2, 9)]


class RacingStore:
    """The real store, where another process claims every run just before this one does."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def claim_scheduled_run(
        self, channel_id: int, scheduled_for: datetime, owner: str | None = None
    ) -> bool:
        assert await self._store.claim_scheduled_run(channel_id, scheduled_for)  # the other one
        claimed: bool = await self._store.claim_scheduled_run(channel_id, scheduled_for, owner)
        return claimed


async def test_a_run_claimed_by_another_process_is_not_posted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = ManualClock(utc(3, 2, 8))
    publisher = RecordingPublisher(clock)
    async with make_app(tmp_path, clock, digest(A, "0 9 * * *")) as real:
        app = dataclasses.replace(real, store=RacingStore(real.store))
        async with running(scheduler_for(app, publisher), clock):
            await move(clock, utc(3, 2, 9))
            assert clock.deadlines == [utc(3, 3, 9)]
        assert publisher.calls == []
        assert "the run for 2026-03-02T09:00:00+00:00 was already made" in caplog.text
        # A run the database records as made is not even attempted after a restart.
        await real.store.finish_scheduled_run(A, utc(3, 2, 9), "posted", None)
        async with make_app(tmp_path, clock, digest(A, "0 9 * * *")) as app2:
            async with running(scheduler_for(app2, publisher), clock):
                await clock.wait_for_sleepers(1)
            assert publisher.calls == []


async def test_a_run_claimed_before_a_crash_without_its_digest_is_caught_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # newsbot claimed the 09:00 run, then was killed before it wrote the digest (nothing was
    # posted), and restarts five minutes later: the run is made then, as a retry.
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = ManualClock(utc(3, 2, 9, 5))
    publisher = RecordingPublisher(clock)
    async with make_app(tmp_path, clock, digest(A, "0 9 * * *")) as app:
        assert await app.store.claim_scheduled_run(A, utc(3, 2, 9))
        async with running(scheduler_for(app, publisher), clock):
            await clock.wait_for_sleepers(1)
        assert publisher.times() == [utc(3, 2, 9, 5)]
        assert publisher.runs == [utc(3, 2, 9)]
        assert run_rows(app) == [(A, "2026-03-02T09:00:00.000000+00:00", "posted")]
        assert (
            "channel 456: the run for 2026-03-02T09:00:00+00:00 was interrupted before its"
            " digest was written; making it now"
        ) in caplog.text


async def test_a_worker_leaves_a_run_to_the_live_worker_that_claimed_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Another worker claimed the 09:00 run and is still writing its digest when this one
    # starts: it is that worker's run, not an orphan. Once that worker is gone (killed before
    # it wrote the digest), the next look, a poll later, makes the run here.
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = ManualClock(utc(3, 2, 9, 0, 5))
    publisher = RecordingPublisher(clock)
    alive = {"me", "other"}

    async def live() -> set[str]:
        return set(alive)

    async with make_app(tmp_path, clock, digest(A, "0 9 * * *")) as app:
        assert await app.store.claim_scheduled_run(A, utc(3, 2, 9), "other")
        [claimed] = await app.store.orphaned_runs()
        assert claimed.claimed_by == "other"
        scheduler = Scheduler(
            app.settings, app.store, clock, publisher, poll=30 * SECOND, owner="me", live=live
        )
        async with running(scheduler, clock):
            await clock.wait_for_sleepers(1)
            assert publisher.calls == []
            assert run_rows(app) == [(A, "2026-03-02T09:00:00.000000+00:00", "running")]
            assert "interrupted" not in caplog.text
            alive.discard("other")
            await move(clock, utc(3, 2, 9, 0, 35))
        assert publisher.runs == [utc(3, 2, 9)]
        assert run_rows(app) == [(A, "2026-03-02T09:00:00.000000+00:00", "posted")]
        assert "the run for 2026-03-02T09:00:00+00:00 was interrupted" in caplog.text


async def test_an_interrupted_run_too_old_to_make_is_recorded_as_missed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = ManualClock(utc(3, 2, 8))  # 23 hours later; catch_up_grace is 6 hours
    publisher = RecordingPublisher(clock)
    async with make_app(tmp_path, clock, digest(A, "0 9 * * *")) as app:
        assert await app.store.claim_scheduled_run(A, utc(3, 1, 9))
        async with running(scheduler_for(app, publisher), clock):
            await move(clock, utc(3, 2, 9))
        assert publisher.runs == [utc(3, 2, 9)]
        assert run_rows(app) == [
            (A, "2026-03-01T09:00:00.000000+00:00", "missed"),
            (A, "2026-03-02T09:00:00.000000+00:00", "posted"),
        ]
        assert "is not made now (too old: catch-up window 6:00:00)" in caplog.text


async def test_an_interrupted_run_of_a_channel_without_a_schedule_is_recorded_as_missed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = ManualClock(utc(3, 2, 9, 5))
    publisher = RecordingPublisher(clock)
    async with make_app(tmp_path, clock, digest(A, "0 9 * * *"), digest(B, None)) as app:
        assert await app.store.claim_scheduled_run(B, utc(3, 2, 9))
        async with running(scheduler_for(app, publisher), clock):
            await clock.wait_for_sleepers(1)
            assert clock.deadlines == [utc(3, 3, 9)]  # asleep until A's next run
        assert publisher.calls == []
        assert run_rows(app) == [(B, "2026-03-02T09:00:00.000000+00:00", "missed")]
        assert "is not made now (the channel has no schedule any more)" in caplog.text


async def test_an_interrupted_run_overtaken_by_a_newer_one_is_not_made_at_the_next_start(
    tmp_path: Path,
) -> None:
    clock = ManualClock(utc(3, 2, 9))
    publisher = RecordingPublisher(clock)
    async with make_app(tmp_path, clock, digest(A, "0 * * * *")) as app:
        assert await app.store.claim_scheduled_run(A, utc(3, 2, 8))
        async with running(scheduler_for(app, publisher), clock):
            await clock.wait_for_sleepers(1)
        clock.set(utc(3, 2, 9, 20))
        async with running(scheduler_for(app, publisher), clock):
            await clock.wait_for_sleepers(1)
        assert publisher.runs == [utc(3, 2, 9)]
        assert run_rows(app) == [
            (A, "2026-03-02T08:00:00.000000+00:00", "interrupted"),
            (A, "2026-03-02T09:00:00.000000+00:00", "posted"),
        ]


async def test_a_run_whose_digest_was_written_before_a_crash_is_not_made_again(
    tmp_path: Path,
) -> None:
    # Killed after the digest was written: the publisher resumes that digest at start
    # (tests/test_publisher.py); the scheduler must not make the run a second time.
    clock = ManualClock(utc(3, 2, 9, 5))
    publisher = RecordingPublisher(clock)
    async with make_app(tmp_path, clock, digest(A, "0 9 * * *")) as app:
        assert await app.store.claim_scheduled_run(A, utc(3, 2, 9))
        written, created = await app.store.create_digest(
            A, "k", Trigger.SCHEDULE, [({"content": "part"}, "n", ())], scheduled_for=utc(3, 2, 9)
        )
        assert created
        async with running(scheduler_for(app, publisher), clock):
            await clock.wait_for_sleepers(1)
        assert publisher.calls == []
        with sqlite3.connect(app.settings.database) as db:
            assert db.execute("SELECT digest_id FROM schedule_runs").fetchall() == [(written.id,)]


async def test_a_brand_new_schedule_does_not_fire_for_the_past(tmp_path: Path) -> None:
    clock = ManualClock(utc(3, 2, 10))
    publisher = RecordingPublisher(clock)
    async with (
        make_app(tmp_path, clock, digest(A, "0 9 * * *")) as app,
        running(scheduler_for(app, publisher), clock) as scheduler,
    ):
        await clock.wait_for_sleepers(1)
        assert clock.deadlines == [utc(3, 3, 9)]
        # Set from Discord at 10:00 for 09:30: today's 09:30 was before it existed.
        await set_channel_schedule(app.settings, app.store, A, "30 9 * * *", actor="alice")
        await rewake(scheduler, clock)
        assert clock.deadlines == [utc(3, 3, 9, 30)]
        assert publisher.calls == []


async def test_a_schedule_changed_while_sleeping_takes_effect(tmp_path: Path) -> None:
    clock = ManualClock(utc(3, 2, 7))
    publisher = RecordingPublisher(clock)
    async with (
        make_app(tmp_path, clock, digest(A, "0 9 * * *")) as app,
        running(scheduler_for(app, publisher), clock) as scheduler,
    ):
        await clock.wait_for_sleepers(1)
        assert clock.deadlines == [utc(3, 2, 9)]
        await set_channel_schedule(
            app.settings, app.store, A, "30 8 * * *", "Europe/Berlin", actor="alice"
        )
        await rewake(scheduler, clock)
        assert clock.deadlines == [utc(3, 2, 7, 30)]  # 08:30 CET
        await move(clock, utc(3, 2, 7, 30))
        await move(clock, utc(3, 2, 9))
        assert publisher.times() == [utc(3, 2, 7, 30)]
        assert clock.deadlines == [utc(3, 3, 7, 30)]


async def test_a_cleared_schedule_does_not_run(tmp_path: Path) -> None:
    clock = ManualClock(utc(3, 2, 7))
    publisher = RecordingPublisher(clock)
    async with (
        make_app(tmp_path, clock, digest(A, "0 9 * * *")) as app,
        running(scheduler_for(app, publisher), clock) as scheduler,
    ):
        await clock.wait_for_sleepers(1)
        cleared = await clear_channel_schedule(app.settings, app.store, A, actor="alice")
        assert cleared.source is ScheduleSource.OFF
        await rewake(scheduler)
        assert clock.sleepers == 0  # nothing scheduled: it waits for wake() only
        clock.set(utc(3, 2, 9, 30))
        await rewake(scheduler)
        assert publisher.calls == []
        assert await describe_schedules(app.settings, app.store, app.clock.now()) == [
            "456  no schedule (only on command)  [off]"
        ]
        # Back to the config file: its next run, not the 09:00 that passed while it was off.
        await reset_channel_schedule(app.settings, app.store, A)
        await rewake(scheduler, clock)
        assert clock.deadlines == [utc(3, 3, 9)]
        assert publisher.calls == []


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Spring forward: 02:30 does not exist; the run is at 03:00 CEST.
        (utc(3, 28, 20), utc(3, 29, 4), [utc(3, 29, 1)]),
        # Fall back: 02:30 happens twice; the run is at the first, 02:30 CEST.
        (utc(10, 24, 20), utc(10, 25, 4), [utc(10, 25, 0, 30)]),
    ],
)
async def test_dst_days_run_once(
    tmp_path: Path, start: datetime, end: datetime, expected: list[datetime]
) -> None:
    clock = ManualClock(start)
    publisher = RecordingPublisher(clock)
    async with (
        make_app(tmp_path, clock, digest(A, "30 2 * * *", timezone="Europe/Berlin")) as app,
        running(scheduler_for(app, publisher), clock),
    ):
        while clock.now() < end:
            await move(clock, clock.now() + 10 * M)
        assert publisher.times() == expected


async def test_a_failing_publish_is_logged_and_scheduling_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = ManualClock(utc(3, 2, 8))
    publisher = RecordingPublisher(clock)
    publisher.raise_for[A] = [RuntimeError("boom")]
    async with (
        make_app(tmp_path, clock, digest(A), digest(B)) as app,
        running(scheduler_for(app, publisher), clock),
    ):
        await move(clock, utc(3, 2, 9))
        # B is posted although A failed; A is retried a minute later.
        assert sorted(c for c, _, _ in publisher.calls) == [A, B]
        failures = [r for r in caplog.records if r.exc_info and r.levelno == logging.ERROR]
        assert len(failures) == 1
        assert "channel 456: the scheduled digest for" in failures[0].getMessage()
        assert failures[0].exc_info is not None
        assert isinstance(failures[0].exc_info[1], RuntimeError)
        assert clock.deadlines == [utc(3, 2, 9, 1)]
        await move(clock, utc(3, 2, 9, 1))
        assert publisher.times(A) == [utc(3, 2, 9), utc(3, 2, 9, 1)]
        assert clock.deadlines == [utc(3, 3, 9)]
        await move(clock, utc(3, 3, 9))
        assert publisher.times(A) == [utc(3, 2, 9), utc(3, 2, 9, 1), utc(3, 3, 9)]
        assert publisher.times(B) == [utc(3, 2, 9), utc(3, 3, 9)]
        assert run_rows(app) == [
            (A, "2026-03-02T09:00:00.000000+00:00", "posted"),
            (B, "2026-03-02T09:00:00.000000+00:00", "posted"),
            (A, "2026-03-03T09:00:00.000000+00:00", "posted"),
            (B, "2026-03-03T09:00:00.000000+00:00", "posted"),
        ]


async def test_retry_later_is_retried_then_given_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = ManualClock(utc(3, 2, 8))
    publisher = RecordingPublisher(clock)
    publisher.status = PublishStatus.RETRY_LATER
    async with (
        make_app(tmp_path, clock, digest(A)) as app,
        running(scheduler_for(app, publisher), clock),
    ):
        await move(clock, utc(3, 2, 9))
        while clock.next_deadline is not None and clock.next_deadline < utc(3, 3):
            await move(clock, clock.next_deadline)
        assert publisher.times() == [
            utc(3, 2, 9),
            utc(3, 2, 9, 1),
            utc(3, 2, 9, 6),
            utc(3, 2, 9, 21),
        ]
        assert "giving up on the scheduled digest" in caplog.text
        assert run_rows(app) == [(A, "2026-03-02T09:00:00.000000+00:00", "retry_later")]
        publisher.status = PublishStatus.POSTED
        await move(clock, utc(3, 3, 9))
        assert publisher.times()[4:] == [utc(3, 3, 9)]  # the next day's run, once


class FlakyStore:
    """The real store, except that ``schedules()`` fails the first time."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.failures = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def schedules(self) -> list[StoredSchedule]:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        result: list[StoredSchedule] = await self._store.schedules()
        return result


async def test_a_failing_pass_is_logged_and_retried_through_the_clock(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(utc(3, 2, 8))
    publisher = RecordingPublisher(clock)
    async with make_app(tmp_path, clock, digest(A)) as real:
        app = dataclasses.replace(real, store=FlakyStore(real.store))
        async with running(scheduler_for(app, publisher), clock):
            await clock.wait_for_sleepers(1)
            assert clock.deadlines == [utc(3, 2, 8, 0, 30)]  # the error backoff
            assert "schedule check failed (1 in a row)" in caplog.text
            await move(clock, utc(3, 2, 8, 0, 30))
            assert clock.deadlines == [utc(3, 2, 9)]
            await move(clock, utc(3, 2, 9))
            assert publisher.times() == [utc(3, 2, 9)]


@pytest.mark.parametrize("post_empty", [False, True])
async def test_an_empty_digest_posts_nothing_and_is_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, post_empty: bool
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = ManualClock(utc(3, 2, 8))
    publisher = RecordingPublisher(clock)
    publisher.status = PublishStatus.NOTHING
    async with (
        make_app(tmp_path, clock, digest(A, post_empty=post_empty)) as app,
        running(scheduler_for(app, publisher), clock),
    ):
        await move(clock, utc(3, 2, 9))
        assert run_rows(app) == [(A, "2026-03-02T09:00:00.000000+00:00", "nothing")]
        assert "scheduled digest for 2026-03-02T09:00:00+00:00 is empty; nothing posted" in (
            caplog.text
        )
        # Whether an empty run posts a notice is the publisher's decision
        # (tests/test_publisher.py); the scheduler records and logs the outcome either way.


async def test_stop_ends_the_loop_and_leaves_no_tasks(tmp_path: Path) -> None:
    clock = ManualClock(utc(3, 2, 8))
    async with make_app(tmp_path, clock, digest(A), digest(B, None)) as app:
        scheduler = scheduler_for(app, RecordingPublisher(clock), MissedRunPolicy())
        task = asyncio.create_task(scheduler.run())
        await clock.wait_for_sleepers(1)
        scheduler.stop()
        async with asyncio.timeout(HANG):
            await task
        assert clock.sleepers == 0
        assert asyncio.all_tasks() == {asyncio.current_task()}
        # Cancelling (as the bot's close() does) is clean too.
        task = asyncio.create_task(scheduler.run())
        await clock.wait_for_sleepers(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert clock.sleepers == 0
        assert asyncio.all_tasks() == {asyncio.current_task()}
