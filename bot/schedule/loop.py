"""The scheduler loop: runs every digest channel's schedule through the Publisher.

Each pass asks ``due_run`` (``bot.schedule.cron``) per channel, claims a due run in the store
under its key (channel, scheduled time) so no scheduled time is ever posted twice, also across
restarts and concurrent processes, publishes through the same ``Publisher.publish`` as
``/digest publish``, records the outcome, then sleeps until the next run or until ``wake()`` (a
schedule changed). A failing pass or channel is logged and retried later; it never ends the
loop (discord.py issues #2151, #10450 are about loops that do).

``newsbot run`` starts a Scheduler only while it holds the database's ``SchedulerLock``
(``open_app(..., schedules=True)``). So at its start, a claimed run with no digest was
interrupted (the publish links its digest as it writes it), and it is made then while the
missed-run policy allows. Workers (``newsbot worker``) each run one on a shared database,
bounded by ``slots``: the claim decides who makes a run, and records who claimed it
(``owner``). A worker takes a run for interrupted only once the process that claimed it is
no longer alive (``live``), and looks for such runs every ``poll``, so a worker killed
between its claim and its digest has the run made by another, and none of the runs a live
worker is making is recorded as interrupted or made twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from bot.clock import Clock
from bot.config import DraftReview, Settings, Unreviewed
from bot.draft import Drafts
from bot.places import Places
from bot.publish import PublishResult, PublishStatus, describe_result
from bot.schedule.cron import MissedRunPolicy, due_run
from bot.schedule.effective import (
    ChannelSchedule,
    ScheduleSource,
    describe_schedule,
    effective_schedules,
)
from bot.store import DraftRecord, DraftState, RunOutcome, Store, Trigger

__all__ = ["DigestPublisher", "Scheduler"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class DigestPublisher(Protocol):
    """What the scheduler needs of ``bot.publish.Publisher``."""

    async def publish(
        self,
        channel: int,
        *,
        trigger: Trigger,
        scheduled_for: datetime | None = None,
        only: tuple[int, ...] | None = None,
    ) -> PublishResult: ...


@dataclass(slots=True)
class _Retry:
    """A claimed run whose publish failed in a way worth trying again."""

    run_at: datetime
    attempt: int  # retries already made
    at: datetime  # when to make the next one


@dataclass(slots=True)
class _Seen:
    version: tuple[str, str | None, str]
    since: datetime | None  # when this schedule took effect, if known
    reported_drop: datetime | None = field(default=None)


class Scheduler:
    """Runs every digest channel's schedule until ``stop()``.

    ``run()`` is the loop; start it as a task and keep the task, and only while holding the
    database's ``SchedulerLock`` (``App.runs_schedules``). ``wake()`` makes it re-read the
    schedules at once (call it after ``/digest schedule set`` or ``clear``); ``stop()`` ends it
    after the current pass. A run is still claimed in the store before it is published, and its
    digest linked to it as it is written.

    ``retry_delays``: after a publish that raised or that Discord left for later
    (``retry_later``), the same scheduled run is published again after each of these delays,
    never once the channel's next scheduled run has come (that publish resumes the digest).
    ``error_backoff``: the wait after a failing pass, doubling while it keeps failing, up to
    ``max_error_backoff``. ``poll``: look again at least this often (a worker, whose
    schedules and drafts change in another process that cannot wake it).

    Several workers may run schedulers on one database: each run is made by whichever claims
    it first (the claim is a unique key). ``slots`` bounds the runs this one makes at once,
    so that the runs due together spread over the workers rather than all going to the
    quickest claimer. ``owner`` names this process in its claims; ``live()`` gives the owners
    of the processes alive on the database, so that a run claimed by one of them is left to it.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        publisher: DigestPublisher,
        policy: MissedRunPolicy | None = None,
        *,
        retry_delays: Sequence[timedelta] = (
            timedelta(minutes=1),
            timedelta(minutes=5),
            timedelta(minutes=15),
        ),
        error_backoff: timedelta = timedelta(seconds=30),
        max_error_backoff: timedelta = timedelta(minutes=10),
        drafts: Drafts | None = None,
        poll: timedelta | None = None,
        slots: Places | None = None,
        owner: str | None = None,
        live: Callable[[], Awaitable[Set[str]]] | None = None,
    ) -> None:
        self._settings = settings
        self._poll = poll
        self._slots = slots
        self._owner = owner
        self._live = live
        self._store = store
        self._clock = clock
        self._publisher = publisher
        self._drafts = drafts
        self._policy = policy or MissedRunPolicy(catch_up_grace=settings.catch_up_grace)
        self._retry_delays = tuple(retry_delays)
        self._error_backoff = error_backoff
        self._max_error_backoff = max_error_backoff
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._stopping = False
        self._running = False
        self._started_at: datetime | None = None
        self._orphans_checked: datetime | None = None
        self._seen: dict[int, _Seen] = {}
        self._retries: dict[int, _Retry] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def wake(self) -> None:
        """Re-read the schedules now instead of at the next planned wake-up."""
        self._idle.clear()
        self._wake.set()

    def stop(self) -> None:
        """End ``run()`` after the current pass (a publish in progress is finished)."""
        self._stopping = True
        self.wake()

    async def wait_idle(self) -> None:
        """Return once the loop has handled every earlier ``wake()`` and is waiting again (or
        has ended). For tests and health checks; the loop does not depend on it."""
        await self._idle.wait()

    async def run(self) -> None:
        """Run the schedules until ``stop()`` (or cancellation). Never ends on an error."""
        if self._running:
            raise RuntimeError("this Scheduler is already running")
        self._running = True
        self._stopping = False
        self._orphans_checked = None  # another process may have run the schedules meanwhile
        self._started_at = self._clock.now()
        log.info("scheduler started (missed runs: %s)", self._describe_policy())
        failures = 0
        try:
            while not self._stopping:
                self._wake.clear()
                self._idle.clear()
                try:
                    wake_at = await self._pass()
                    failures = 0
                except Exception:
                    failures += 1
                    delay = min(
                        self._error_backoff * 2 ** min(failures - 1, 16), self._max_error_backoff
                    )
                    log.exception(
                        "schedule check failed (%d in a row); trying again in %s", failures, delay
                    )
                    wake_at = self._clock.now() + delay
                if self._stopping:
                    break
                if self._poll is not None:
                    # Schedules and drafts changed by another process (a gateway's slash
                    # commands and buttons) are seen within ``poll``.
                    polled = self._clock.now() + self._poll
                    wake_at = polled if wake_at is None else min(wake_at, polled)
                await self._sleep(wake_at)
        finally:
            self._running = False
            await self._cancel(set(self._tasks))
            self._idle.set()
            log.info("scheduler stopped")

    def _describe_policy(self) -> str:
        return f"catch-up window {self._policy.window}"

    async def _resume_orphans(self, schedules: Sequence[ChannelSchedule], now: datetime) -> None:
        """Runs claimed by a process that stopped before it wrote their digest (nothing was
        posted for them) are recorded as ``interrupted`` and made now, like a retry, when the
        channel still has a schedule and the missed-run policy still allows it; the others are
        recorded as ``missed``. Recorded either way, so no later start finds them again.

        A run claimed by another live process is that process's work in progress. This
        scheduler's own runs are never in progress here: a pass waits for all it started."""
        scheduled = {s.channel for s in schedules if s.spec is not None}
        runs = await self._store.orphaned_runs()
        live = await self._live() if self._live is not None and runs else frozenset()
        for run in runs:
            channel, run_at, claimer = run.channel_id, run.scheduled_for, run.claimed_by
            if claimer is not None and claimer != self._owner and claimer in live:
                continue
            if channel in scheduled and now - run_at <= self._policy.window:
                log.warning(
                    "channel %d: the run for %s was interrupted before its digest was written;"
                    " making it now (%s)",
                    channel,
                    run_at.isoformat(),
                    f"its claimer {claimer} is gone" if claimer else "claimed before a restart",
                )
                await self._store.finish_scheduled_run(
                    channel, run_at, RunOutcome.INTERRUPTED, None
                )
                self._retries[channel] = _Retry(run_at=run_at, attempt=0, at=now)
                continue
            log.warning(
                "channel %d: the run for %s was interrupted before its digest was written and"
                " is not made now (%s); its items go out with the next digest",
                channel,
                run_at.isoformat(),
                "the channel has no schedule any more"
                if channel not in scheduled
                else f"too old: {self._describe_policy()}",
            )
            await self._store.finish_scheduled_run(channel, run_at, RunOutcome.MISSED, None)
        self._orphans_checked = now

    # --- one pass ------------------------------------------------------------------------------
    async def _pass(self) -> datetime | None:
        """Start every due run, wait for them, and return when to look again (None: only when
        woken)."""
        clock = self._clock
        now = clock.now()
        schedules = effective_schedules(self._settings, await self._store.schedules())
        checked = self._orphans_checked
        if checked is None or (self._poll is not None and now - checked >= self._poll):
            await self._resume_orphans(schedules, now)
        wakes: list[datetime] = []
        # Each due channel publishes in its own task, started at once: channels publish
        # concurrently (the Publisher locks per channel), so a slow one makes no other late.
        jobs: list[asyncio.Task[datetime | None]] = []
        if self._slots is not None:
            # Workers sharing the runs each try them in their own order: fewer lost claims.
            schedules = random.sample(schedules, len(schedules))
        for schedule in schedules:
            try:
                job, wake_at = await self._plan(schedule, now)
            except Exception:
                # One channel's trouble (say, a stored row that no longer makes sense) must
                # not stop the others; look at it again after a pause.
                log.exception("channel %d: cannot work out its schedule", schedule.channel)
                job, wake_at = None, now + self._error_backoff
            if job is not None:
                jobs.append(self._spawn(job))
            if wake_at is not None:
                wakes.append(wake_at)
        for outcome in await asyncio.gather(*jobs, return_exceptions=True):
            if isinstance(outcome, datetime):
                wakes.append(outcome)
            elif isinstance(outcome, BaseException):
                log.error("a scheduled run failed unexpectedly", exc_info=outcome)
                wakes.append(clock.now() + self._error_backoff)
        wakes.extend(retry.at for retry in self._retries.values())
        return min(wakes, default=None)

    def _since(self, schedule: ChannelSchedule, now: datetime) -> datetime | None:
        """When the channel's current schedule took effect, as far as can be told.

        Runs of a schedule from before it took effect are never run. A stored schedule carries
        its ``updated_at``; it is capped by the moment this process first saw it, since the row
        may come from another process (slash commands work there too), whose clock is not
        this loop's. A config
        schedule seen at start has no known beginning (None: the last run, else the start of
        this process, decides); a schedule that changes while the loop runs begins when the
        loop sees the change.
        """
        seen = self._seen.get(schedule.channel)
        if seen is not None and seen.version == schedule.version:
            return seen.since
        observed = (self._started_at or now) if seen is None else now
        since: datetime | None
        if schedule.source is not ScheduleSource.CONFIG and schedule.updated_at is not None:
            since = min(schedule.updated_at, observed)
        else:
            since = None if seen is None else observed
        if seen is not None:
            log.info(
                "channel %d: schedule changed: %s",
                schedule.channel,
                describe_schedule(schedule, now),
            )
        if schedule.problem is not None:
            log.error(
                "channel %d: the stored schedule %r (%s) is invalid: %s; the channel is posted"
                " only on command until /digest schedule set fixes it",
                schedule.channel,
                schedule.cron,
                schedule.timezone,
                schedule.problem,
            )
        self._seen[schedule.channel] = _Seen(schedule.version, since)
        return since

    async def _plan(
        self, schedule: ChannelSchedule, now: datetime
    ) -> tuple[Coroutine[Any, Any, datetime | None] | None, datetime | None]:
        """For one channel: the job to start now (if any) and when to look again."""
        channel = schedule.channel
        since = self._since(schedule, now)
        spec = schedule.spec
        if spec is None:
            if self._retries.pop(channel, None) is not None:
                log.info("channel %d: schedule turned off; pending retry dropped", channel)
            return None, None
        last = await self._store.last_scheduled_run(channel)
        started = self._started_at or now
        if since is None:
            last_run, created = last, started
        elif last is not None and last >= since:
            last_run, created = last, since
        else:  # never run since this schedule took effect
            last_run, created = None, since
        decision = due_run(spec, last_run=last_run, now=now, policy=self._policy, created=created)
        seen = self._seen[channel]
        if decision.first_dropped is not None and seen.reported_drop != decision.first_dropped:
            seen.reported_drop = decision.first_dropped
            log.warning(
                "channel %d: scheduled runs from %s on were missed; %s (%s)",
                channel,
                decision.first_dropped.isoformat(),
                f"running only the latest, {decision.run_at.isoformat()}, now"
                if decision.run_at
                else "none of them is run, they are too old",
                self._describe_policy(),
            )
        retry = self._retries.get(channel)
        if decision.run_at is None and self._reviewed(channel):
            # A run held for its draft's approval, made by an earlier process: its time is
            # before this process started, so due_run no longer offers it.
            for held in await self._store.open_drafts(channel, now):
                if last is None or held.scheduled_for > last:
                    draft_at = decision.next_wake - self._settings.digest_for(channel).draft_lead
                    return self._run_reviewed(channel, held.scheduled_for, now), draft_at
        if decision.run_at is not None:
            if retry is not None:
                del self._retries[channel]
                log.info(
                    "channel %d: the run for %s will not be retried; the run for %s takes over",
                    channel,
                    retry.run_at.isoformat(),
                    decision.run_at.isoformat(),
                )
            if self._reviewed(channel):
                draft_at = decision.next_wake - self._settings.digest_for(channel).draft_lead
                return self._run_reviewed(channel, decision.run_at, now), draft_at
            return self._run(channel, decision.run_at, now), decision.next_wake
        if retry is not None and retry.at <= now:
            return self._publish(channel, retry.run_at, retry.attempt), decision.next_wake
        if self._reviewed(channel):
            draft_at = decision.next_wake - self._settings.digest_for(channel).draft_lead
            if draft_at <= now:
                return self._prepare(channel, decision.next_wake), decision.next_wake
            return None, draft_at
        return None, decision.next_wake

    def _reviewed(self, channel: int) -> bool:
        return (
            self._drafts is not None
            and self._settings.digest_for(channel).review is DraftReview.DRAFT
        )

    async def _prepare(self, channel: int, run_at: datetime) -> datetime | None:
        """Make and show the draft of the channel's next run (once; later passes find it)."""
        assert self._drafts is not None
        try:
            await self._drafts.prepare(channel, run_at)
        except Exception:
            log.exception("channel %d: could not prepare the draft for %s", channel, run_at)
            return self._clock.now() + self._error_backoff
        return None

    async def _run_reviewed(self, channel: int, run_at: datetime, now: datetime) -> datetime | None:
        """A due run of a channel whose digests moderators approve: post what the draft says,
        skip it, or hold it (not claimed, so it stays due) until a decision or the end of the
        catch-up window."""
        assert self._drafts is not None
        try:
            draft = await self._drafts.prepare(channel, run_at)  # late start: show it now
        except Exception:
            log.exception("channel %d: could not read the draft for %s", channel, run_at)
            return self._clock.now() + self._error_backoff
        digest = self._settings.digest_for(channel)
        waiting = draft.state is DraftState.WAITING
        expires = run_at + self._policy.window
        held = waiting and digest.unreviewed is Unreviewed.HOLD
        if held or (draft.state in (DraftState.WAITING, DraftState.APPROVED) and now >= expires):
            if now < expires:
                log.info(
                    "channel %d: the run for %s waits for its draft to be approved",
                    channel,
                    run_at.isoformat(),
                )
                return expires
            await self._drafts.settle(draft, DraftState.EXPIRED)
            log.warning(
                "channel %d: the draft for %s was not approved in time; nothing posted",
                channel,
                run_at.isoformat(),
            )
            if await self._store.claim_scheduled_run(channel, run_at, self._owner):
                await self._store.finish_scheduled_run(channel, run_at, RunOutcome.SKIPPED, None)
            return None
        if draft.state in (DraftState.SKIPPED, DraftState.EXPIRED):
            if await self._store.claim_scheduled_run(channel, run_at, self._owner):
                log.info("channel %d: the run for %s was skipped", channel, run_at.isoformat())
                await self._store.finish_scheduled_run(channel, run_at, RunOutcome.SKIPPED, None)
            return None
        return await self._run(channel, run_at, now)

    # --- jobs: each catches its own errors; the result is an extra wake-up time -------------
    async def _run(self, channel: int, run_at: datetime, now: datetime) -> datetime | None:
        async with self._slots or contextlib.nullcontext():
            return await self._claim_and_publish(channel, run_at, now)

    async def _claim_and_publish(
        self, channel: int, run_at: datetime, now: datetime
    ) -> datetime | None:
        try:
            claimed = await self._store.claim_scheduled_run(channel, run_at, self._owner)
        except Exception:
            log.exception(
                "channel %d: could not claim the run for %s; trying again in %s",
                channel,
                run_at.isoformat(),
                self._error_backoff,
            )
            return self._clock.now() + self._error_backoff
        if not claimed:
            log.info(
                "channel %d: the run for %s was already made (another process, or before a"
                " restart); not posting it again",
                channel,
                run_at.isoformat(),
            )
            return None
        late = now - run_at
        if late > self._policy.late_tolerance:
            log.info(
                "channel %d: catching up the run for %s (%s late)",
                channel,
                run_at.isoformat(),
                late,
            )
        return await self._publish(channel, run_at, 0)

    async def _publish(self, channel: int, run_at: datetime, attempt: int) -> datetime | None:
        """Publish the channel's digest for the claimed run ``run_at`` and record how it went."""
        result: PublishResult | None = None
        outcome: RunOutcome
        draft: DraftRecord | None = None
        try:
            if self._reviewed(channel):
                draft = await self._store.draft_for(channel, run_at)
            result = await self._publisher.publish(
                channel,
                trigger=Trigger.SCHEDULE,
                scheduled_for=run_at,
                only=draft.kept if draft is not None else None,
            )
        except Exception:
            log.exception(
                "channel %d: the scheduled digest for %s failed", channel, run_at.isoformat()
            )
        if result is None:
            outcome, digest_id, again = RunOutcome.ERROR, None, True
        else:
            outcome = RunOutcome(result.status)
            digest_id = result.digest_id
            again = result.status in (PublishStatus.RETRY_LATER, PublishStatus.BUSY)
            self._log_result(channel, run_at, result)
        try:
            await self._store.finish_scheduled_run(channel, run_at, outcome, digest_id)
        except Exception:
            # The run stays claimed ("running"): with its digest linked, it is not made again;
            # without one (nothing was posted), the next start makes it (_resume_orphans).
            log.exception(
                "channel %d: could not record outcome %s of the run for %s",
                channel,
                outcome,
                run_at.isoformat(),
            )
        if draft is not None and result is not None and not again and self._drafts is not None:
            await self._drafts.settle(draft, DraftState.POSTED)
        if not again:
            self._retries.pop(channel, None)
            return None
        if attempt >= len(self._retry_delays):
            self._retries.pop(channel, None)
            log.error(
                "channel %d: giving up on the scheduled digest for %s after %d retries; its"
                " items stay approved and go out with the next digest",
                channel,
                run_at.isoformat(),
                attempt,
            )
            return None
        at = self._clock.now() + self._retry_delays[attempt]
        self._retries[channel] = _Retry(run_at=run_at, attempt=attempt + 1, at=at)
        log.info(
            "channel %d: retrying the scheduled digest for %s at %s",
            channel,
            run_at.isoformat(),
            at.isoformat(),
        )
        return at

    def _log_result(self, channel: int, run_at: datetime, result: PublishResult) -> None:
        if result.status is PublishStatus.NOTHING:
            log.info(
                "channel %d: scheduled digest for %s is empty; nothing posted",
                channel,
                run_at.isoformat(),
            )
        elif result.status is PublishStatus.POSTED:
            log.info(
                "channel %d: scheduled digest for %s: %s",
                channel,
                run_at.isoformat(),
                describe_result(result, f"channel {channel}"),
            )
        else:
            log.warning(
                "channel %d: scheduled digest for %s: %s",
                channel,
                run_at.isoformat(),
                describe_result(result, f"channel {channel}"),
            )

    # --- tasks and sleeping -------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _sleep(self, until: datetime | None) -> None:
        """Wait until ``until`` (through the clock) or ``wake()``, whichever comes first; the
        other wait is cancelled and awaited, so nothing is left running."""
        waits: set[asyncio.Task[Any]] = {self._spawn(self._wake.wait())}
        if until is not None:
            waits.add(self._spawn(self._clock.sleep_until(until)))
        if not self._wake.is_set():  # else a wake() came during the pass: not idle yet
            self._idle.set()
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._idle.clear()
            await self._cancel(waits)

    @staticmethod
    async def _cancel(tasks: set[asyncio.Task[Any]]) -> None:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
