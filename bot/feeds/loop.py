"""The poll loop ``newsbot run`` keeps: each feed on its own interval, spread out.

Feeds never polled are spread over their first interval by a hash of their URL (500 feeds
with a 15-minute interval start about two seconds apart, not all at once) and after that each
feed's next poll is its state's ``next_fetch_at`` (its interval, or its backoff). A feed added
while the bot runs (``wake()``) is polled at once. A failing pass is logged and retried after a
pause; it never ends the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.config import FeedSettings, Settings
from bot.feeds.address import check_for
from bot.feeds.fetch import Fetcher
from bot.feeds.poll import Alerts, FeedPoller, FetchReport
from bot.feeds.registry import all_feeds
from bot.ingest import Clusterer
from bot.store import FeedState, Store

log = logging.getLogger(__name__)


def spread(url: str, interval: timedelta) -> timedelta:
    """A stable offset within ``interval`` for ``url``: where its first poll falls."""
    seconds = max(int(interval.total_seconds()), 1)
    digest = int.from_bytes(hashlib.blake2b(url.encode(), digest_size=8).digest(), "big")
    return timedelta(seconds=digest % seconds)


class FeedLoop:
    """Run with ``await loop.run()`` as a kept task; ``wake()`` re-reads the feeds now;
    ``stop()`` ends it after the current pass."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        *,
        alerts: Alerts | None = None,
        cluster: Clusterer | None = None,
        fetcher: Callable[[], Fetcher] | None = None,
        idle: timedelta = timedelta(minutes=1),
        error_backoff: timedelta = timedelta(minutes=1),
        on_report: Callable[[FetchReport], None] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.alerts = alerts
        self.cluster = cluster
        self._fetcher = fetcher or (lambda: Fetcher(check_for(settings.allow_private_feeds)))
        self._idle = idle
        self._on_report = on_report
        self._error_backoff = error_backoff
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()
        self._stopped = False
        self._first_due: dict[str, datetime] = {}
        self._started: datetime | None = None
        self.passes = 0

    def wake(self) -> None:
        self._settled.clear()
        self._wake.set()

    async def settled(self) -> None:
        """Return once the loop has handled every earlier ``wake()`` and waits again."""
        await self._settled.wait()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def _due_at(self, feed: FeedSettings, state: FeedState | None, now: datetime) -> datetime:
        if state is not None and state.next_fetch_at is not None:
            return state.next_fetch_at
        if feed.url not in self._first_due:
            # Feeds known when the loop starts are spread out; one added later goes now.
            initial = self._started is not None and self.passes == 0
            self._first_due[feed.url] = (
                self._started + spread(feed.url, feed.interval)
                if initial and self._started is not None
                else now
            )
        return self._first_due[feed.url]

    async def run(self) -> None:
        async with self._fetcher() as fetcher:
            poller = FeedPoller(
                self.settings,
                self.store,
                self.clock,
                fetcher,
                alerts=self.alerts,
                cluster=self.cluster,
            )
            self._started = self.clock.now()
            while not self._stopped:
                self._wake.clear()
                try:
                    wake_at = await self._pass(poller)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("feed polling pass failed; trying again later")
                    wake_at = self.clock.now() + self._error_backoff
                self.passes += 1
                if not self._wake.is_set():
                    self._settled.set()
                await self._sleep(wake_at)

    async def _pass(self, poller: FeedPoller) -> datetime:
        now = self.clock.now()
        feeds = await all_feeds(self.settings, self.store)
        states = await self.store.feed_states()
        due_at = {f.url: self._due_at(f, states.get(f.url), now) for f in feeds}
        due = [f for f in feeds if due_at[f.url] <= now]
        if due:
            report = await poller.poll_all(due)
            if self._on_report is not None:
                self._on_report(report)
            for line in report.problems:
                log.info("feeds: %s", line)
            log.info("feeds: %s", report.summary)
            states = await self.store.feed_states()
            now = self.clock.now()
            due_at = {f.url: self._due_at(f, states.get(f.url), now) for f in feeds}
        return min([*due_at.values(), now + self._idle])

    async def _sleep(self, until: datetime) -> None:
        if self._wake.is_set() or self._stopped:
            return
        sleeper = asyncio.ensure_future(self.clock.sleep_until(until))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()
            for task in (sleeper, waker):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
