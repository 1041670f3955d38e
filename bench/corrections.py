"""What a correction costs: rendering one posted message again, and queueing the edits.

    .venv/bin/python bench/corrections.py [--repeat N] [--digests N]

- ``Renderer.render_part`` for each message of a 10- and a 100-item digest (the shipped seeds,
  repeated), both built-in templates: the median and worst time per message. An edit renders
  the views of every item of its digest (the header may count them), then its own items.
- Re-ingesting one published item carried by ``--digests`` digests (one message each) in a
  database that holds them: the time of the ``upsert_articles`` call that updates the item and
  queues an edit per message, in one transaction; and ``pending_edits`` reading 50 of them.

Targets: 50 ms a message of a 100-item digest, the budget of rendering the whole digest (an
edit goes out at Discord's pace of 5 edits per 5 s a channel, so this is not what bounds it);
50 ms to queue the edits of an item in 1,000 digests.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.articles import Article, parse_article  # noqa: E402
from bot.clock import ManualClock  # noqa: E402
from bot.config import DigestChannel  # noqa: E402
from bot.render import Renderer  # noqa: E402
from bot.store import SQLiteStore, Status, Trigger  # noqa: E402

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
RENDER_TARGET_MS = 50.0
QUEUE_TARGET_MS = 50.0


def articles(count: int) -> list[Article]:
    files = sorted((ROOT / "seeds").glob("*.md"))
    pool = [parse_article(str(p), p.read_bytes()) for p in files]
    return [pool[i % len(pool)] for i in range(count)]


def bench_render(repeat: int) -> None:
    renderer = Renderer()
    header = f"{'template':<10}{'items':>6}{'messages':>10}{'median ms':>11}{'worst ms':>10}"
    print(header + f"{'of target':>11}")
    for template in ("digest", "embed"):
        digest = DigestChannel(channel=None, max_items=100, template=template)
        for count in (10, 100):
            items = articles(count)
            messages = renderer.render_digest(items, digest, now=NOW, ref="bench")
            times: list[float] = []
            for _ in range(repeat):
                for position, message in enumerate(messages):
                    gc.collect()
                    start = time.perf_counter()
                    renderer.render_part(
                        items,
                        digest,
                        now=NOW,
                        ref="bench",
                        indices=message.item_indices,
                        first=position == 0,
                        last=position == len(messages) - 1,
                        current=message.payload,
                    )
                    times.append((time.perf_counter() - start) * 1000)
            median = statistics.median(times)
            print(
                f"{template:<10}{count:>6}{len(messages):>10}{median:>11.2f}{max(times):>10.2f}"
                f"{median / RENDER_TARGET_MS:>10.2f}x"
            )


async def bench_queue(digests: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = await SQLiteStore.open(Path(folder) / "bench.db", ManualClock(NOW))
        try:
            [article] = articles(1)
            [(item_id, _)] = await store.upsert_articles([article], actor="bench")
            await store.transition(
                item_id, Status.APPROVED, allowed_from=(Status.PENDING,), actor="bench"
            )
            for n in range(digests):
                digest, _ = await store.create_digest(
                    1000 + n, f"k{n}@x", Trigger.CLI, [({"content": "x"}, f"n{n}", (item_id,))]
                )
                await store.record_sent(digest.id, 0, 10_000 + n, NOW)
            changed = replace(article, title="Corrected", source_hash="bench-changed")
            gc.collect()
            start = time.perf_counter()
            await store.upsert_articles([changed], actor="bench")
            queued = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            pending = await store.pending_edits(50)
            read = (time.perf_counter() - start) * 1000
            assert len(pending) == min(50, digests)
            print(
                f"re-ingest of an item in {digests:,} digests: {queued:.1f} ms"
                f" ({queued / QUEUE_TARGET_MS:.2f}x the target); pending_edits(50): {read:.1f} ms"
            )
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--digests", type=int, default=1000)
    args = parser.parse_args()
    bench_render(args.repeat)
    asyncio.run(bench_queue(args.digests))


if __name__ == "__main__":
    main()
