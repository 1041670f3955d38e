"""Many newsbot processes on one database: who is alive, their share of Discord's global
limit, and the duties one of them does at a time.

Discord counts the global limit (50 requests a second) per bot, not per process, so processes
that each kept to 50 would together be refused. Every process heartbeats a row in the store;
the live ones split the limit evenly (:func:`share_of`, one place kept back). A process that
starts beside others sends nothing until every other process has slowed down for it (each
says, with its heartbeat, how many processes it paces for) and a request's place has come back
since, then takes its share; several starting at once would each overrun a place kept for
one. A process that finds itself alone takes the whole share at once.

A duty (posting review items, polling the feeds, the edits outbox, crossposts) is work that
two processes must not do at once. :class:`Duty` claims it in the store, renews it while the
work runs, and stops the work if another process took it over; a process that ends releases
it, and one killed on this machine is taken over at once (``bot.leases.holder_is_gone``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.clock import Clock, SystemClock
from bot.leases import holder_is_gone
from bot.store import ProcessRecord, Store

log = logging.getLogger(__name__)

GLOBAL_LIMIT = 50
"""Discord's requests a second for one bot, interactions and webhooks aside."""
HEARTBEAT = timedelta(seconds=2)
STALE = HEARTBEAT * 5
"""A process not heard from for this long no longer counts (it died, or hangs). A process of
this machine that died stops counting at once; one that was this late itself starts again
from nothing (see ``Membership.step``)."""
DUTY_TTL = timedelta(seconds=30)


class Role(StrEnum):
    """What a long-running process does (``newsbot run``, ``gateway``, ``worker``)."""

    RUN = "run"
    """Everything in one process: the gateway, and the work while it holds the database's
    scheduler lock."""
    GATEWAY = "gateway"
    """Slash commands and buttons only; the workers do the rest."""
    WORKER = "worker"
    """No gateway: schedules, publishing, review posts, feeds, edits and crossposts."""


async def live_owners(store: Store, clock: Clock | None = None) -> set[str]:
    """The processes alive on the database now, by owner: heard from within ``STALE`` (on the
    wall clock, as heartbeats are written) and, when of this machine, still running."""
    now = (clock or SystemClock()).now()
    return {r.owner for r in await store.live_processes(now - STALE) if not holder_is_gone(r.owner)}


def share_of(processes: int, limit: int = GLOBAL_LIMIT) -> int:
    """Requests a second for each of ``processes``, one place kept spare."""
    return max(1, (limit - 1) // max(1, processes))


class Membership:
    """This process's row among the database's processes, and its share of the limit.

    ``on_share`` is called with the requests a second this process may make, whenever that
    changes (first with 0 until the others made room, or the whole share when no other
    process is alive). It runs on
    the wall clock (``clock``, the system's by default): the limit is Discord's, in real
    seconds, whatever clock the schedules run on.
    """

    def __init__(
        self,
        store: Store,
        owner: str,
        role: str,
        on_share: Callable[[int], None],
        *,
        clock: Clock | None = None,
        heartbeat: timedelta = HEARTBEAT,
        on_alive: Callable[[int], None] | None = None,
    ) -> None:
        self.on_alive = on_alive
        self.store = store
        self.owner = owner
        self.role = role
        self.on_share = on_share
        self.clock = clock or SystemClock()
        self.heartbeat = heartbeat
        self.share: int | None = None
        self.alive = 0
        self.paced_for = 0
        """How many processes this one's share assumes at most (see ``run``)."""
        self._ready = False
        self._last_beat: datetime | None = None

    async def join(self) -> None:
        """The first heartbeat: the share to start with (see the module docstring)."""
        live = await self._beat()
        self.paced_for = len(live)
        self._set(share_of(len(live)) if len(live) == 1 else 0)

    async def run(self) -> None:
        """Heartbeat until cancelled; a database error is logged and the share kept.

        A smaller share applies at once. A larger one (this process has just joined, or
        another left) waits until every other live process says it paces for as many
        processes as there are now (``paced_for``, written with its heartbeat), and for one
        more heartbeat after that: the places the others had beyond their new share, and
        what a process that left sent in its last second, still count at Discord for a
        second. Nothing here compares clocks of different machines."""
        while True:
            await asyncio.sleep(self.heartbeat.total_seconds())
            try:
                await self.step()
            except Exception:
                log.exception("could not heartbeat the database; keeping this process's share")

    async def step(self) -> None:
        """One heartbeat and what follows from it (see :meth:`run`)."""
        before = self._last_beat
        live = await self._beat()
        waited = self.clock.now() - before if before is not None else timedelta(0)
        if waited >= STALE - self.heartbeat:
            # This process was starved so long that the others may have counted it gone and
            # grown into its share: nothing more until it has rejoined, as a newcomer does.
            log.warning("no heartbeat for %s; this process waits to rejoin", waited)
            self._set(0)
        count = len(live)
        share = share_of(count)
        # Whatever is decided, this process's share is now one for ``count`` or less.
        self.paced_for = count
        if self.share is None or share <= self.share:
            self._ready = False
            self._set(share)
            return
        adapted = all(r.paced_for >= count for r in live if r.owner != self.owner)
        if adapted and self._ready:
            self._set(share)
        self._ready = adapted

    async def leave(self) -> None:
        with contextlib.suppress(Exception):  # ending anyway; the row goes stale by itself
            await self.store.leave(self.owner)

    async def _beat(self) -> list[ProcessRecord]:
        now = self._last_beat = self.clock.now()
        rows = await self.store.heartbeat(
            self.owner, self.role, now, now - STALE, paced_for=self.paced_for
        )
        # A process of this machine that was killed counts no more, without waiting.
        live = [row for row in rows if not holder_is_gone(row.owner)]
        self.alive = len(live)
        if self.on_alive is not None:
            self.on_alive(self.alive)
        return live

    def _set(self, share: int) -> None:
        if share != self.share:
            log.info(
                "%d newsbot process(es) share the database: this one makes up to %d Discord"
                " requests a second",
                self.alive,
                share,
            )
            self.share = share
            self.on_share(share)


class Duty:
    """Runs ``work`` while this process holds the duty ``name``, and only then.

    ``run()`` loops until cancelled: claim the duty (taking it over from a holder gone from
    this machine; tried every ``retry`` while another holds it), start ``work()`` and renew
    the claim every third of ``ttl``; when a renewal
    fails (another process took it after this one stalled) the work is cancelled and the
    claim tried again later. ``work`` is started again if it ends or fails.
    """

    def __init__(
        self,
        name: str,
        store: Store,
        owner: str,
        work: Callable[[], Coroutine[Any, Any, None]],
        *,
        clock: Clock | None = None,
        ttl: timedelta = DUTY_TTL,
        retry: timedelta = HEARTBEAT,
    ) -> None:
        self.name = name
        self.retry = min(retry, ttl / 3)
        self.store = store
        self.owner = owner
        self.work = work
        self.clock = clock or SystemClock()
        self.ttl = ttl
        self.held = False

    async def _claim(self) -> bool:
        now = self.clock.now()
        until = now + self.ttl
        if await self.store.claim_duty(self.name, self.owner, now, until):
            return True
        holder = await self.store.duty_holder(self.name, now)
        if holder is not None and holder_is_gone(holder):
            log.info("%s: its holder %s is gone; taking over", self.name, holder)
            return await self.store.claim_duty(self.name, self.owner, now, until, from_owner=holder)
        return False

    async def run(self) -> None:
        pause = self.ttl.total_seconds() / 3
        try:
            while True:
                try:
                    self.held = await self._claim()
                except Exception:
                    log.exception("%s: could not claim it; trying again", self.name)
                    self.held = False
                if self.held:
                    log.info("%s: this process does it now", self.name)
                    await self._hold(pause)
                # Soon again: a holder that ended or died here is replaced within ``retry``.
                await asyncio.sleep(self.retry.total_seconds())
        finally:
            if self.held:
                self.held = False
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.store.release_duty(self.name, self.owner))

    async def _hold(self, pause: float) -> None:
        """Run the work while the claim renews; return once it is lost."""
        task = asyncio.create_task(self.work(), name=self.name)
        renewed_at = self.clock.now()
        try:
            while True:
                await asyncio.wait({task}, timeout=pause)
                if task.done():
                    if not task.cancelled() and task.exception() is not None:
                        log.error(
                            "%s failed; starting it again", self.name, exc_info=task.exception()
                        )
                    task = asyncio.create_task(self.work(), name=self.name)
                try:
                    renewed = await self._claim()
                except Exception:
                    # Kept while the claim surely holds; past that, another may have it.
                    if self.clock.now() - renewed_at < self.ttl * 2 / 3:
                        log.exception("%s: could not renew it; trying again", self.name)
                        continue
                    log.exception("%s: could not renew it in time; stopping here", self.name)
                    renewed = False
                if renewed:
                    renewed_at = self.clock.now()
                else:
                    log.warning("%s: another process has it now; stopping here", self.name)
                    self.held = False
                    return
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
