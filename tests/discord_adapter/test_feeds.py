"""``/feed add|list|remove`` and the failing-feed report, through the real discord.py client
against the loopback Discord double, with feeds served by the loopback feed server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import open_app
from bot.config import FeedSettings, Settings
from bot.discord_adapter.feeds import FeedAlertPoster, alert_nonce, alert_payload
from bot.feeds.poll import FeedAlert
from bot.store import QueueQuery
from tests.discord_double import DiscordDouble
from tests.feeds.server import FeedServer
from tests.reliability import harness
from tests.reliability.harness import running_bot

CONFIGURED = "https://configured.example/feed.xml"


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


def settings_for(double: DiscordDouble, tmp_path: Path) -> Settings:
    return harness.settings_for(
        double,
        tmp_path / "newsbot.db",
        allow_private_feeds=True,
        feeds=(FeedSettings(CONFIGURED, interval=timedelta(days=1)),),
    )


async def test_moderators_add_list_and_remove_feeds(
    discord_double: DiscordDouble,
    feed_server: FeedServer,
    tmp_path: Path,
    restore_endpoints: None,
) -> None:
    url = feed_server.fixture("/rss", "rss2.xml", "application/rss+xml")
    settings = settings_for(discord_double, tmp_path)
    async with running_bot(settings, discord_double) as bot:
        await asyncio.wait_for(bot.serving.wait(), 10)
        assert bot.feed_loop is not None
        refused = await discord_double.send_slash_command("feed add", {"url": url}, user="member")
        assert (await refused.response()).data["content"].startswith("⛔ Only moderators")

        added = await discord_double.send_slash_command(
            "feed add", {"url": url, "topics": "Local, Harbour"}, user="moderator"
        )
        assert (await added.response()).data["content"] == (
            f"📰 Added <{url}> with topics Local, Harbour; its newest entries will be up for"
            " review."
        )
        # The loop polls an added feed at once; its newest entries (backfill 3) go to review.
        posted = await discord_double.wait_for_messages("review", 3, timeout=10)
        assert any("Council approves new tram line" in m["content"] for m in posted)

        again = await discord_double.send_slash_command("feed add", {"url": url}, user="moderator")
        assert (await again.response()).data["content"] == (
            f"ℹ️ <{url}> is already polled; nothing changed."
        )
        bad = await discord_double.send_slash_command(
            "feed add", {"url": "file:///etc/passwd"}, user="moderator"
        )
        assert (await bad.response()).data["content"] == (
            "⚠️ 'file:///etc/passwd' is not an http(s) URL; a feed needs its http(s) address"
        )

        listing = await discord_double.send_slash_command("feed list", {}, user="moderator")
        lines = (await listing.response()).data["content"].split("\n")
        assert lines[0].startswith(f"• <{CONFIGURED}>") and lines[0].endswith("config file")
        assert lines[1].startswith(f"• <{url}> · 200 OK · 5 entries · next <t:")
        assert "added by" in lines[1]

        # Autocomplete offers the feeds added here (not the config file's), to moderators.
        choices = await discord_double.send_autocomplete(
            "feed remove", {"url": "127.0.0"}, focused="url", user="moderator"
        )
        assert [c["value"] for c in (await choices.response()).data["choices"]] == [url]
        hidden = await discord_double.send_autocomplete(
            "feed remove", {"url": ""}, focused="url", user="member"
        )
        assert (await hidden.response()).data["choices"] == []

        configured = await discord_double.send_slash_command(
            "feed remove", {"url": CONFIGURED}, user="moderator"
        )
        assert (await configured.response()).data["content"] == (
            f"⚠️ {CONFIGURED} is set in test.yaml (feeds:); remove it there and restart"
        )
        removed = await discord_double.send_slash_command(
            "feed remove", {"url": url}, user="moderator"
        )
        assert (await removed.response()).data["content"] == (
            f"🗑️ <{url}> is no longer polled; its articles stay in the queue."
        )
        gone = await discord_double.send_slash_command(
            "feed remove", {"url": url}, user="moderator"
        )
        assert (await gone.response()).data["content"] == f"🔍 Feed {url} does not exist."
    async with open_app(settings) as app:
        assert await app.store.stored_feeds() == []
        items = await app.store.list_items(QueueQuery())
        assert {i.article.origin for i in items} == {url}


async def test_the_failing_feed_report_is_posted_to_the_review_channel(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    settings = settings_for(discord_double, tmp_path)
    since = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    failing = FeedAlert(
        "https://gone.example/feed.xml",
        True,
        "HTTP 404 Not Found",
        "the feed is gone from this address",
        3,
        since,
        since,
    )
    async with running_bot(settings, discord_double) as bot:
        alerts = FeedAlertPoster(bot.poster, settings.review_channel)
        assert await alerts(failing)
        recovered = FeedAlert(failing.url, False, "", "", 3, since, None)
        assert await alerts(recovered)
        messages = await discord_double.wait_for_messages("review", 2, timeout=10)
    report, recovery = messages[-2:]
    assert report["content"] == alert_payload(failing)["content"]
    assert report["content"].startswith(
        "⚠️ **Feed failing**: <https://gone.example/feed.xml> failed 3 times in a row"
    )
    assert "How to fix: the feed is gone from this address." in report["content"]
    assert recovery["content"] == (
        "✅ **Feed working again**: <https://gone.example/feed.xml> was fetched successfully."
    )
    assert len(alert_nonce(failing)) <= 25 and alert_nonce(failing) != alert_nonce(recovered)
    assert await FeedAlertPoster(bot.poster, None)(failing) is False
