"""``newsbot fetch``, ``newsbot feeds`` and the ``source`` of ``queue --json``, in-process
(in a thread, so that the loopback feed server keeps serving on the test's loop)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import main
from tests.feeds.server import FeedServer, status

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


async def newsbot(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_config(tmp_path: Path, *urls: str) -> str:
    lines = ["allow_private_feeds: true", "feeds:"] + [f"  - url: {u}" for u in urls]
    path = tmp_path / "newsbot.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


async def test_fetch_prints_its_summary_and_problems_and_exits_1_on_a_failed_feed(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = feed_server.fixture("/rss", "rss2.xml", "application/rss+xml")
    gone = feed_server.route("/gone", status(410))
    config = write_config(tmp_path, good, gone)
    code, out, err = await newsbot(capsys, "fetch", "--config", config)
    assert code == 1
    assert out == "2 feeds: 3 new, 0 updated, 0 clustered, 0 unchanged, 1 failed\n"
    assert err.splitlines() == [
        f"{gone}: HTTP 410 Gone",
        f"{good}: entry 3: duplicate guid 'gazette-1001'; skipped",
        f"{good}: entry 4: no link (an article needs its web address)",
    ]
    code, out, _ = await newsbot(capsys, "fetch", "--config", config, "--feed", good)
    assert (code, out) == (0, "1 feeds: 0 new, 0 updated, 0 clustered, 0 unchanged, 0 failed\n")
    assert feed_server.not_modified["/rss"] == 1

    code, out, err = await newsbot(
        capsys, "fetch", "--config", config, "--feed", "https://x.example/"
    )
    assert code == 1
    assert err == (
        "newsbot: error: https://x.example/ is not a feed newsbot polls (see newsbot feeds)\n"
    )

    code, out, _ = await newsbot(capsys, "feeds", "--config", config, "--json")
    rows = {row["url"]: row for row in json.loads(out)}
    assert rows[good]["last_status"] == "304 not modified" and rows[good]["entries"] == 5
    assert rows[gone]["failures"] == 1 and rows[gone]["last_status"] == "HTTP 410 Gone"
    assert rows[gone]["next_fetch"] is not None and rows[good]["added_by"] is None

    code, out, _ = await newsbot(capsys, "feeds", "--config", config)
    assert code == 0 and out.splitlines()[0].split() == [
        "FAILS",
        "ENTRIES",
        "LAST",
        "FETCH",
        "NEXT",
        "FETCH",
        "LAST",
        "STATUS",
        "URL",
    ]

    seed = next(SEEDS.glob("*.md"))
    await newsbot(capsys, "ingest", "--config", config, str(seed))
    code, out, _ = await newsbot(capsys, "queue", "--config", config, "--json")
    sources = {item["source"] for item in json.loads(out)}
    assert sources == {good, str(seed)}


async def test_feeds_without_any(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "newsbot.yaml"
    config.write_text("database: n.db\n", encoding="utf-8")
    code, out, _ = await newsbot(capsys, "feeds", "--config", str(config))
    assert out == "No feeds: add some under feeds: in the config, or with /feed add.\n"
    code, out, _ = await newsbot(capsys, "fetch", "--config", str(config))
    assert (code, out) == (0, "0 feeds: 0 new, 0 updated, 0 clustered, 0 unchanged, 0 failed\n")
