"""The pure schedule core: cron parsing, run times across DST, and the missed-run policy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.errors import ConfigError
from bot.schedule import (
    DueDecision,
    MissedRunPolicy,
    ScheduleSpec,
    due_run,
    next_run,
    parse_schedule,
)

H = timedelta(hours=1)
M = timedelta(minutes=1)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def runs_between(spec: ScheduleSpec, start: datetime, end: datetime) -> list[datetime]:
    """Every run ``r`` with ``start < r <= end``, one ``next_run`` after another."""
    runs: list[datetime] = []
    run = next_run(spec, start)
    while run <= end:
        runs.append(run)
        run = next_run(spec, run)
    return runs


def local(
    zone: str,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    *,
    fold: int = 0,
) -> datetime:
    """A wall-clock time in ``zone`` converted to UTC (fold picks the pass of a repeated hour)."""
    wall = datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone), fold=fold)
    return wall.astimezone(UTC)


# --- validation ----------------------------------------------------------------------------

FIELDS = "(minute hour day-of-month month day-of-week)"


@pytest.mark.parametrize(
    ("cron", "timezone", "message"),
    [
        ("0 25 * * *", "UTC", '"0 25 * * *": hour must be 0-23'),
        ("* * *", "UTC", f'"* * *": expected 5 fields {FIELDS}, got 3'),
        ("61 * * * *", "UTC", '"61 * * * *": minute must be 0-59'),
        ("0 9 * * *", "Mars/Olympus", "Mars/Olympus: unknown time zone"),
        ("0 9 0 * *", "UTC", '"0 9 0 * *": day-of-month must be 1-31'),
        ("0 9 32 * *", "UTC", '"0 9 32 * *": day-of-month must be 1-31'),
        ("0 9 * 13 *", "UTC", '"0 9 * 13 *": month must be 1-12 or jan-dec'),
        ("0 9 * * 8", "UTC", '"0 9 * * 8": day-of-week must be 0-7 or sun-sat'),
        ("0 9-24 * * *", "UTC", '"0 9-24 * * *": hour must be 0-23'),
        ("0,60 * * * *", "UTC", '"0,60 * * * *": minute must be 0-59'),
        (
            "0 0 9 * * *",
            "UTC",
            f'"0 0 9 * * *": expected 5 fields {FIELDS}, got 6; '
            "seconds and year fields are not supported",
        ),
        (
            "0 0 9 * * * 2026",
            "UTC",
            f'"0 0 9 * * * 2026": expected 5 fields {FIELDS}, got 7; '
            "seconds and year fields are not supported",
        ),
        ("", "UTC", f'"": expected 5 fields {FIELDS}, got 0'),
        (
            "@daily",
            "UTC",
            f'"@daily": expected 5 fields {FIELDS}, got 1; write @daily as five fields',
        ),
        (
            "*/0 * * * *",
            "UTC",
            '"*/0 * * * *": minute "*/0" is not valid; '
            "use 0-59, lists (1,3), ranges (1-5) and steps (*/15)",
        ),
        (
            "5-1 * * * *",
            "UTC",
            '"5-1 * * * *": minute "5-1" is not valid; '
            "use 0-59, lists (1,3), ranges (1-5) and steps (*/15)",
        ),
        (
            "0 x * * *",
            "UTC",
            '"0 x * * *": hour "x" is not valid; '
            "use 0-23, lists (1,3), ranges (1-5) and steps (*/15)",
        ),
        (
            "0 9 * mon *",
            "UTC",
            '"0 9 * mon *": month "mon" is not valid; '
            "use 1-12 or jan-dec, lists (1,3), ranges (1-5) and steps (*/15)",
        ),
        (
            "0 9 * * funday",
            "UTC",
            '"0 9 * * funday": day-of-week "funday" is not valid; '
            "use 0-7 or sun-sat, lists (1,3), ranges (1-5) and steps (*/15)",
        ),
        ("0 0 30 2 *", "UTC", '"0 0 30 2 *": day-of-month 30 never occurs in month 2'),
        ("0 0 31 4,6 *", "UTC", '"0 0 31 4,6 *": day-of-month 31 never occurs in month 4,6'),
        ("0 9 * * *", "", "time zone is empty; use an IANA name such as Europe/Berlin"),
        ("0 9 * * *", "../../etc/passwd", "../../etc/passwd: unknown time zone"),
        ("0 9 * * *", "/etc/localtime", "/etc/localtime: unknown time zone"),
        ("0 9 * * *", "CEST", "CEST: unknown time zone"),
    ],
)
def test_invalid_schedules_are_named_exactly(cron: str, timezone: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_schedule(cron, timezone)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "cron",
    [
        "0 9 * * *",
        "*/15 * * * *",
        "0 9 * * mon-fri",
        "0 9 * * MON-FRI",
        "0 9 * * Mon,Wed,Fri",
        "0 9 1 jan,jul *",
        "0 9 28-31 * *",
        "0 0 29 2 *",
        "0 0 31 1-12/2 *",
        "5,35 8-18/2 * * 1-5",
        "0 12 * * 0",
        "0 12 * * 7",
        "0 9 L * *",
    ],
)
def test_valid_schedules_are_accepted(cron: str) -> None:
    assert parse_schedule(cron, "Europe/Berlin").cron == cron


def test_parse_normalises_whitespace() -> None:
    spec = parse_schedule("  0   9 *\t* *  ", " Europe/Berlin ")
    assert spec == ScheduleSpec("0 9 * * *", "Europe/Berlin")
    assert spec.zone == ZoneInfo("Europe/Berlin")


def test_constructing_a_spec_directly_validates_too() -> None:
    with pytest.raises(ConfigError, match="hour must be 0-23"):
        ScheduleSpec("0 24 * * *", "UTC")


def test_naive_datetimes_are_refused() -> None:
    spec = parse_schedule("0 9 * * *", "UTC")
    naive = datetime(2026, 1, 1, 9)  # naive on purpose
    with pytest.raises(ValueError, match="aware"):
        next_run(spec, naive)
    with pytest.raises(ValueError, match="aware"):
        due_run(spec, None, naive)
    with pytest.raises(ValueError, match="aware"):
        due_run(spec, naive, utc(2026, 1, 1))


# --- cron edge cases -----------------------------------------------------------------------


def test_next_run_is_strictly_after() -> None:
    spec = parse_schedule("0 9 * * *", "UTC")
    assert next_run(spec, utc(2026, 5, 1, 9)) == utc(2026, 5, 2, 9)
    assert next_run(spec, utc(2026, 5, 1, 9) - timedelta(microseconds=1)) == utc(2026, 5, 1, 9)
    assert next_run(spec, utc(2026, 5, 1, 9) + timedelta(microseconds=1)) == utc(2026, 5, 2, 9)


def test_next_run_accepts_any_aware_zone_and_returns_utc() -> None:
    spec = parse_schedule("0 9 * * *", "UTC")
    after = datetime(2026, 5, 1, 10, tzinfo=ZoneInfo("Europe/Berlin"))  # 08:00 UTC
    result = next_run(spec, after)
    assert result == utc(2026, 5, 1, 9)
    assert result.tzinfo is UTC


def test_days_28_to_31_follow_month_lengths() -> None:
    spec = parse_schedule("0 9 28-31 * *", "UTC")
    runs = runs_between(spec, utc(2026, 2, 1), utc(2026, 5, 1))
    assert [(r.month, r.day) for r in runs] == [
        (2, 28),
        (3, 28),
        (3, 29),
        (3, 30),
        (3, 31),
        (4, 28),
        (4, 29),
        (4, 30),
    ]
    leap = runs_between(spec, utc(2028, 2, 1), utc(2028, 3, 1))
    assert [r.day for r in leap] == [28, 29]


def test_last_day_of_month() -> None:
    spec = parse_schedule("0 9 L * *", "UTC")
    runs = runs_between(spec, utc(2026, 1, 1), utc(2026, 5, 1))
    assert [r.date().isoformat() for r in runs] == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
    ]


def test_every_fifteen_minutes() -> None:
    spec = parse_schedule("*/15 * * * *", "UTC")
    assert runs_between(spec, utc(2026, 5, 1, 10), utc(2026, 5, 1, 11)) == [
        utc(2026, 5, 1, 10, 15),
        utc(2026, 5, 1, 10, 30),
        utc(2026, 5, 1, 10, 45),
        utc(2026, 5, 1, 11, 0),
    ]
    assert next_run(spec, utc(2026, 5, 1, 10, 7, 30)) == utc(2026, 5, 1, 10, 15)
    assert next_run(spec, utc(2026, 5, 1, 23, 50)) == utc(2026, 5, 2, 0, 0)


def test_weekdays_only() -> None:
    spec = parse_schedule("0 9 * * mon-fri", "Europe/Berlin")
    # 2026-03-02 is a Monday; Berlin is UTC+1 in early March.
    runs = runs_between(spec, utc(2026, 3, 2), utc(2026, 3, 9))
    assert runs == [utc(2026, 3, d, 8) for d in range(2, 7)]
    assert next_run(spec, utc(2026, 3, 6, 9)) == utc(2026, 3, 9, 8)  # Friday -> Monday


def test_sunday_is_0_and_7() -> None:
    zero = parse_schedule("0 12 * * 0", "UTC")
    seven = parse_schedule("0 12 * * 7", "UTC")
    sun = parse_schedule("0 12 * * sun", "UTC")
    start = utc(2026, 1, 1)
    assert next_run(zero, start) == next_run(seven, start) == next_run(sun, start)
    assert next_run(zero, start) == utc(2026, 1, 4, 12)


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    # Vixie cron: "the 13th, and every Friday", not "Friday the 13th".
    spec = parse_schedule("0 9 13 * fri", "UTC")
    runs = runs_between(spec, utc(2026, 3, 1), utc(2026, 3, 31))
    assert [r.day for r in runs] == [6, 13, 20, 27]  # Fridays 6, 13, 20, 27; the 13th is one
    runs = runs_between(spec, utc(2026, 4, 1), utc(2026, 4, 30))
    assert [r.day for r in runs] == [3, 10, 13, 17, 24]


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2026, 1, 1), utc(2028, 2, 29)),
        (utc(2028, 2, 29), utc(2032, 2, 29)),
        (utc(2096, 3, 1), utc(2104, 2, 29)),  # 2100 is not a leap year
    ],
)
def test_february_29_finds_the_next_leap_year(after: datetime, expected: datetime) -> None:
    assert next_run(parse_schedule("0 0 29 2 *", "UTC"), after) == expected


# --- DST -----------------------------------------------------------------------------------


def test_berlin_spring_forward_fixed_time_runs_once_after_the_gap() -> None:
    # 2026-03-29: 02:00 CET -> 03:00 CEST, so 02:30 does not exist; cron runs it at 03:00.
    spec = parse_schedule("30 2 * * *", "Europe/Berlin")
    runs = runs_between(spec, utc(2026, 3, 27, 12), utc(2026, 3, 30, 12))
    assert runs == [
        local("Europe/Berlin", 2026, 3, 28, 2, 30),  # 01:30 UTC
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST, the first instant after the gap
        local("Europe/Berlin", 2026, 3, 30, 2, 30),  # 00:30 UTC
    ]
    assert runs[1].astimezone(spec.zone).strftime("%H:%M %Z") == "03:00 CEST"


def test_berlin_fall_back_fixed_time_runs_once_at_first_occurrence() -> None:
    # 2026-10-25: 03:00 CEST -> 02:00 CET, so 02:30 happens twice; cron runs the first only.
    spec = parse_schedule("30 2 * * *", "Europe/Berlin")
    runs = runs_between(spec, utc(2026, 10, 24, 12), utc(2026, 10, 26, 12))
    assert runs == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    assert runs[0].astimezone(spec.zone).strftime("%H:%M %Z") == "02:30 CEST"


def test_berlin_fall_back_after_inside_the_repeated_hour() -> None:
    # "after" in the second pass of 02:xx: today's 02:30 already ran (first pass), so tomorrow.
    spec = parse_schedule("30 2 * * *", "Europe/Berlin")
    after = local("Europe/Berlin", 2026, 10, 25, 2, 10, fold=1)  # 01:10 UTC
    assert next_run(spec, after) == utc(2026, 10, 26, 1, 30)
    later = parse_schedule("45 2 * * *", "Europe/Berlin")
    assert next_run(later, after) == utc(2026, 10, 26, 1, 45)
    three = parse_schedule("0 3 * * *", "Europe/Berlin")
    assert next_run(three, after) == utc(2026, 10, 25, 2, 0)  # 03:00 CET


def _local_day(zone: str, year: int, month: int, day: int) -> tuple[datetime, datetime]:
    """The UTC bounds (exclusive start, inclusive end) of one local calendar day."""
    start = local(zone, year, month, day) - timedelta(microseconds=1)
    end = local(zone, year, month, day, 23, 59, 59)
    return start, end


@pytest.mark.parametrize(
    ("zone", "day", "count"),
    [
        ("Europe/Berlin", (2026, 3, 29), 23),
        ("Europe/Berlin", (2026, 10, 25), 25),
        ("America/New_York", (2026, 3, 8), 23),
        ("America/New_York", (2026, 11, 1), 25),
        ("Australia/Sydney", (2026, 10, 4), 23),
        ("Australia/Sydney", (2026, 4, 5), 25),
        ("Asia/Kolkata", (2026, 3, 29), 24),
        ("UTC", (2026, 3, 29), 24),
    ],
)
def test_hourly_runs_every_real_hour_across_dst(
    zone: str, day: tuple[int, int, int], count: int
) -> None:
    spec = parse_schedule("0 * * * *", zone)
    runs = runs_between(spec, *_local_day(zone, *day))
    assert len(runs) == count
    assert len(set(runs)) == count
    # One hour apart in real time: no duplicate, and no hour skipped but the missing one.
    assert all(b - a == H for a, b in pairwise(runs))
    assert all(r.astimezone(spec.zone).minute == 0 for r in runs)


def test_half_hourly_across_berlin_fall_back_has_no_duplicate_instant() -> None:
    spec = parse_schedule("*/30 * * * *", "Europe/Berlin")
    runs = runs_between(spec, *_local_day("Europe/Berlin", 2026, 10, 25))
    assert len(runs) == 50
    assert all(b - a == timedelta(minutes=30) for a, b in pairwise(runs))


def test_new_york_spring_forward_and_fall_back() -> None:
    spring = parse_schedule("30 2 * * *", "America/New_York")
    assert runs_between(spring, utc(2026, 3, 7, 12), utc(2026, 3, 9, 12)) == [
        utc(2026, 3, 8, 7, 0),  # 03:00 EDT, first instant after the 02:00 -> 03:00 gap
        utc(2026, 3, 9, 6, 30),  # 02:30 EDT
    ]
    fall = parse_schedule("30 1 * * *", "America/New_York")
    assert runs_between(fall, utc(2026, 10, 31, 12), utc(2026, 11, 2, 12)) == [
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT, the first of the two 01:30s
        utc(2026, 11, 2, 6, 30),  # 01:30 EST
    ]


def test_sydney_southern_hemisphere_dst() -> None:
    spec = parse_schedule("30 2 * * *", "Australia/Sydney")
    # DST ends 2026-04-05 03:00 AEDT -> 02:00 AEST: 02:30 runs once, in AEDT.
    assert runs_between(spec, utc(2026, 4, 3), utc(2026, 4, 6)) == [
        utc(2026, 4, 3, 15, 30),
        utc(2026, 4, 4, 15, 30),
        utc(2026, 4, 5, 16, 30),
    ]
    # DST starts 2026-10-04 02:00 AEST -> 03:00 AEDT: 02:30 runs at 03:00 AEDT.
    assert runs_between(spec, utc(2026, 10, 2), utc(2026, 10, 5)) == [
        utc(2026, 10, 2, 16, 30),
        utc(2026, 10, 3, 16, 0),
        utc(2026, 10, 4, 15, 30),
    ]


def test_lord_howe_half_hour_dst() -> None:
    # Australia/Lord_Howe shifts by 30 minutes: +10:30 <-> +11.
    start = parse_schedule("15 2 * * *", "Australia/Lord_Howe")
    assert next_run(start, utc(2026, 10, 3)) == utc(2026, 10, 3, 15, 30)  # 02:30 +11
    end = parse_schedule("45 1 * * *", "Australia/Lord_Howe")
    assert runs_between(end, utc(2026, 4, 4), utc(2026, 4, 6)) == [
        utc(2026, 4, 4, 14, 45),  # 01:45 +11, first of two
        utc(2026, 4, 5, 15, 15),  # 01:45 +10:30
    ]


def test_kolkata_half_hour_offset_without_dst() -> None:
    daily = parse_schedule("0 9 * * *", "Asia/Kolkata")
    runs = runs_between(daily, utc(2026, 1, 1), utc(2027, 1, 1))
    assert len(runs) == 365
    assert all(r.hour == 3 and r.minute == 30 for r in runs)
    hourly = parse_schedule("0 * * * *", "Asia/Kolkata")
    assert next_run(hourly, utc(2026, 6, 1, 10, 0)) == utc(2026, 6, 1, 10, 30)


def test_utc_schedules_ignore_european_dst() -> None:
    spec = parse_schedule("30 2 * * *", "UTC")
    assert runs_between(spec, utc(2026, 3, 28), utc(2026, 3, 31)) == [
        utc(2026, 3, 28, 2, 30),
        utc(2026, 3, 29, 2, 30),
        utc(2026, 3, 30, 2, 30),
    ]


def test_weekly_job_keeps_local_time_across_dst() -> None:
    spec = parse_schedule("0 9 * * sun", "Europe/Berlin")
    assert runs_between(spec, utc(2026, 3, 20), utc(2026, 4, 1)) == [
        utc(2026, 3, 22, 8),  # 09:00 CET
        utc(2026, 3, 29, 7),  # 09:00 CEST
    ]


# --- missed-run policy ---------------------------------------------------------------------

DAILY_9 = parse_schedule("0 9 * * *", "UTC")


def test_brand_new_schedule_does_not_fire_for_the_past() -> None:
    now = utc(2026, 5, 1, 12)
    decision = due_run(DAILY_9, None, now, created=now)
    assert decision == DueDecision(run_at=None, next_wake=utc(2026, 5, 2, 9))
    # Without a creation time the schedule starts now: same answer.
    assert due_run(DAILY_9, None, now) == decision


def test_schedule_created_before_a_run_fires_it() -> None:
    decision = due_run(DAILY_9, None, utc(2026, 5, 1, 9, 0, 1), created=utc(2026, 5, 1, 8))
    assert decision.run_at == utc(2026, 5, 1, 9)
    assert decision.due


def test_on_time_run() -> None:
    now = utc(2026, 5, 1, 9) + timedelta(milliseconds=3)
    decision = due_run(DAILY_9, utc(2026, 4, 30, 9), now)
    assert decision == DueDecision(run_at=utc(2026, 5, 1, 9), next_wake=utc(2026, 5, 2, 9))
    # Once recorded, the same moment asks for nothing more.
    again = due_run(DAILY_9, decision.run_at, now)
    assert again == DueDecision(run_at=None, next_wake=utc(2026, 5, 2, 9))


def test_not_yet_due() -> None:
    decision = due_run(DAILY_9, utc(2026, 4, 30, 9), utc(2026, 5, 1, 8, 59, 59))
    assert decision == DueDecision(run_at=None, next_wake=utc(2026, 5, 1, 9))


def test_missed_within_grace_catches_up_once() -> None:
    # Down from 08:00 to 12:00: the 09:00 digest is still worth sending.
    decision = due_run(DAILY_9, utc(2026, 4, 30, 9), utc(2026, 5, 1, 12))
    assert decision == DueDecision(run_at=utc(2026, 5, 1, 9), next_wake=utc(2026, 5, 2, 9))


def test_missed_beyond_grace_is_dropped() -> None:
    decision = due_run(DAILY_9, utc(2026, 4, 30, 9), utc(2026, 5, 1, 15, 30))
    assert decision == DueDecision(
        run_at=None, next_wake=utc(2026, 5, 2, 9), first_dropped=utc(2026, 5, 1, 9)
    )


def test_grace_edge_is_inclusive() -> None:
    last = utc(2026, 4, 30, 9)
    assert due_run(DAILY_9, last, utc(2026, 5, 1, 15)).run_at == utc(2026, 5, 1, 9)
    late = utc(2026, 5, 1, 15) + timedelta(microseconds=1)
    assert due_run(DAILY_9, last, late).run_at is None


def test_many_missed_runs_give_one_run_for_the_latest() -> None:
    hourly = parse_schedule("0 * * * *", "UTC")
    last = utc(2026, 4, 28, 12)
    now = utc(2026, 5, 1, 12, 20)
    decision = due_run(hourly, last, now)
    assert decision == DueDecision(
        run_at=utc(2026, 5, 1, 12),
        next_wake=utc(2026, 5, 1, 13),
        first_dropped=utc(2026, 4, 28, 13),
    )
    # Recording it leaves nothing else due: no burst of the other 71 missed hours.
    assert due_run(hourly, decision.run_at, now).run_at is None


def test_custom_grace() -> None:
    policy = MissedRunPolicy(catch_up_grace=timedelta(hours=1))
    assert due_run(DAILY_9, utc(2026, 4, 30, 9), utc(2026, 5, 1, 9, 59), policy).due
    assert not due_run(DAILY_9, utc(2026, 4, 30, 9), utc(2026, 5, 1, 10, 1), policy).due


def test_zero_grace_still_tolerates_a_slightly_late_wake() -> None:
    policy = MissedRunPolicy(catch_up_grace=timedelta(0))
    assert due_run(DAILY_9, utc(2026, 4, 30, 9), utc(2026, 5, 1, 9, 0, 1), policy).due


def test_last_run_ahead_of_now_waits_past_it() -> None:
    # The wall clock stepped back after 2026-05-01 09:00 ran: do not repeat it.
    decision = due_run(DAILY_9, utc(2026, 5, 1, 9), utc(2026, 5, 1, 8, 30))
    assert decision == DueDecision(run_at=None, next_wake=utc(2026, 5, 2, 9))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: MissedRunPolicy(catch_up_grace=timedelta(hours=-1)),
            "catch_up_grace must not be negative",
        ),
        (
            lambda: MissedRunPolicy(late_tolerance=timedelta(seconds=-1)),
            "late_tolerance must not be negative",
        ),
    ],
)
def test_policy_errors(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make()
    assert str(caught.value) == message


@dataclass
class _Simulation:
    runs: list[datetime]
    wakes: int


def _simulate(
    spec: ScheduleSpec,
    start: datetime,
    end: datetime,
    lateness: timedelta = timedelta(0),
    policy: MissedRunPolicy | None = None,
) -> _Simulation:
    """Drive due_run the way the scheduler loop will: wake, decide, run, sleep until next_wake."""
    runs: list[datetime] = []
    last: datetime | None = None
    now = start
    wakes = 0
    while True:
        wakes += 1
        decision = due_run(spec, last, now, policy, created=start)
        if decision.run_at is not None:
            runs.append(decision.run_at)
            last = decision.run_at
        assert decision.next_wake > now
        if decision.next_wake > end:
            break
        now = decision.next_wake + lateness
    return _Simulation(runs, wakes)


@pytest.mark.parametrize(
    ("cron", "zone", "start", "end"),
    [
        ("30 2 * * *", "Europe/Berlin", utc(2026, 3, 27), utc(2026, 4, 1)),
        ("30 2 * * *", "Europe/Berlin", utc(2026, 10, 23), utc(2026, 10, 28)),
        ("0 * * * *", "Europe/Berlin", utc(2026, 10, 24), utc(2026, 10, 26)),
        ("*/15 * * * *", "America/New_York", utc(2026, 11, 1), utc(2026, 11, 2)),
        ("30 2 * * *", "Australia/Sydney", utc(2026, 10, 1), utc(2026, 10, 6)),
    ],
)
@pytest.mark.parametrize("lateness", [timedelta(0), timedelta(seconds=2)])
def test_simulated_loop_runs_each_scheduled_time_exactly_once(
    cron: str, zone: str, start: datetime, end: datetime, lateness: timedelta
) -> None:
    spec = parse_schedule(cron, zone)
    simulation = _simulate(spec, start, end, lateness)
    assert simulation.runs == runs_between(spec, start, end)
    # Every wake after the first one runs something: the loop never wakes for nothing.
    assert simulation.wakes == len(simulation.runs) + 1


def test_simulated_loop_after_downtime_catches_up_once_then_resumes() -> None:
    spec = parse_schedule("0 * * * *", "UTC")
    # Last ran at 00:00, the bot comes back at 05:10.
    decision = due_run(spec, utc(2026, 5, 1, 0), utc(2026, 5, 1, 5, 10))
    assert decision.run_at == utc(2026, 5, 1, 5)
    assert decision.first_dropped == utc(2026, 5, 1, 1)
    follow = due_run(spec, decision.run_at, decision.next_wake)
    assert follow.run_at == utc(2026, 5, 1, 6)
    assert follow.first_dropped is None


# --- properties ----------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/St_Johns",
]


@dataclass(frozen=True)
class _Cron:
    """A generated cron expression together with the sets it means (the test's own oracle)."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # cron numbering, Sunday = 0
    day_and: bool  # either day field starts with "*": both must match; else either
    fixed_time: bool  # neither minute nor hour starts with "*": evaluated on the wall clock


@st.composite
def _field(draw: st.DrawFn, low: int, high: int, hot: tuple[int, ...] = ()) -> tuple[str, set[int]]:
    kind = draw(st.sampled_from(["star", "step", "list", "range"]))
    if kind == "star":
        return "*", set(range(low, high + 1))
    if kind == "step":
        step = draw(st.integers(1, max(1, (high - low) // 2)))
        return f"*/{step}", set(range(low, high + 1, step))
    values = st.sampled_from(hot) | st.integers(low, high) if hot else st.integers(low, high)
    if kind == "list":
        chosen = draw(st.lists(values, min_size=1, max_size=3, unique=True))
        return ",".join(map(str, chosen)), set(chosen)
    a, b = sorted((draw(values), draw(values)))
    return f"{a}-{b}", set(range(a, b + 1))


@st.composite
def _crons(draw: st.DrawFn) -> _Cron:
    minute, minutes = draw(_field(0, 59, hot=(0, 15, 30, 45)))
    hour, hours = draw(_field(0, 23, hot=(1, 2, 3)))
    day, days = draw(st.just(("*", set(range(1, 32)))) | _field(1, 31))
    month, months = draw(st.just(("*", set(range(1, 13)))) | _field(1, 12, hot=(3, 4, 10, 11)))
    dow, weekdays = draw(st.just(("*", set(range(7)))) | _field(0, 6))
    return _Cron(
        text=f"{minute} {hour} {day} {month} {dow}",
        minutes=frozenset(minutes),
        hours=frozenset(hours),
        days=frozenset(days),
        months=frozenset(months),
        weekdays=frozenset(weekdays),
        day_and=day.startswith("*") or dow.startswith("*"),
        fixed_time=not minute.startswith("*") and not hour.startswith("*"),
    )


def _wall_matches(cron: _Cron, wall: datetime) -> bool:
    dom = wall.day in cron.days
    dow = (wall.weekday() + 1) % 7 in cron.weekdays
    day_ok = (dom and dow) if cron.day_and else (dom or dow)
    return (
        wall.minute in cron.minutes
        and wall.hour in cron.hours
        and wall.month in cron.months
        and day_ok
    )


def _is_run_instant(cron: _Cron, zone: ZoneInfo, instant: datetime) -> bool:
    """Whether the documented semantics make ``instant`` a run (ignoring gap-shifted runs)."""
    wall = instant.astimezone(zone)
    if not _wall_matches(cron, wall):
        return False
    # Fixed-time jobs run in the first pass of a repeated hour only.
    return not (cron.fixed_time and wall.fold == 1)


def _just_after_gap(zone: ZoneInfo, instant: datetime) -> bool:
    """Whether ``instant`` is the first instant after a spring-forward gap."""
    before = (instant - timedelta(seconds=1)).astimezone(zone).utcoffset()
    after = instant.astimezone(zone).utcoffset()
    return before is not None and after is not None and after > before


# DST transitions (UTC) in the zones above, to aim many examples at the interesting days.
TRANSITIONS = [
    utc(2026, 3, 29, 1),  # Europe/Berlin
    utc(2026, 10, 25, 1),
    utc(2026, 3, 8, 7),  # America/New_York
    utc(2026, 11, 1, 6),
    utc(2026, 4, 4, 16),  # Australia/Sydney
    utc(2026, 10, 3, 16),
    utc(2026, 4, 4, 15),  # Australia/Lord_Howe
    utc(2026, 10, 3, 15, 30),
    utc(2026, 3, 8, 5, 30),  # America/St_Johns
    utc(2026, 11, 1, 4, 30),
]
_anywhere = st.datetimes(
    min_value=datetime(2020, 1, 1),  # hypothesis wants naive bounds
    max_value=datetime(2035, 12, 31),
    timezones=st.just(UTC),
)
_near_transition = st.builds(
    lambda at, seconds: at + timedelta(seconds=seconds),
    st.sampled_from(TRANSITIONS),
    st.integers(-2 * 86400, 2 * 86400),
)


@settings(
    derandomize=True,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    cron=_crons(),
    zone_name=st.sampled_from(ZONES),
    after=_anywhere | _near_transition,
)
def test_next_run_is_increasing_matches_and_skips_nothing(
    cron: _Cron, zone_name: str, after: datetime
) -> None:
    try:
        spec = parse_schedule(cron.text, zone_name)
    except ConfigError:
        assume(False)  # e.g. "0 0 30 2 *": rejected by design, tested above
        raise
    zone = spec.zone
    first = next_run(spec, after)
    second = next_run(spec, first)
    assert after < first < second
    for run in (first, second):
        assert run.tzinfo is UTC
        assert run.second == 0 and run.microsecond == 0
        assert _is_run_instant(cron, zone, run) or (cron.fixed_time and _just_after_gap(zone, run))
    # Nothing that should have run lies strictly between two consecutive results (checked
    # minute by minute when the stretch is short enough to scan quickly).
    for low, high in ((after, first), (first, second)):
        if high - low > timedelta(days=2):
            continue
        minute = (low + M).replace(second=0, microsecond=0)
        while minute < high:
            assert not _is_run_instant(cron, zone, minute), (cron.text, zone_name, minute)
            minute += M
