"""The status view shared by ``newsbot status`` and ``/news status``: counts by state, per
digest channel the last digest and the next run, and what failed lately.

The core gathers data; the CLI and the adapter format it (the CLI as text or JSON, the adapter
with channel mentions). Links to a digest's first message are plain ``https://discord.com``
URLs, which both edges can show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.config import DraftReview, Settings
from bot.errors import one_line
from bot.feeds.registry import feed_statuses
from bot.processes import STALE
from bot.schedule.cron import next_run
from bot.schedule.effective import effective_schedules
from bot.store import DigestSummary, DraftRecord, DraftState, ProcessRecord, Status, Store

RECENT_FAILURES = 5
# Drafts are made a channel's draft_lead before their run; a year covers any lead.
DRAFT_HORIZON = timedelta(days=366)
MESSAGE_LINK = "https://discord.com/channels/{guild}/{channel}/{message}"


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """One digest channel: its last digest that posted, and its next scheduled run."""

    channel: int
    last: DigestSummary | None
    next_run: datetime | None
    schedule: str | None  # "cron (time zone)", None without a schedule
    draft: DraftRecord | None = None
    """The next run's draft (``review: draft``) while it waits for a decision or its time."""


@dataclass(frozen=True, slots=True)
class FeedProblem:
    """A feed whose last polls failed (``bot.feeds``): what it said, and since when."""

    feed: str
    error: str
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class StatusReport:
    counts: dict[Status, int]
    review_waiting: int
    """Pending items not posted to the review channel (the deck's work)."""
    channels: tuple[ChannelStatus, ...]
    failures: tuple[DigestSummary, ...]
    trusted_outlets: tuple[str, ...]
    failing_feeds: tuple[FeedProblem, ...] = field(default=())
    guild: int | None = None
    processes: tuple[ProcessRecord, ...] = field(default=())
    """The newsbot processes running on the database (``bot.processes``)."""
    duties: dict[str, str] = field(default_factory=dict)
    """Each duty held, by whom."""

    def link(self, digest: DigestSummary) -> str | None:
        """The link to a digest's first message; None without a known server or message."""
        if self.guild is None or digest.first_message_id is None:
            return None
        return MESSAGE_LINK.format(
            guild=self.guild, channel=digest.channel_id, message=digest.first_message_id
        )


async def gather_status(
    settings: Settings,
    store: Store,
    now: datetime,
) -> StatusReport:
    """Everything the status view shows, read from the store (cheap: per-status counts are
    kept, each digest lookup is by index)."""
    channels = []
    drafted = {d.channel for d in settings.digests if d.review is DraftReview.DRAFT}
    for schedule in effective_schedules(settings, await store.schedules()):
        spec = schedule.spec
        drafts = (
            await store.open_drafts(schedule.channel, now + DRAFT_HORIZON)
            if schedule.channel in drafted
            else []
        )
        channels.append(
            ChannelStatus(
                channel=schedule.channel,
                last=await store.last_digest(schedule.channel),
                next_run=next_run(spec, now) if spec is not None else None,
                schedule=f"{schedule.cron} ({schedule.timezone})" if spec is not None else None,
                draft=drafts[0] if drafts else None,
            )
        )
    return StatusReport(
        counts=await store.count_by_status(),
        review_waiting=await store.count_unreviewed_pending(),
        channels=tuple(channels),
        failures=tuple(await store.failed_digests(RECENT_FAILURES)),
        trusted_outlets=await store.trusted_providers(),
        failing_feeds=tuple(
            FeedProblem(s.feed.url, s.state.last_status, s.state.failing_since)
            for s in await feed_statuses(settings, store)
            if s.state is not None and s.state.failures > 0
        ),
        guild=settings.guild,
        processes=tuple(await store.live_processes(now - STALE)),
        duties=await store.duty_holders(now),
    )


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _digest(report: StatusReport, digest: DigestSummary | None) -> dict[str, Any] | None:
    if digest is None:
        return None
    return {
        "id": digest.id,
        "channel": digest.channel_id,
        "status": digest.status.value,
        "at": _when(digest.created_at),
        "items": digest.items,
        "first_message": digest.first_message_id,
        "link": report.link(digest),
        "error": digest.error,
    }


def _draft(draft: DraftRecord | None) -> dict[str, Any] | None:
    if draft is None:
        return None
    return {
        "id": draft.id,
        "state": draft.state.value,
        "scheduled_for": _when(draft.scheduled_for),
        "items": len(draft.item_ids),
        "kept": len(draft.kept),
        "decided_by": draft.decided_by,
    }


def draft_line(draft: DraftRecord, text: Callable[[str], str] = one_line) -> str:
    """``draft for 2026-12-01 09:00 UTC waiting for review (5 items, 2 dropped)``."""
    dropped = len(draft.item_ids) - len(draft.kept)
    size = f"{len(draft.item_ids)} items" + (f", {dropped} dropped" if dropped else "")
    when = f"draft for {draft.scheduled_for:%Y-%m-%d %H:%M} UTC"
    if draft.state is DraftState.APPROVED:
        by = f" by {text(draft.decided_by)}" if draft.decided_by else ""
        return f"{when} approved{by} ({size})"
    return f"{when} waiting for review ({size})"


def status_json(report: StatusReport) -> dict[str, Any]:
    """``newsbot status --json``: the same facts as the text, as plain JSON values."""
    return {
        "counts": {status.value: count for status, count in report.counts.items()},
        "review_waiting": report.review_waiting,
        "channels": [
            {
                "channel": c.channel,
                "schedule": c.schedule,
                "next_run": _when(c.next_run),
                "last_digest": _digest(report, c.last),
                "draft": _draft(c.draft),
            }
            for c in report.channels
        ],
        "delivery_errors": [_digest(report, d) for d in report.failures],
        "failing_feeds": [
            {"feed": f.feed, "error": f.error, "since": _when(f.since)}
            for f in report.failing_feeds
        ],
        "trusted_outlets": list(report.trusted_outlets),
        "processes": [
            {
                "role": p.role,
                "process": process_name(p.owner),
                "started_at": _when(p.started_at),
                "seen_at": _when(p.seen_at),
                "duties": sorted(name for name, owner in report.duties.items() if owner == p.owner),
            }
            for p in report.processes
        ],
    }


def status_lines(
    report: StatusReport,
    channel_name: Callable[[int], str] = str,
    text: Callable[[str], str] = one_line,
) -> list[str]:
    """The status as text lines; ``channel_name(id)`` names a channel (the CLI prints the id,
    the adapter a mention) and ``text`` makes outside text safe to show (errors, outlet and
    feed names: one printable line for a terminal, escaped Markdown for Discord)."""
    counts = ", ".join(f"{count:,} {status.value}" for status, count in report.counts.items())
    lines = [f"Queue: {counts}", f"Not yet posted for review: {report.review_waiting:,}"]
    if not report.channels:
        lines.append("No digest channels are configured.")
    for c in report.channels:
        name = channel_name(c.channel)
        if c.last is None:
            last = "no digest yet"
        else:
            link = report.link(c.last)
            last = f"last digest {c.last.created_at:%Y-%m-%d %H:%M} UTC, {c.last.items} items" + (
                f" ({link})" if link else f" (message {c.last.first_message_id})"
            )
        upcoming = (
            f"next run {c.next_run:%Y-%m-%d %H:%M} UTC [{text(c.schedule or '')}]"
            if c.next_run is not None
            else "no schedule"
        )
        waiting = f"; {draft_line(c.draft, text)}" if c.draft is not None else ""
        lines.append(f"{name}: {last}; {upcoming}{waiting}")
    if report.failures:
        lines.append("Last delivery errors:")
        lines.extend(
            f"  digest {d.id} to {channel_name(d.channel_id)} at {d.created_at:%Y-%m-%d %H:%M}"
            f" UTC: {text(d.error or 'failed')}"
            for d in report.failures
        )
    else:
        lines.append("No delivery errors.")
    if report.failing_feeds:
        lines.append("Failing feeds:")
        lines.extend(f"  {text(f.feed)}: {text(f.error)}" for f in report.failing_feeds)
    if report.trusted_outlets:
        lines.append("Trusted outlets: " + ", ".join(map(text, report.trusted_outlets)))
    lines.extend(process_lines(report))
    return lines


def process_name(owner: str) -> str:
    """``host:pid`` of a process's owner name (``host:pid:random``)."""
    return owner.rpartition(":")[0] or owner


def process_lines(report: StatusReport) -> list[str]:
    """Which newsbot processes run on the database, and which of them does each duty."""
    if not report.processes:
        return ["No newsbot process is running on this database."]
    lines = [f"Processes ({len(report.processes)}):"]
    for p in report.processes:
        duties = sorted(name for name, owner in report.duties.items() if owner == p.owner)
        doing = f"; does {', '.join(duties)}" if duties else ""
        lines.append(
            f"  {p.role} {process_name(p.owner)} since {p.started_at:%Y-%m-%d %H:%M} UTC{doing}"
        )
    return lines
