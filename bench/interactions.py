"""Time from INTERACTION_CREATE to the first response for ``/news queue`` and for a step of
the review deck (``/news review``: Approve, Skip, with and without a topic) over a large queue.

Run by hand: ``python bench/interactions.py [--items 1000000] [--commands 200] [--steps 400]``.
The bot is the real discord.py client talking to the loopback Discord double; the time is
measured by the double, from dispatching the interaction to receiving the callback. Target:
p99 <= 50 ms for each.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import open_app
from bot.articles import Article, Provider
from bot.config import DigestChannel, Secret, Settings
from tests.discord_double import DiscordDouble
from tests.reliability.harness import running_bot


async def fill(settings: Settings, count: int) -> None:
    template = Article(
        url="",
        web_url="",
        title="",
        provider=Provider("Example", "ex.org"),
        topics=("AI",),
        quality=50,
        heat=1,
        source="---\n---\n",
    )
    async with open_app(settings) as app:
        for start in range(0, count, 5_000):
            batch = [
                replace(
                    template,
                    url=f"https://ex.org/{n}",
                    web_url=f"https://ex.org/{n}",
                    title=f"Story number {n}",
                    source_hash=f"h{n}",
                    # Half AI, half Climate; one in a thousand also Space (a rare topic).
                    topics=("AI",)
                    if n % 2
                    else ("Climate", "Space")
                    if n % 1000 == 0
                    else ("Climate",),
                )
                for n in range(start, min(count, start + 5_000))
            ]
            await app.store.upsert_articles(batch, actor="bench")


async def main(items: int, commands: int, steps: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with DiscordDouble() as double:
            settings = Settings(
                database=Path(tmp) / "bench.db",
                guild=double.guild.id,
                moderator_roles=("Moderator",),
                digests=(DigestChannel(channel=double.channel("digest-general").id),),
                token=Secret(double.token),
                api_base=double.api_base,
                gateway=double.gateway_url,
            )
            started = time.perf_counter()
            await fill(settings, items)
            print(f"queued {items:,} items in {time.perf_counter() - started:.1f} s")
            async with running_bot(settings, double):
                latencies = []
                for n in range(commands):
                    options = {"status": "pending"} if n % 2 else {}
                    handle = await double.send_slash_command(
                        "news queue", options, user="moderator"
                    )
                    response = await handle.response(timeout=10)
                    latencies.append((response.at - handle.created_at) * 1000)
                report(f"/news queue over {items:,} items, {commands} commands", latencies)
                for topic in (None, "climate", "space"):
                    steps_ms = await deck_steps(double, topic, steps)
                    which = f"topic {topic}" if topic else "no filter"
                    report(
                        f"deck step (Approve / Skip) over {items:,} pending, {which},"
                        f" {steps} steps",
                        steps_ms,
                    )


async def deck_steps(double: DiscordDouble, topic: str | None, steps: int) -> list[float]:
    """Open a deck and click Approve and Skip in turn; the time of each click's answer."""
    options = {"topic": topic} if topic else {}
    handle = await double.send_slash_command("news review", options, user="moderator")
    await handle.response(timeout=10)
    assert handle.original_id is not None
    latencies = []
    for n in range(steps):
        deck = double.message(handle.original_id)
        labels = {
            c["label"]: c["custom_id"] for row in deck["components"] for c in row["components"]
        }
        if "Skip" not in labels:
            break  # the end of a rare topic
        click = await double.click_button(deck, labels["Approve" if n % 2 else "Skip"])
        response = await click.response(timeout=10)
        latencies.append((response.at - click.created_at) * 1000)
    return latencies


def report(what: str, latencies: list[float]) -> None:
    latencies = sorted(latencies)
    p50 = statistics.median(latencies)
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    print(f"{what}:")
    print(
        f"  p50 {p50:.1f} ms   p99 {p99:.1f} ms   max {latencies[-1]:.1f} ms"
        f"   (target p99 <= 50 ms: {p99 / 50:.2f}x)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args()
    asyncio.run(main(args.items, args.commands, args.steps))
