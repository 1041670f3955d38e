"""Metrics and health checks (issue 16, point 3): ``/metrics`` counts what the bot did, read
from the core's own results, and the queue's depth at the moment of the scrape; ``/healthz``
answers while the process runs, ``/readyz`` once the bot serves."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import open_app
from bot.config import DigestChannel, MetricsSettings, Settings
from bot.discord_adapter.client import NewsBot
from bot.errors import StartupError
from bot.feeds.poll import FeedResult, FetchReport
from bot.metrics import Metrics, serve
from bot.processes import Role, share_of
from bot.store import Store
from tests.discord_double import DiscordDouble
from tests.reliability import harness
from tests.test_publish_e2e import THREE_PARTS, approve_corpus

LOOPBACK = "127.0.0.1"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@asynccontextmanager
async def served(
    metrics: Metrics, store: Store, ready: bool | None = None, bot: object = None
) -> AsyncIterator[str]:
    def is_ready() -> bool:
        return bool(getattr(bot, "ready_to_serve", False)) if ready is None else ready

    async with serve(MetricsSettings(port=0, host=LOOPBACK), metrics, store, is_ready) as port:
        yield f"http://{LOOPBACK}:{port}"


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_a_digest_a_429_and_a_command_show_in_the_metrics(
    discord_double: DiscordDouble, tmp_path: Path
) -> None:
    settings = harness.settings_for(discord_double, tmp_path / "newsbot.db")
    channel = settings.digests[0].channel
    assert channel is not None
    settings = replace(settings, digests=(DigestChannel(channel, max_items=10, **THREE_PARTS),))
    await approve_corpus(settings, tmp_path / "corpus", 10)
    async with harness.running_bot(settings, discord_double) as bot:
        app = bot.app
        async with served(app.metrics, app.store, bot=bot) as base:
            assert await get(f"{base}/healthz") == (200, "ok\n")
            await asyncio.wait_for(bot.serving.wait(), 10)
            assert await get(f"{base}/readyz") == (200, "ready\n")
            before = samples((await get(f"{base}/metrics"))[1])
            assert before[("newsbot_queue_items", (("state", "approved"),))] == 10

            # Discord answers the first part 429; discord.py waits and sends it again.
            discord_double.fail_next(1, 429, "POST /channels/*/messages", retry_after=0.01)
            result = await bot.publisher.publish(channel)
            assert result.messages == 3

            completed = asyncio.ensure_future(bot.wait_for("app_command_completion", timeout=10))
            handle = await discord_double.send_slash_command("news queue", {}, user="moderator")
            await handle.response()
            await completed
            await asyncio.sleep(0)  # the completion handler was scheduled right after the waiter

            status, text = await get(f"{base}/metrics")
    assert status == 200
    after = samples(text)
    assert after[("newsbot_digests_total", (("outcome", "posted"),))] == 1
    assert after[("newsbot_messages_sent_total", ())] == 3
    assert after[("newsbot_items_published_total", ())] == 10
    assert after[("newsbot_discord_429_total", ())] == 1
    assert after[("newsbot_queue_items", (("state", "published"),))] == 10
    assert after[("newsbot_queue_items", (("state", "approved"),))] == 0
    assert after[("newsbot_interaction_seconds_count", (("kind", "command"),))] == 1


async def test_readyz_is_503_until_the_bot_serves(tmp_path: Path) -> None:
    async with (
        open_app(Settings(database=tmp_path / "q.db")) as app,
        served(app.metrics, app.store, ready=False) as base,
    ):
        assert await get(f"{base}/readyz") == (503, "not ready\n")
        assert (await get(f"{base}/healthz"))[0] == 200


async def test_a_port_already_taken_is_one_clear_startup_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with open_app(Settings(database=tmp_path / "q.db")) as app:
            with pytest.raises(StartupError) as raised:
                async with serve(
                    MetricsSettings(port=port, host=LOOPBACK), app.metrics, app.store, lambda: True
                ):
                    pass
    assert str(raised.value).startswith(f"metrics: cannot listen on {LOOPBACK}:{port} (")


def test_feed_polls_are_counted_by_outcome() -> None:
    metrics = Metrics()
    metrics.fetched(
        FetchReport(
            [
                FeedResult("https://a.example/feed", new=2),
                FeedResult("https://b.example/feed", unchanged=5),
                FeedResult("https://c.example/feed", problem="503 Service Unavailable"),
                FeedResult("https://d.example/feed"),
            ]
        )
    )
    found = samples(generate_latest(metrics.registry).decode())
    assert found[("newsbot_feed_fetches_total", (("outcome", "new"),))] == 1
    assert found[("newsbot_feed_fetches_total", (("outcome", "unchanged"),))] == 2
    assert found[("newsbot_feed_fetches_total", (("outcome", "failed"),))] == 1


async def test_the_share_of_the_global_limit_and_the_processes_are_gauges(tmp_path: Path) -> None:
    async with open_app(Settings(database=tmp_path / "newsbot.db")) as app:
        first = NewsBot(app, role=Role.WORKER, sync_on_start=False)
        await first.join()
        assert samples(generate_latest(app.metrics.registry).decode())[
            ("newsbot_request_share", ())
        ] == share_of(1)
        assert first.poster.pacer.limit == share_of(1)
        second = NewsBot(app, role=Role.WORKER, sync_on_start=False)
        await second.join()  # a newcomer: nothing until the others have slowed down
        assert second.poster.pacer.limit == 0
        assert (
            samples(generate_latest(app.metrics.registry).decode())[("newsbot_processes", ())] == 2
        )
        await second.close()
        await first.close()
