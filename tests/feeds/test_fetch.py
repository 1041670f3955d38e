"""Fetching against the loopback feed server: conditional GET, compression, limits,
redirects, Retry-After, and the address check on every hop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.feeds.address import address_problem
from bot.feeds.fetch import USER_AGENT, Fetcher, FetchFailed, retry_after
from tests.feeds.conftest import loopback_only
from tests.feeds.server import (
    FeedServer,
    declared_large,
    endless,
    gzip_bomb,
    redirect,
    stalled,
    status,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def test_a_fetch_sends_our_headers_and_a_second_one_is_conditional(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.fixture("/rss", "rss2.xml", "application/rss+xml")
    first = await fetcher.fetch(url, now=NOW)
    assert first.status == 200 and first.body.startswith(b"<?xml")
    assert first.etag and first.last_modified
    request = feed_server.requests[-1]
    assert request.headers["User-Agent"] == USER_AGENT and "newsbot" in USER_AGENT
    assert request.headers["Accept-Encoding"] == "gzip, deflate"
    second = await fetcher.fetch(url, etag=first.etag, last_modified=first.last_modified, now=NOW)
    assert second.status == 304 and second.body == b""
    assert feed_server.not_modified["/rss"] == 1
    assert feed_server.requests[-1].headers["If-None-Match"] == first.etag


async def test_if_modified_since_alone_is_sent_and_honoured(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.fixture("/atom", "atom.xml", "application/atom+xml", etag=False)
    first = await fetcher.fetch(url, now=NOW)
    assert first.etag is None
    again = await fetcher.fetch(url, last_modified=first.last_modified, now=NOW)
    assert again.status == 304 and feed_server.not_modified["/atom"] == 1


async def test_a_gzip_body_is_decompressed(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.fixture("/gz", "rss2.xml", "application/rss+xml", compress=True)
    fetched = await fetcher.fetch(url, now=NOW)
    assert fetched.headers["content-encoding"] == "gzip"
    assert b"Harbour &amp; Hills Gazette" in fetched.body


@pytest.mark.parametrize(
    ("route", "problem"),
    [
        ("/declared", "too large (11,534,336 bytes; at most 10,485,760)"),
        ("/endless", "too large (more than 10,485,760 bytes)"),
        ("/bomb", "too large (more than 10,485,760 bytes)"),
    ],
)
async def test_bodies_over_10_mib_are_refused(
    feed_server: FeedServer, fetcher: Fetcher, route: str, problem: str
) -> None:
    feed_server.route("/declared", declared_large(11 * 1024 * 1024))
    feed_server.route("/endless", endless())
    feed_server.route("/bomb", gzip_bomb(11 * 1024 * 1024))
    with pytest.raises(FetchFailed) as caught:
        await fetcher.fetch(feed_server.url(route), now=NOW)
    assert caught.value.problem == problem


async def test_a_body_that_never_ends_times_out(feed_server: FeedServer) -> None:
    url = feed_server.route("/slow", stalled(feed_server))
    async with Fetcher(loopback_only, timeout=0.3) as fetcher:
        with pytest.raises(FetchFailed) as caught:
            await fetcher.fetch(url, now=NOW)
    assert caught.value.problem == "timed out after 0.3 s"


async def test_429_and_503_carry_retry_after(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.route("/busy", status(429, {"Retry-After": "120"}))
    feed_server.route("/down", status(503, {"Retry-After": "Tue, 01 Dec 2026 13:00:00 GMT"}))
    with pytest.raises(FetchFailed) as busy:
        await fetcher.fetch(feed_server.url("/busy"), now=NOW)
    assert busy.value.status == 429 and busy.value.retry_after == timedelta(seconds=120)
    assert busy.value.problem == "HTTP 429 Too Many Requests; asked to retry after 0:02:00"
    with pytest.raises(FetchFailed) as down:
        await fetcher.fetch(feed_server.url("/down"), now=NOW)
    assert down.value.retry_after == timedelta(hours=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", timedelta(0)),
        ("3600", timedelta(hours=1)),
        ("Tue, 01 Dec 2026 12:00:30 GMT", timedelta(seconds=30)),
        ("Tue, 01 Dec 2026 11:00:00 GMT", timedelta(0)),  # in the past: now
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_dates(value: str | None, expected: object) -> None:
    assert retry_after(value, NOW) == expected


async def test_errors_and_missing_feeds_are_failures_with_their_status(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.route("/boom", status(500))
    for path, code in [("/boom", 500), ("/missing", 404)]:
        with pytest.raises(FetchFailed) as caught:
            await fetcher.fetch(feed_server.url(path), now=NOW)
        assert caught.value.status == code
    assert caught.value.problem == "HTTP 404 Not Found"


async def test_redirects_are_followed_up_to_five(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.fixture("/final", "rss2.xml", "application/rss+xml")
    for hop in range(1, 6):
        target = "/final" if hop == 5 else f"/hop{hop + 1}"
        feed_server.route(f"/hop{hop}", redirect(target, 301 if hop % 2 else 308))
    fetched = await fetcher.fetch(feed_server.url("/hop1"), now=NOW)
    assert fetched.status == 200 and fetched.url == feed_server.url("/final")
    feed_server.route("/hop0", redirect("/hop1"))
    with pytest.raises(FetchFailed) as caught:
        await fetcher.fetch(feed_server.url("/hop0"), now=NOW)
    assert caught.value.problem == "too many redirects (more than 5)"


async def test_a_redirect_loop_is_named(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.route("/a", redirect("/b"))
    feed_server.route("/b", redirect("/a"))
    with pytest.raises(FetchFailed) as caught:
        await fetcher.fetch(feed_server.url("/a"), now=NOW)
    assert caught.value.problem == f"redirect loop (back to {feed_server.url('/a')})"
    assert feed_server.hits["/a"] == 1 and feed_server.hits["/b"] == 1


async def test_a_redirect_to_another_loopback_address_is_refused_before_connecting(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    """allow_private_feeds is off (the real check, with only the test server's own address
    allowed): the hop to 127.0.0.2 is refused, and nothing listens there to be reached."""
    target = feed_server.url("/rss", host="127.0.0.2")
    feed_server.fixture("/rss", "rss2.xml", "application/rss+xml")
    feed_server.route("/away", redirect(target))
    with pytest.raises(FetchFailed) as caught:
        await fetcher.fetch(feed_server.url("/away"), now=NOW)
    assert caught.value.problem == (
        "refused: 127.0.0.2 is a loopback address (set allow_private_feeds: true to allow it)"
    )
    assert feed_server.hits["/rss"] == 0


async def test_a_name_resolving_to_loopback_is_refused(feed_server: FeedServer) -> None:
    """``localhost`` resolves (through the checked resolver) to loopback addresses only."""
    async with Fetcher(address_problem, timeout=5.0) as fetcher:
        with pytest.raises(FetchFailed) as caught:
            await fetcher.fetch(feed_server.url("/rss", host="localhost"), now=NOW)
    assert caught.value.problem.startswith("refused: localhost resolves only to refused addresses")
    assert feed_server.hits["/rss"] == 0


async def test_only_http_urls_are_fetched(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.route("/ftp", redirect("ftp://files.example/feed.xml"))
    with pytest.raises(FetchFailed) as caught:
        await fetcher.fetch(feed_server.url("/ftp"), now=NOW)
    assert caught.value.problem == "ftp://files.example/feed.xml: only http(s) feeds are fetched"
