"""Announcement crossposts: publishing a digest's parts to the servers that follow the channel.

Discord allows only about 10 crossposts an hour per channel, so a crosspost never stands in a
digest's way: a part is queued for it in the same transaction that records it (``crosspost:
first`` queues the first part, ``all`` every part), and the :class:`Crossposter` works the
queue on its own. A channel Discord answers 429 is left alone until its ``retry_after`` has
passed while the other channels go on (discord.py itself never waits longer than the client's
``max_ratelimit_timeout``); "already crossposted" (40033) is a crosspost made before a crash,
so it counts as done; the queue is in the database, so a restart resumes it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.clock import Clock
from bot.errors import DeliveryError
from bot.store import CrosspostOutcome, Store

log = logging.getLogger(__name__)

ALREADY_CROSSPOSTED = 40033
BATCH = 50
# After a failure that named no wait (a 5xx, a lost connection): try the channel again then.
RETRY = timedelta(seconds=30)
# With nothing waiting, look at the queue again this often (other processes queue too).
POLL = timedelta(minutes=1)


class Crossposts(Protocol):
    async def crosspost(self, channel_id: int, message_id: int) -> None:
        """Publish the message to the channel's followers. Raise ``DeliveryError`` (with
        ``retry_after`` for a 429, ``code`` 40033 if it was published already)."""
        ...


@dataclass(frozen=True, slots=True)
class Round:
    """What one pass over the queue did."""

    done: int = 0
    waiting: int = 0
    next_try: datetime | None = None
    """When a channel that had to wait may be tried again (None: nothing waits)."""


class Crossposter:
    """Works the crosspost queue; one pass with :meth:`run_once` (``newsbot publish``), or for
    as long as the bot runs with :meth:`run`."""

    def __init__(self, store: Store, poster: Crossposts, clock: Clock) -> None:
        self.store = store
        self.poster = poster
        self.clock = clock
        self._not_before: dict[int, datetime] = {}
        self._wake = asyncio.Event()
        self._stopped = False

    def wake(self) -> None:
        """Something was queued: look now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    async def run_once(self) -> Round:
        done = waiting = 0
        for item in await self.store.waiting_crossposts(BATCH):
            now = self.clock.now()
            not_before = self._not_before.get(item.channel_id)
            if not_before is not None and now < not_before:
                waiting += 1
                continue
            outcome = await self._crosspost(item.channel_id, item.message_id, now)
            if outcome is None:
                waiting += 1
                continue
            await self.store.finish_crosspost(item.message_id, outcome, self.clock.now())
            done += 1
        upcoming = [t for t in self._not_before.values() if t > self.clock.now()]
        return Round(done=done, waiting=waiting, next_try=min(upcoming, default=None))

    async def _crosspost(
        self, channel_id: int, message_id: int, now: datetime
    ) -> CrosspostOutcome | None:
        """The outcome, or None when the channel has to wait (it is then set aside)."""
        try:
            await self.poster.crosspost(channel_id, message_id)
        except DeliveryError as exc:
            if exc.code == ALREADY_CROSSPOSTED:
                return CrosspostOutcome.ALREADY
            if exc.status == 429 or not exc.permanent:
                wait = timedelta(seconds=exc.retry_after) if exc.retry_after else RETRY
                self._not_before[channel_id] = now + wait
                log.info("channel %d: crossposts wait %s (%s)", channel_id, wait, exc)
                return None
            log.error(
                "message %d of channel %d: crosspost refused: %s", message_id, channel_id, exc
            )
            return CrosspostOutcome.REFUSED
        return CrosspostOutcome.CROSSPOSTED

    async def run(self) -> None:
        """Work the queue until stopped; one failing pass is logged and the next one follows."""
        while not self._stopped:
            self._wake.clear()
            try:
                result = await self.run_once()
                next_try = result.next_try
            except Exception:
                log.exception("crosspost pass failed; will retry")
                next_try = None
            until = self.clock.now() + POLL
            if next_try is not None:
                until = min(until, next_try)
            sleeping = asyncio.ensure_future(self.clock.sleep_until(until))
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait((sleeping, woken), return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeping.cancel()
                woken.cancel()
