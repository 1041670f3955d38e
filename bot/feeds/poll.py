"""Polling feeds: fetch, parse, turn entries into articles, store them through
``bot.ingest.store_articles`` (the one path into the queue, so feeds follow the same rules as
files), and keep each feed's state: validators for the next conditional GET, the body's hash,
consecutive failures with backoff, and the failing-feed report.

A feed that failed ``FAILING_AFTER`` times in a row is reported once (through ``alerts``, which
the Discord adapter posts to the review channel) and once more when it recovers; it is never
dropped, only tried less often.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from bot.clock import Clock
from bot.config import FeedSettings, Settings
from bot.errors import FeedError
from bot.feeds.address import check_for
from bot.feeds.entries import articles_of, with_known_identity
from bot.feeds.fetch import Fetcher, FetchFailed
from bot.feeds.parse import NotAFeed, parse_feed
from bot.feeds.registry import all_feeds, feed_url
from bot.ingest import Clusterer, IngestReport, store_articles
from bot.store import FeedState, Store

log = logging.getLogger(__name__)

FAILING_AFTER: Final = 3
MAX_BACKOFF: Final = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class FeedAlert:
    """A feed started failing (``failing``) or recovered; the adapter words and posts it."""

    url: str
    failing: bool
    problem: str
    hint: str
    failures: int
    since: datetime | None
    next_try: datetime | None


Alerts = Callable[[FeedAlert], Awaitable[bool]]
"""Post an alert; True once it was posted."""


@dataclass(slots=True)
class FeedResult:
    url: str
    new: int = 0
    updated: int = 0
    clustered: int = 0
    unchanged: int = 0
    problem: str | None = None
    """Why the feed failed this time; None when it did not."""
    entry_problems: list[str] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class FetchReport:
    """What ``newsbot fetch`` did, over every feed it polled."""

    results: list[FeedResult] = field(default_factory=list)

    def _sum(self, name: str) -> int:
        return sum(getattr(r, name) for r in self.results)

    @property
    def failed(self) -> list[FeedResult]:
        return [r for r in self.results if r.problem is not None]

    @property
    def summary(self) -> str:
        """``N feeds: N new, N updated, N clustered, N unchanged, N failed``: articles, except
        the last, which counts feeds."""
        return (
            f"{len(self.results)} feeds: {self._sum('new')} new, {self._sum('updated')} updated,"
            f" {self._sum('clustered')} clustered, {self._sum('unchanged')} unchanged,"
            f" {len(self.failed)} failed"
        )

    @property
    def problems(self) -> list[str]:
        """``URL: problem`` per failed feed, then ``URL: entry N: problem`` per bad entry."""
        return [f"{r.url}: {r.problem}" for r in self.failed] + [
            line for r in self.results for line in r.entry_problems
        ]


def hint_for(error: FetchFailed | NotAFeed) -> str:
    """What an operator can do about a failing feed."""
    if isinstance(error, NotAFeed):
        return (
            "the address serves something that is not a feed (a web page?): use the address"
            " of the RSS, Atom or JSON feed itself (often linked as 'RSS' on the site)"
        )
    status = error.status
    if status in (404, 410):
        return (
            "the feed is gone from this address: find its new address on the site, then"
            " /feed remove this one and /feed add the new one (or edit feeds: in the config)"
        )
    if status in (401, 403):
        return "the site refuses newsbot (login or bot blocking): ask the site, or remove the feed"
    if status in (429, 503) or (status is not None and status >= 500):
        return "the site is overloaded or limiting requests; newsbot backs off and keeps trying"
    if error.problem.startswith("refused:"):
        return (
            "the address is on a private or local network; set allow_private_feeds: true in"
            " the config if that is intended"
        )
    if "TLS" in error.problem:
        return "the site's HTTPS certificate is not valid; tell the site, or remove the feed"
    if "timed out" in error.problem or "cannot connect" in error.problem:
        return "the site is down or very slow; nothing to do if it comes back"
    return "open the address in a browser to see what it serves"


def backoff(feed: FeedSettings, failures: int) -> timedelta:
    """The wait after ``failures`` consecutive failures: the interval, doubled per failure
    after the first, at most 6 hours (or the interval, if that is longer)."""
    doubled: timedelta = feed.interval * 2 ** min(max(failures - 1, 0), 16)
    return min(doubled, max(feed.interval, MAX_BACKOFF))


def body_hash(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


class FeedPoller:
    """Polls feeds with one :class:`Fetcher` (its session lives as long as the poller's user
    keeps it open) and stores what they bring."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        fetcher: Fetcher,
        *,
        alerts: Alerts | None = None,
        cluster: Clusterer | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.fetcher = fetcher
        self.alerts = alerts
        self.cluster = cluster
        """Feeds cluster by default: the app's clusterer (None only in tests of polling)."""

    async def poll_all(self, feeds: Sequence[FeedSettings]) -> FetchReport:
        """Poll each feed once, concurrently (the fetcher caps requests in flight)."""
        states = await self.store.feed_states()
        # Every poll runs to its end even when one raises (the database failed), so none is
        # left running unawaited; the first error is raised after.
        outcomes = await asyncio.gather(
            *(self.poll(f, states.get(f.url)) for f in feeds), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return FetchReport([o for o in outcomes if isinstance(o, FeedResult)])

    async def poll(self, feed: FeedSettings, state: FeedState | None) -> FeedResult:
        """Poll one feed and record its new state; a failure is in the result, not raised
        (a database error is: then nothing about the feed could be recorded)."""
        state = state or FeedState(url=feed.url)
        now = self.clock.now()
        result = FeedResult(feed.url)
        try:
            fetched = await self.fetcher.fetch(
                feed.url, etag=state.etag, last_modified=state.last_modified, now=now
            )
            if fetched.status == 304:
                # A 304 may repeat the validators or leave them out; either way they hold.
                state = replace(
                    state,
                    last_status="304 not modified",
                    etag=fetched.etag or state.etag,
                    last_modified=fetched.last_modified or state.last_modified,
                )
            else:
                state = await self._read(
                    feed, state, fetched.body, fetched.headers, fetched.url, result
                )
                state = replace(state, etag=fetched.etag, last_modified=fetched.last_modified)
        except (FetchFailed, NotAFeed) as exc:
            result.problem = exc.problem if isinstance(exc, FetchFailed) else str(exc)
            await self._failed(feed, state, now, exc, result.problem)
            return result
        await self._succeeded(feed, state, now)
        return result

    async def _read(
        self,
        feed: FeedSettings,
        state: FeedState,
        body: bytes,
        headers: dict[str, str],
        url: str,
        result: FeedResult,
    ) -> FeedState:
        digest = body_hash(body)
        if digest == state.body_hash and state.first_success_at is not None:
            return replace(state, last_status="200 OK, unchanged")
        # feedparser is CPU-bound; keep the event loop (and the bot) responsive.
        parsed = await asyncio.to_thread(parse_feed, body, headers)
        first = state.first_success_at is None
        items, problems = await asyncio.to_thread(articles_of, feed, parsed, url, first_fetch=first)
        result.entry_problems.extend(f"{feed.url}: {p}" for p in parsed.problems)
        result.entry_problems.extend(problems)
        for warning in parsed.warnings:
            log.info("%s: %s", feed.url, warning)
        known = await self.store.entry_urls(feed.url, [i.guid for i in items])
        articles = with_known_identity(items, known)
        report = IngestReport()
        if articles:
            await store_articles(
                self.store,
                articles,
                report,
                actor=f"feed:{feed.url}",
                auto_approve=self.settings.auto_approve,
                feed=feed.url,
                cluster=self.cluster,
            )
            await self.store.remember_entries(
                feed.url, {i.guid: a.url for i, a in zip(items, articles, strict=True)}
            )
        result.new, result.updated = report.new, report.updated
        result.unchanged, result.clustered = report.unchanged, report.clustered
        result.new_ids = report.new_ids
        return replace(state, body_hash=digest, entries=len(parsed.entries), last_status="200 OK")

    async def _succeeded(self, feed: FeedSettings, state: FeedState, now: datetime) -> None:
        if state.reported and self.alerts is not None:
            alert = FeedAlert(feed.url, False, "", "", state.failures, state.failing_since, None)
            if await self._alert(alert):
                state = replace(state, reported=False)
        await self.store.save_feed_state(
            replace(
                state,
                last_fetch_at=now,
                failures=0,
                failing_since=None,
                first_success_at=state.first_success_at or now,
                next_fetch_at=now + feed.interval,
            )
        )

    async def _failed(
        self,
        feed: FeedSettings,
        state: FeedState,
        now: datetime,
        error: FetchFailed | NotAFeed,
        problem: str,
    ) -> None:
        failures = state.failures + 1
        wait = backoff(feed, failures)
        if isinstance(error, FetchFailed) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        state = replace(
            state,
            last_fetch_at=now,
            last_status=problem,
            failures=failures,
            failing_since=state.failing_since or now,
            next_fetch_at=now + wait,
        )
        log.warning("feed %s failed (%d in a row): %s", feed.url, failures, problem)
        if failures >= FAILING_AFTER and not state.reported and self.alerts is not None:
            alert = FeedAlert(
                feed.url,
                True,
                problem,
                hint_for(error),
                failures,
                state.failing_since,
                state.next_fetch_at,
            )
            state = replace(state, reported=await self._alert(alert))
        await self.store.save_feed_state(state)

    async def _alert(self, alert: FeedAlert) -> bool:
        assert self.alerts is not None
        try:
            return await self.alerts(alert)
        except Exception:
            # A report that cannot be posted now is tried again on the next poll.
            log.exception("could not post the report about feed %s", alert.url)
            return False


async def fetch_feeds(
    settings: Settings,
    store: Store,
    clock: Clock,
    *,
    cluster: Clusterer | None = None,
    only: str | None = None,
) -> FetchReport:
    """``newsbot fetch``: poll every feed (or the one named) once, with a session of its own.

    FeedError when ``only`` is not a feed newsbot polls."""
    feeds = await all_feeds(settings, store)
    if only is not None:
        wanted = feed_url(only)
        feeds = [f for f in feeds if f.url == wanted]
        if not feeds:
            raise FeedError(f"{wanted} is not a feed newsbot polls (see newsbot feeds)")
    async with Fetcher(check_for(settings.allow_private_feeds)) as fetcher:
        return await FeedPoller(settings, store, clock, fetcher, cluster=cluster).poll_all(feeds)
