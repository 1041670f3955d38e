"""Digest schedules: cron + IANA time zone -> run times, and the missed-run policy.

Everything here is pure: times come in as arguments (aware UTC), nothing reads the clock or
sleeps. The scheduler loop (``bot.schedule.loop``) asks ``due_run`` what to do now and sleeps
until the decision's ``next_wake``.

Cron parsing and matching is delegated to ``cronsim`` (not a hand-written parser). It was picked
over croniter for its DST semantics, which follow Debian cron and are what an operator who
writes "30 2 * * *" expects:

* Jobs at a fixed time (minute and hour fields not starting with ``*``) are evaluated on the
  local wall clock. On the spring-forward day a time inside the gap runs once, at the first valid
  instant after the gap (Europe/Berlin 2026-03-29: 02:30 -> 03:00 CEST = 01:00 UTC). On the
  fall-back day a time in the repeated hour runs once, at its first occurrence (02:30 CEST =
  00:30 UTC on 2026-10-25), not again an hour later. croniter 7 runs such a job twice on the
  fall-back day, which is why it was not used.
* Jobs whose minute or hour field starts with ``*`` (``0 * * * *``, ``*/15 * * * *``,
  ``0 */2 * * *``) follow elapsed time: they run at every matching real instant, so an hourly
  job runs 23 times on the spring-forward day (the missing hour has no instant) and 25 times on
  the fall-back day (02:00 CEST and 02:00 CET are different instants, an hour apart). There is
  never a duplicate instant and no hour is skipped except the one that does not exist.

Accepted syntax: five fields (minute hour day-of-month month day-of-week), numbers, names
(``jan``-``dec``, ``sun``-``sat``, any case), ranges, steps and lists; day-of-week 0 and 7 are
Sunday. As in Vixie/Debian cron, when both day fields are restricted a day matches either.
cronsim's extensions (``L``, ``LW``, ``mon#2``) are accepted too. Six- and seven-field forms
(seconds, years) and ``@daily``-style macros are rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from bot.clock import require_aware
from bot.errors import ConfigError

__all__ = [
    "DueDecision",
    "MissedRunPolicy",
    "ScheduleSpec",
    "due_run",
    "next_run",
    "parse_schedule",
]

_FIELD_LIST = "minute hour day-of-month month day-of-week"
# A harmless expression whose fields are replaced one at a time, so the library itself says
# which field is wrong.
_NEUTRAL = ("0", "0", "*", "*", "*")
# Any aware instant serves to construct a CronSim for validation; it is never evaluated.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_EPSILON = timedelta(microseconds=1)


@dataclass(frozen=True)
class _FieldRule:
    name: str
    low: int
    high: int
    names: str  # how names are written in this field, for the hint; "" if none

    def values(self) -> str:
        return f"{self.low}-{self.high}" + (f" or {self.names}" if self.names else "")

    def hint(self) -> str:
        return f"use {self.values()}, lists (1,3), ranges (1-5) and steps (*/15)"


_FIELDS = (
    _FieldRule("minute", 0, 59, ""),
    _FieldRule("hour", 0, 23, ""),
    _FieldRule("day-of-month", 1, 31, ""),
    _FieldRule("month", 1, 12, "jan-dec"),
    _FieldRule("day-of-week", 0, 7, "sun-sat"),
)
# A number that is a value (not a step after "/" nor an nth after "#").
_VALUE_NUMBER = re.compile(r"(?<![/#\d])\d+")


def _cron_problem(cron: str) -> str | None:
    """Say what is wrong with a cron expression, naming the field, or None if it is fine.

    cronsim validates (ranges, names, steps, impossible dates) but reports only "Bad hour";
    each field is therefore checked on its own inside a neutral expression, and a number
    outside the field's range gets the short "hour must be 0-23" form.
    """
    parts = cron.split()
    if len(parts) != len(_FIELDS):
        message = f'"{cron}": expected 5 fields ({_FIELD_LIST}), got {len(parts)}'
        if len(parts) in (6, 7):
            message += "; seconds and year fields are not supported"
        elif len(parts) == 1 and parts[0].startswith("@"):
            message += f"; write {parts[0]} as five fields"
        return message
    for index, rule in enumerate(_FIELDS):
        probe = list(_NEUTRAL)
        probe[index] = parts[index]
        try:
            CronSim(" ".join(probe), _EPOCH)
        except CronSimError:
            text = parts[index]
            for number in _VALUE_NUMBER.findall(text):
                if not rule.low <= int(number) <= rule.high:
                    return f'"{cron}": {rule.name} must be {rule.values()}'
            return f'"{cron}": {rule.name} "{text}" is not valid; {rule.hint()}'
    try:
        CronSim(cron, _EPOCH)
    except CronSimError:
        # Every field is fine alone; cronsim's only cross-field check is a day-of-month that
        # no selected month has (for example "0 0 30 2 *").
        return f'"{cron}": day-of-month {parts[2]} never occurs in month {parts[3]}'
    return None


def _zone(name: str) -> ZoneInfo:
    if not name:
        raise ConfigError("time zone is empty; use an IANA name such as Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # ValueError: empty, absolute or "../" keys, which zoneinfo refuses before looking.
        raise ConfigError(f"{name}: unknown time zone") from None


@dataclass(frozen=True)
class ScheduleSpec:
    """A validated schedule: a five-field cron expression read in an IANA time zone.

    Construction validates (raising ``ConfigError``), so a ``ScheduleSpec`` that exists is
    always usable; ``parse_schedule`` additionally normalises whitespace.
    """

    cron: str
    timezone: str

    def __post_init__(self) -> None:
        problem = _cron_problem(self.cron)
        if problem is not None:
            raise ConfigError(problem)
        _zone(self.timezone)

    @property
    def zone(self) -> ZoneInfo:
        """The time zone object (zoneinfo caches these, so this is cheap)."""
        return ZoneInfo(self.timezone)


def parse_schedule(cron: str, timezone: str) -> ScheduleSpec:
    """Validate and normalise a channel's ``schedule`` and ``timezone`` config values.

    Raises ``ConfigError`` with a message naming the bad part, for example
    ``"0 25 * * *": hour must be 0-23`` or ``Mars/Olympus: unknown time zone``; the config
    loader prefixes the file and key.
    """
    return ScheduleSpec(" ".join(cron.split()), timezone.strip())


def _runs_after(spec: ScheduleSpec, after: datetime) -> Iterator[datetime]:
    """Yield the run instants (aware UTC) strictly after ``after``, strictly increasing.

    cronsim evaluates fixed-time jobs on the naive local clock, so when ``after`` lies in the
    second pass of a repeated (fall-back) hour it can yield that day's run at its first
    occurrence, which is already before ``after``; such results are dropped here.
    """
    require_aware(after, "after")
    last = after
    for local in CronSim(spec.cron, after.astimezone(spec.zone)):
        run = local.astimezone(UTC)
        if run > last:
            last = run
            yield run
    # cronsim stops after 50 years without a match (for example Feb 29 on a rare weekday).
    raise ConfigError(f'"{spec.cron}": no run within 50 years after {after.isoformat()}')


def next_run(spec: ScheduleSpec, after: datetime) -> datetime:
    """The first run strictly after ``after`` (aware, any zone), as an aware UTC datetime.

    Seconds and microseconds of ``after`` are honoured: a run at exactly ``after`` is not
    returned, one a microsecond later is.
    """
    return next(_runs_after(spec, after))


@dataclass(frozen=True)
class MissedRunPolicy:
    """How ``due_run`` treats scheduled times that passed without a run: after downtime, one
    catch-up run (the latest missed time) if it is recent enough.

    ``catch_up_grace``: how old a missed run may be and still run (a digest from this morning
    is still useful at noon; last week's is not). A run exactly ``catch_up_grace`` old still
    runs. The window is never shorter than ``late_tolerance``.
    ``late_tolerance``: how late a wake-up may be and still count as on time (the loop never
    wakes at the exact microsecond, and a slow publish delays the next check); a later run is
    logged as a catch-up.
    """

    catch_up_grace: timedelta = field(default=timedelta(hours=6))
    late_tolerance: timedelta = field(default=timedelta(minutes=5))

    def __post_init__(self) -> None:
        if self.catch_up_grace < timedelta(0):
            raise ConfigError("catch_up_grace must not be negative")
        if self.late_tolerance < timedelta(0):
            raise ConfigError("late_tolerance must not be negative")

    @property
    def window(self) -> timedelta:
        """How far back from now a scheduled time may lie and still be run now."""
        return max(self.catch_up_grace, self.late_tolerance)


@dataclass(frozen=True)
class DueDecision:
    """What the scheduler should do for one channel at one moment.

    ``run_at``: the scheduled time to run now, or None. It is the run key: record it as the
    channel's ``last_run`` (not the wall-clock time of the run), so the same scheduled time is
    never run twice, even across restarts.
    ``next_wake``: the next scheduled time strictly after now (and after the last run); sleep
    until then, or until the schedule changes.
    ``first_dropped``: the earliest scheduled time since the last run that will never run
    (too old for the policy, or folded into the single catch-up run), for logging; else None.
    """

    run_at: datetime | None
    next_wake: datetime
    first_dropped: datetime | None = None

    @property
    def due(self) -> bool:
        return self.run_at is not None


def due_run(
    spec: ScheduleSpec,
    last_run: datetime | None,
    now: datetime,
    policy: MissedRunPolicy | None = None,
    created: datetime | None = None,
) -> DueDecision:
    """Decide whether a run is due at ``now``, for which scheduled time, and when to wake next.

    The candidate is the latest scheduled time ``t`` with ``baseline < t <= now``, where the
    baseline is ``last_run`` (the run key of the last run), else ``created`` (when the schedule
    was set up or first seen), else ``now`` itself, so a brand-new schedule never fires for the
    past. The candidate runs only if ``t >= now - policy.window``; otherwise nothing runs and
    the loop waits for the next scheduled time. At most one run per decision: after downtime
    with many missed times there is one catch-up run (the latest), never a burst.
    """
    policy = policy or MissedRunPolicy()
    require_aware(now, "now")
    baseline = last_run if last_run is not None else created if created is not None else now
    require_aware(baseline, "last_run" if last_run is not None else "created")

    # Runs must be > baseline and >= now - window. Schedules resolve to whole seconds, so
    # "strictly after (now - window - 1 µs)" includes a run exactly at the window's edge.
    search_after = max(baseline, now - policy.window - _EPSILON)
    run_at: datetime | None = None
    for run in _runs_after(spec, search_after):
        if run > now:
            break
        run_at = run

    first_dropped: datetime | None = None
    if baseline < now:
        first = next_run(spec, baseline)
        if first <= now and first != run_at:
            first_dropped = first
    return DueDecision(
        run_at=run_at,
        next_wake=next_run(spec, max(now, baseline)),
        first_dropped=first_dropped,
    )
