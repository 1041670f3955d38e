"""Which schedule each digest channel follows, changing it from Discord, and describing it.

For every configured digest channel, the schedule set from Discord (a row in the ``schedules``
table) wins over the config file's. A row whose cron is None is an explicit "off":
``/digest schedule clear`` writes it with ``store.set_schedule(channel, None, tz, actor=...)`` so
scheduled posts really stop even when the config file has a schedule. Deleting the row
(``store.clear_schedule``) is a different thing: it returns the channel to the config file's
schedule (``reset_channel_schedule``). ``describe_schedules`` gives the lines of ``newsbot
schedules`` and ``/digest schedule show``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.config import Settings
from bot.errors import ConfigError
from bot.schedule.cron import ScheduleSpec, next_run, parse_schedule
from bot.store import Store, StoredSchedule

__all__ = [
    "ChannelSchedule",
    "ScheduleSource",
    "channel_schedule",
    "clear_channel_schedule",
    "config_specs",
    "describe_schedule",
    "describe_schedules",
    "effective_schedules",
    "reset_channel_schedule",
    "set_channel_schedule",
]


class ScheduleSource(StrEnum):
    """Where a channel's effective schedule comes from."""

    CONFIG = "config"
    """The config file's ``digests[N].schedule``."""
    DATABASE = "database"
    """Set from Discord (``/digest schedule set``); wins over the config file."""
    OFF = "off"
    """Turned off from Discord (``/digest schedule clear``), whatever the config file says."""
    NONE = "none"
    """No schedule anywhere: the channel is posted only on command."""


@dataclass(frozen=True, slots=True)
class ChannelSchedule:
    """The schedule one digest channel follows right now.

    ``spec`` is None when the channel has no schedule (``OFF``, ``NONE``) and when a stored
    schedule no longer validates (``problem`` says why; the channel then runs only on command
    until someone sets it again: guessing a fallback would post at a time nobody chose).
    """

    channel: int
    source: ScheduleSource
    spec: ScheduleSpec | None
    cron: str | None
    timezone: str
    updated_by: str | None = None
    updated_at: datetime | None = None
    problem: str | None = None

    @property
    def version(self) -> tuple[str, str | None, str]:
        """What identifies "the same schedule": a change of any part is a new schedule."""
        return (self.source.value, self.cron, self.timezone)


def config_specs(settings: Settings) -> dict[int, ScheduleSpec]:
    """The config file's schedules by channel. Settings validate every cron expression and
    time zone as they load (``bot.config``), so parsing them again cannot fail here."""
    return {
        digest.channel: parse_schedule(digest.schedule, digest.timezone)
        for digest in settings.digests
        if digest.channel is not None and digest.schedule is not None
    }


def effective_schedules(
    settings: Settings, stored: Sequence[StoredSchedule]
) -> list[ChannelSchedule]:
    """Per configured digest channel (in config order), the schedule it follows.

    A stored row wins over the config file; a stored row with ``cron=None`` means "off". Rows
    for channels that are no longer configured are ignored. Raises ``ConfigError`` for an
    invalid config schedule (see ``bot.config``); an invalid stored row is reported in
    ``ChannelSchedule.problem`` instead, so one bad row cannot stop every channel.
    """
    config = config_specs(settings)
    rows = {row.channel_id: row for row in stored}
    result: list[ChannelSchedule] = []
    for digest in settings.digests:
        channel = digest.channel
        if channel is None:
            continue
        row = rows.get(channel)
        if row is None:
            spec = config.get(channel)
            result.append(
                ChannelSchedule(
                    channel=channel,
                    source=ScheduleSource.CONFIG if spec else ScheduleSource.NONE,
                    spec=spec,
                    cron=spec.cron if spec else None,
                    timezone=spec.timezone if spec else digest.timezone,
                )
            )
            continue
        common: dict[str, Any] = {
            "channel": channel,
            "timezone": row.timezone,
            "updated_by": row.updated_by,
            "updated_at": row.updated_at,
        }
        if row.cron is None:
            result.append(
                ChannelSchedule(source=ScheduleSource.OFF, spec=None, cron=None, **common)
            )
            continue
        try:
            stored_spec: ScheduleSpec | None = parse_schedule(row.cron, row.timezone)
            problem = None
        except ConfigError as exc:
            stored_spec, problem = None, str(exc)
        result.append(
            ChannelSchedule(
                source=ScheduleSource.DATABASE,
                spec=stored_spec,
                cron=stored_spec.cron if stored_spec else row.cron,
                problem=problem,
                **common,
            )
        )
    return result


# --- what the slash commands call ------------------------------------------------------------


async def channel_schedule(settings: Settings, store: Store, channel: int) -> ChannelSchedule:
    """The effective schedule of one configured digest channel (``ConfigError`` if none)."""
    settings.digest_for(channel)  # raises a ConfigError naming the configured channels
    schedules = effective_schedules(settings, await store.schedules())
    return next(s for s in schedules if s.channel == channel)


async def set_channel_schedule(
    settings: Settings,
    store: Store,
    channel: int,
    cron: str,
    timezone: str | None = None,
    *,
    actor: str,
) -> ChannelSchedule:
    """Validate and store a schedule for a digest channel (``/digest schedule set``).

    ``timezone`` defaults to the channel's configured one. Raises ``ConfigError`` with the
    parser's message (``"0 25 * * *": hour must be 0-23``) before anything is written. Call
    ``Scheduler.wake()`` afterwards so a running loop sees it at once.
    """
    digest = settings.digest_for(channel)
    spec = parse_schedule(cron, timezone or digest.timezone)
    await store.set_schedule(channel, spec.cron, spec.timezone, actor=actor)
    return await channel_schedule(settings, store, channel)


async def clear_channel_schedule(
    settings: Settings, store: Store, channel: int, *, actor: str
) -> ChannelSchedule:
    """Turn scheduled posts off for a channel (``/digest schedule clear``), even if the config
    file has a schedule: an explicit "off" row. Call ``Scheduler.wake()`` afterwards."""
    digest = settings.digest_for(channel)
    await store.set_schedule(channel, None, digest.timezone, actor=actor)
    return await channel_schedule(settings, store, channel)


async def reset_channel_schedule(settings: Settings, store: Store, channel: int) -> ChannelSchedule:
    """Forget what was set from Discord: the channel follows the config file again (which
    may have no schedule). Call ``Scheduler.wake()`` afterwards."""
    settings.digest_for(channel)
    await store.clear_schedule(channel)
    return await channel_schedule(settings, store, channel)


# --- display ---------------------------------------------------------------------------------


def _when(run: datetime, spec: ScheduleSpec) -> str:
    """``2026-11-27 09:00 CET (08:00 UTC)``: the channel's wall clock first, then UTC."""
    local = run.astimezone(spec.zone)
    text = f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
    utc = run.astimezone(UTC)
    if local.utcoffset() == timedelta(0) and local.tzname() == "UTC":
        return text
    utc_text = f"{utc:%H:%M}" if utc.date() == local.date() else f"{utc:%Y-%m-%d %H:%M}"
    return f"{text} ({utc_text} UTC)"


def _columns(schedule: ChannelSchedule, now: datetime) -> tuple[str, ...]:
    channel = str(schedule.channel)
    if schedule.source is ScheduleSource.NONE:
        return (channel, "no schedule (only on command)")
    if schedule.source is ScheduleSource.OFF:
        return (channel, "no schedule (only on command)  [off]")
    tag = f"[{schedule.source.value}]"
    if schedule.spec is None:
        return (
            channel,
            schedule.cron or "",
            schedule.timezone,
            f"invalid: {schedule.problem}; only on command until set again",
            tag,
        )
    run = next_run(schedule.spec, now)
    return (
        channel,
        schedule.spec.cron,
        schedule.timezone,
        f"next: {_when(run, schedule.spec)}",
        tag,
    )


def _join(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Two spaces between columns; channel, cron and time zone are padded so that several
    channels line up (a "no schedule" line has two cells: the channel and the rest)."""
    full = [row for row in rows if len(row) > 2]
    widths = [max((len(row[0]) for row in rows), default=0)] + [
        max((len(row[i]) for row in full), default=0) for i in (1, 2)
    ]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(widths[i]) if i < len(widths) and i + 1 < len(row) else cell
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells))
    return lines


def describe_schedule(schedule: ChannelSchedule, now: datetime) -> str:
    """One channel's line, e.g.
    ``456  0 9 * * *  Europe/Berlin  next: 2026-11-27 09:00 CET (08:00 UTC)  [config]``."""
    return _join([_columns(schedule, now)])[0]


async def describe_schedules(settings: Settings, store: Store, now: datetime) -> list[str]:
    """One line per digest channel: id, cron, time zone, next run (local and UTC), source."""
    schedules = effective_schedules(settings, await store.schedules())
    return _join([_columns(s, now) for s in schedules])
