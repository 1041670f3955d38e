"""Publishing pace against the floor Discord's rate limits allow (run by hand).

    .venv/bin/python bench/publish.py [--repeat N]

Runs ``newsbot publish`` (``publish_once``: log in over REST, resume, plan, post) in this
process against the loopback Discord double with Discord's real limits (message create 5 per
5 s per channel, 50 requests per second in all), for two cases:

* **10 messages to one channel** (a 10-part digest). The channel's first window admits 5
  messages; the 6th may not reach Discord before that window closes, 5 s after the 1st. After
  that the other 4 go at once, so the floor is 5 s (plus one round trip).
* **1 message to each of 50 channels** (50 one-item digests), right after login. Login makes
  2 requests (``GET /users/@me`` and ``GET /oauth2/applications/@me``) and the posts 50; the
  global limit admits 50 requests per second, so the last 2 of those 52 may not reach Discord
  before 1 s after the first: the floor is 1 s (plus one round trip).

For each case it prints the wall time of the whole ``publish_once`` (what an operator's cron
job waits for), the time from its first request reaching the double to its last message
reaching it ("delivered"), the floor, and both ratios to the floor. The double counts every
429 it answers; there must be none.

The double shares this process's event loop with the client; it adds well under a
millisecond per request.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import moderation  # noqa: E402
from bot.app import open_app  # noqa: E402
from bot.config import DigestChannel, Secret, Settings  # noqa: E402
from bot.discord_adapter.runner import publish_once  # noqa: E402
from bot.ingest import ingest  # noqa: E402
from tests.discord_double import (  # noqa: E402
    BOT_ROLE_PERMISSIONS,
    DiscordDouble,
    GuildBuilder,
    SnowflakeGenerator,
    User,
)

FAN_OUT = 50
ONE_CHANNEL = 10
# The shortest times Discord's limits allow for the two cases (see the module docstring).
FLOORS = {"10 messages to 1 channel": 5.0, f"1 message to each of {FAN_OUT} channels": 1.0}


def newsroom(bot: User, ids: SnowflakeGenerator) -> Any:
    b = GuildBuilder("Bench newsroom", ids=ids)
    bot_role = b.role("newsbot", BOT_ROLE_PERMISSIONS, key="bot-role", position=1)
    b.member("owner", owner=True)
    b.add_user(bot, roles=[bot_role], key="bot")
    b.text_channel("review")
    b.text_channel("busy")
    for n in range(FAN_OUT):
        b.text_channel(f"d{n}")
    return b.build()


def write_article(folder: Path, name: str, topic: str, words: int) -> None:
    filler = ["grid", "battery", "model", "launch", "orbit", "policy", "court", "study"]
    excerpt = " ".join(filler[i % len(filler)] for i in range(words))
    (folder / f"{name}.md").write_text(
        "---\n"
        f'title: "{topic} story {name}"\n'
        f'excerpt: "{excerpt}"\n'
        "publishedDateTime: 2026-11-20T08:00:00Z\n"
        f'webUrl: "https://example.org/{name}"\n'
        "quality: 50\n"
        "published: false\n"
        "provider:\n  name: Example\n  domain: example.org\n"
        f"topics:\n  - {topic}\n"
        "---\n",
        encoding="utf-8",
    )


async def prepare(double: DiscordDouble, folder: Path, case: str) -> tuple[Settings, int | None]:
    """Settings and approved items for ``case``; the channel to publish (None: all)."""
    articles = folder / "articles"
    articles.mkdir(parents=True)
    base = Settings(
        database=folder / "newsbot.db",
        token=Secret(double.token),
        api_base=double.api_base,
        source="bench",
    )
    if case.startswith("10"):
        # Items too long to share a message: one message per item.
        templates = folder / "templates"
        templates.mkdir()
        (templates / "_item.md.j2").write_text(
            "**{{ item.number }}. {{ item.title|link(item.url) }}**\n{{ item.excerpt }}\n",
            encoding="utf-8",
        )
        for n in range(ONE_CHANNEL):
            write_article(articles, f"long-{n}", "Energy", words=180)
        busy = double.channel("busy").id
        settings = replace(
            base,
            templates=templates,
            # Whole excerpts (a digest shows a sentence or two by default): one item a message.
            digests=(DigestChannel(channel=busy, max_items=ONE_CHANNEL, excerpt_length=10_000),),
        )
        channel: int | None = busy
    else:
        digests = []
        for n in range(FAN_OUT):
            write_article(articles, f"fan-{n}", f"topic{n}", words=30)
            digests.append(
                DigestChannel(
                    channel=double.channel(f"d{n}").id, topics=(f"topic{n}",), max_items=1
                )
            )
        settings = replace(base, digests=tuple(digests))
        channel = None
    async with open_app(settings) as app:
        report = await ingest(app.store, [articles])
        for item_id in report.new_ids:
            await moderation.approve(app.store, item_id, actor="bench")
    return settings, channel


@dataclass
class Run:
    wall: float
    delivered: float
    posts: int
    count_429: int


async def run_case(case: str) -> Run:
    double = DiscordDouble(guild=newsroom)
    await double.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings, channel = await prepare(double, Path(tmp), case)
            first = len(double.requests)
            start = time.perf_counter()
            run = await publish_once(settings, channel)
            wall = time.perf_counter() - start
            if run.failed:
                raise SystemExit(f"{case}: newsbot publish failed: {run}")
        mine = double.requests[first:]
        posts = [r for r in mine if r.method == "POST" and r.path.endswith("/messages")]
        delivered = max(r.at for r in posts) - min(r.at for r in mine)
        return Run(wall, delivered, len(posts), double.count_429)
    finally:
        await double.stop()


async def main(repeat: int) -> None:
    print(f"{'case':<34} {'floor':>6} {'wall':>7} {'ratio':>6} {'delivered':>9} {'ratio':>6}  429s")
    for case, floor in FLOORS.items():
        runs = [await run_case(case) for _ in range(repeat)]
        wall = statistics.median(r.wall for r in runs)
        delivered = statistics.median(r.delivered for r in runs)
        count_429 = sum(r.count_429 for r in runs)
        print(
            f"{case:<34} {floor:>5.2f}s {wall:>6.2f}s {wall / floor:>5.2f}x"
            f" {delivered:>8.2f}s {delivered / floor:>5.2f}x  {count_429}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median shown)")
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(parser.parse_args().repeat))
