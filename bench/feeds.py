"""Feed polling speed (run by hand: ``python bench/feeds.py``).

A loopback server (in a process of its own, so its work does not weigh on either side) serves
``--feeds`` RSS feeds of ``--entries`` entries each, with ETags. Measured:

- cold poll: ``FeedPoller.poll_all`` over every feed into an empty database, against the floor
  of downloading the same bytes (one session, the same concurrency) and feedparser-parsing
  them with its defaults. Target ≤ 1.5x. newsbot turns feedparser's HTML sanitizer and URI
  rewriting off (it keeps only text), so the ratio against a floor parsing that way too is
  printed as well: what newsbot adds to the work it cannot avoid.
- re-poll: the same poll again, every feed answering 304. Target ≤ 2 s.

Each figure is the best of ``--runs`` rounds, floor and poll taken in turn.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import socket
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import feedparser
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import SystemClock
from bot.config import FeedSettings, Settings
from bot.feeds.address import no_check
from bot.feeds.fetch import Fetcher
from bot.feeds.poll import FeedPoller
from bot.store import SQLiteStore

CONCURRENCY = 20
WORDS = [
    "council",
    "storm",
    "energy",
    "budget",
    "rail",
    "school",
    "vote",
    "market",
    "court",
    "health",
    "port",
    "river",
    "data",
    "election",
    "transit",
    "housing",
    "water",
    "police",
    "museum",
    "climate",
    "science",
    "farm",
    "bridge",
]


def feed_body(number: int, entries: int) -> bytes:
    items = []
    for e in range(entries):
        words = " ".join(WORDS[(number * 7 + e * 3 + k) % len(WORDS)] for k in range(9))
        items.append(
            f"<item><title>{words.title()} {number}-{e}</title>"
            f"<link>https://outlet{number}.example/news/{e}?utm_source=rss</link>"
            f"<guid isPermaLink='false'>o{number}-{e}</guid>"
            f"<pubDate>Mon, 30 Nov 2026 {e % 24:02d}:{e % 60:02d}:00 GMT</pubDate>"
            f"<category>Topic {e % 5}</category>"
            f"<description><![CDATA[<p>{words} &amp; more.</p><p>{words}.</p>"
            f"<img src='/img/{e}.jpg'>]]></description></item>"
        )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Outlet {number}</title><link>https://outlet{number}.example/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def serve(port: int, feeds: int, entries: int, ready: multiprocessing.synchronize.Event) -> None:
    bodies = {f"/feed/{n}.xml": feed_body(n, entries) for n in range(feeds)}
    etags = {p: '"' + hashlib.sha1(b).hexdigest()[:16] + '"' for p, b in bodies.items()}

    async def handle(request: web.Request) -> web.Response:
        path = request.path
        if request.headers.get("If-None-Match") == etags[path]:
            return web.Response(status=304, headers={"ETag": etags[path]})
        return web.Response(
            body=bodies[path], headers={"ETag": etags[path], "Content-Type": "application/rss+xml"}
        )

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{name}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


async def floor(urls: list[str], **options: bool) -> float:
    """Download every feed (one session, capped like the fetcher) and feedparser-parse it."""
    limit = asyncio.Semaphore(CONCURRENCY)
    start = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

        async def one(url: str) -> int:
            async with limit, session.get(url) as response:
                body = await response.read()
            headers = dict(response.headers)
            return len(feedparser.parse(body, response_headers=headers, **options).entries)

        counts = await asyncio.gather(*(one(u) for u in urls))
    assert all(counts)
    return time.perf_counter() - start


async def polls(urls: list[str], db: Path) -> tuple[float, float, str, str]:
    settings = Settings(database=db, allow_private_feeds=True)
    store = await SQLiteStore.open(db, SystemClock())
    feeds = [FeedSettings(u) for u in urls]
    try:
        async with Fetcher(no_check, concurrency=CONCURRENCY) as fetcher:
            poller = FeedPoller(settings, store, SystemClock(), fetcher)
            start = time.perf_counter()
            cold = await poller.poll_all(feeds)
            cold_s = time.perf_counter() - start
            start = time.perf_counter()
            again = await poller.poll_all(feeds)
            again_s = time.perf_counter() - start
        return cold_s, again_s, cold.summary, again.summary
    finally:
        await store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(
        target=serve, args=(port, args.feeds, args.entries, ready), daemon=True
    )
    server.start()
    try:
        ready.wait(60)
        urls = [f"http://127.0.0.1:{port}/feed/{n}.xml" for n in range(args.feeds)]
        floors, leans, colds, agains = [], [], [], []
        lean = {"sanitize_html": False, "resolve_relative_uris": False}
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(floor(urls))  # warm up: the server's first answers, the parser's imports
            for run in range(args.runs):
                floors.append(asyncio.run(floor(urls)))
                leans.append(asyncio.run(floor(urls, **lean)))
                cold, again, summary, again_summary = asyncio.run(
                    polls(urls, Path(tmp) / f"q{run}.db")
                )
                colds.append(cold)
                agains.append(again)
                print(
                    f"run {run + 1}: floor {floors[-1]:.2f} s (lean {leans[-1]:.2f} s),"
                    f" cold poll {cold:.2f} s"
                    f" ({summary}), re-poll {again:.2f} s ({again_summary})"
                )
        best_floor, best_cold, best_again = min(floors), min(colds), min(agains)
        best_lean = min(leans)
        print(
            f"{args.feeds} feeds x {args.entries} entries: floor (download + feedparser)"
            f" {best_floor:.2f} s; cold poll {best_cold:.2f} s = {best_cold / best_floor:.2f}x"
            " the floor (target <= 1.5x)"
        )
        print(
            f"against the lean floor (feedparser without sanitizer and URI rewriting,"
            f" {best_lean:.2f} s): {best_cold / best_lean:.2f}x"
        )
        print(f"re-poll, every feed 304: {best_again:.2f} s (target <= 2 s)")
    finally:
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()
