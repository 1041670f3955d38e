"""Scheduling in one place: cron + time zone -> run times (``cron``), which schedule each
channel follows (``effective``), the loop that runs them (``loop``) and the one-scheduler-per-
database lock (``lock``).

Only the pure cron API is exported here, so that ``bot.config`` can validate schedules as it
loads (``from bot.schedule import parse_schedule``) without importing the store or the loop.
"""

from bot.schedule.cron import (
    DueDecision,
    MissedRunPolicy,
    ScheduleSpec,
    due_run,
    next_run,
    parse_schedule,
)

__all__ = [
    "DueDecision",
    "MissedRunPolicy",
    "ScheduleSpec",
    "due_run",
    "next_run",
    "parse_schedule",
]
