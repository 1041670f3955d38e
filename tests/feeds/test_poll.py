"""Polling feeds into a real SQLite queue from the loopback server: the first fetch's backfill,
conditional GET on the second poll, unchanged bodies, guid identity, failures with backoff and
one report each way, Retry-After."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App, open_app
from bot.clock import ManualClock
from bot.config import FeedSettings, Settings
from bot.feeds.fetch import Fetcher
from bot.feeds.poll import FeedAlert, FeedPoller, backoff
from bot.store import QueueQuery, Status
from tests.feeds.server import FeedServer, status

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Tiny Times</title>{items}
</channel></rss>"""
ITEM = "<item><title>{title}</title><link>{link}</link><guid>{guid}</guid></item>"


def rss(*items: tuple[str, str, str]) -> str:
    return RSS.format(items="".join(ITEM.format(title=t, link=u, guid=g) for t, u, g in items))


class Alerts:
    def __init__(self) -> None:
        self.posted: list[FeedAlert] = []

    async def __call__(self, alert: FeedAlert) -> bool:
        self.posted.append(alert)
        return True


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    settings = Settings(database=tmp_path / "newsbot.db", allow_private_feeds=True)
    async with open_app(settings, clock=ManualClock(START)) as app:
        yield app


@pytest.fixture
async def poller(app: App, fetcher: Fetcher) -> FeedPoller:
    return FeedPoller(app.settings, app.store, app.clock, fetcher, alerts=Alerts())


async def items(app: App) -> list:
    return await app.store.list_items(QueueQuery())


async def test_the_first_fetch_queues_the_backfill_and_the_second_poll_is_all_304s(
    feed_server: FeedServer, poller: FeedPoller, app: App
) -> None:
    feeds = [
        FeedSettings(feed_server.fixture("/rss2", "rss2.xml", "application/rss+xml"), backfill=1),
        FeedSettings(feed_server.fixture("/atom", "atom.xml", "application/atom+xml")),
        FeedSettings(feed_server.fixture("/json", "feed.json", "application/feed+json")),
        FeedSettings(feed_server.fixture("/rdf", "rss1.rdf", "application/rdf+xml", etag=False)),
    ]
    first = await poller.poll_all(feeds)
    assert first.summary == "4 feeds: 8 new, 0 updated, 0 clustered, 0 unchanged, 0 failed"
    # Two in the RSS, two in the JSON Feed (see test_parse).
    assert len(first.problems) == 4
    assert f"{feeds[2].url}: entry 4: not an object; skipped" in first.problems
    stored = await items(app)
    statuses = {i.article.title: i.status for i in stored}
    assert statuses["Council approves new tram line"] is Status.PENDING
    assert statuses["Harbour crane returns"] is Status.PUBLISHED  # beyond backfill=1
    assert sum(s is Status.PENDING for s in statuses.values()) == 1 + 2 + 2 + 1
    assert {i.article.origin for i in stored} == {f.url for f in feeds}

    second = await poller.poll_all(feeds)
    assert second.summary == "4 feeds: 0 new, 0 updated, 0 clustered, 0 unchanged, 0 failed"
    assert all(feed_server.not_modified[path] == 1 for path in feed_server.feeds)
    states = await app.store.feed_states()
    assert {s.last_status for s in states.values()} == {"304 not modified"}
    assert states[feeds[0].url].entries == 5
    assert states[feeds[0].url].next_fetch_at == START + timedelta(minutes=15)


async def test_an_unchanged_body_without_validators_is_not_parsed_again(
    feed_server: FeedServer, poller: FeedPoller, app: App
) -> None:
    url = feed_server.serve(
        "/plain",
        rss(("One", "https://tiny.example/1", "t1")),
        "application/rss+xml",
        etag=False,
        last_modified=False,
    )
    await poller.poll_all([FeedSettings(url)])
    again = await poller.poll_all([FeedSettings(url)])
    assert again.summary == "1 feeds: 0 new, 0 updated, 0 clustered, 0 unchanged, 0 failed"
    assert (await app.store.feed_states())[url].last_status == "200 OK, unchanged"
    assert feed_server.hits["/plain"] == 2


async def test_an_entry_whose_link_changed_but_not_its_guid_is_the_same_item(
    feed_server: FeedServer, poller: FeedPoller, app: App
) -> None:
    feed = FeedSettings(feed_server.url("/moves"))
    feed_server.serve(
        "/moves", rss(("Story", "https://tiny.example/draft-slug", "g1")), "application/rss+xml"
    )
    await poller.poll_all([feed])
    [before] = await items(app)
    feed_server.serve(
        "/moves",
        rss(("Story, updated", "https://tiny.example/final-slug?utm_campaign=x", "g1")),
        "application/rss+xml",
    )
    report = await poller.poll_all([feed])
    assert report.summary == "1 feeds: 0 new, 1 updated, 0 clustered, 0 unchanged, 0 failed"
    [after] = await items(app)
    assert after.id == before.id and after.article.title == "Story, updated"
    assert after.article.web_url == "https://tiny.example/final-slug?utm_campaign=x"


async def test_tracking_parameters_do_not_make_a_second_item(
    feed_server: FeedServer, poller: FeedPoller, app: App
) -> None:
    a = feed_server.serve(
        "/a", rss(("Scoop", "https://news.example/s?utm_source=a", "a1")), "application/rss+xml"
    )
    b = feed_server.serve(
        "/b", rss(("Scoop", "https://news.example/s?fbclid=zz", "b1")), "application/rss+xml"
    )
    await poller.poll_all([FeedSettings(a)])
    report = await poller.poll_all([FeedSettings(b)])
    assert len(await items(app)) == 1
    assert report.results[0].new == 0


async def test_a_failing_feed_is_reported_once_backs_off_and_is_reported_on_recovery(
    feed_server: FeedServer, poller: FeedPoller, app: App
) -> None:
    clock = app.clock
    assert isinstance(clock, ManualClock)
    alerts = poller.alerts
    assert isinstance(alerts, Alerts)
    feed = FeedSettings(feed_server.route("/gone", status(404)))
    waits = []
    for _ in range(5):
        report = await poller.poll(feed, (await app.store.feed_states()).get(feed.url))
        assert report.problem == "HTTP 404 Not Found"
        state = (await app.store.feed_states())[feed.url]
        assert state.next_fetch_at is not None
        waits.append(state.next_fetch_at - clock.now())
        clock.advance(timedelta(minutes=1))
    assert waits == [backoff(feed, n) for n in range(1, 6)]
    assert waits[:3] == [timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=1)]
    assert state.failures == 5 and state.reported
    [alert] = alerts.posted
    assert alert.failing and alert.failures == 3 and alert.problem == "HTTP 404 Not Found"
    assert alert.hint.startswith("the feed is gone from this address")

    del feed_server.handlers["/gone"]
    feed_server.serve("/gone", rss(("Back", "https://tiny.example/back", "b")), "text/xml")
    await poller.poll(feed, (await app.store.feed_states()).get(feed.url))
    await poller.poll(feed, (await app.store.feed_states()).get(feed.url))
    assert [a.failing for a in alerts.posted] == [True, False]
    state = (await app.store.feed_states())[feed.url]
    assert state.failures == 0 and not state.reported and state.failing_since is None


async def test_an_alert_that_cannot_be_posted_is_tried_again(
    feed_server: FeedServer, app: App, fetcher: Fetcher
) -> None:
    tries: list[FeedAlert] = []

    async def flaky(alert: FeedAlert) -> bool:
        tries.append(alert)
        if len(tries) == 1:
            raise ConnectionError("Discord is away")
        return True

    poller = FeedPoller(app.settings, app.store, app.clock, fetcher, alerts=flaky)
    feed = FeedSettings(feed_server.route("/err", status(500)))
    for _ in range(5):
        await poller.poll(feed, (await app.store.feed_states()).get(feed.url))
    assert [a.failures for a in tries] == [3, 4]


async def test_retry_after_on_429_postpones_the_next_poll(
    feed_server: FeedServer, poller: FeedPoller, app: App
) -> None:
    feed = FeedSettings(feed_server.route("/busy", status(429, {"Retry-After": "7200"})))
    await poller.poll(feed, None)
    state = (await app.store.feed_states())[feed.url]
    assert state.next_fetch_at == START + timedelta(hours=2)
    assert state.last_status == "HTTP 429 Too Many Requests; asked to retry after 2:00:00"


async def test_malformed_xml_and_html_pages_are_failures(
    feed_server: FeedServer, poller: FeedPoller
) -> None:
    bad = FeedSettings(feed_server.fixture("/bad", "malformed.xml", "text/xml"))
    page = FeedSettings(feed_server.fixture("/page", "notafeed.html", "text/html"))
    report = await poller.poll_all([bad, page])
    assert report.summary == "2 feeds: 0 new, 0 updated, 0 clustered, 0 unchanged, 2 failed"
    assert report.problems[0] == f"{bad.url}: malformed XML (<unknown>:2:74: unclosed token)"
    assert report.problems[1].startswith(f"{page.url}: not an RSS, Atom or JSON feed")
