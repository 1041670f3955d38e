"""Render + pack time of a digest of new articles, against the 50 ms budget.

    .venv/bin/python bench/render.py [--repeat N]

For 10 and 100 articles (the shipped seeds, repeated as needed, parsed afresh for every run so
no run reuses another's objects), prints the median and best time of ``Renderer.render_digest``
(sandbox, escaped views, block protocol, fitting, packing) for both built-in templates:

- "first": a new ``Renderer`` for every run, so the time includes loading and compiling the
  templates (the first digest after the bot starts);
- "next": the same ``Renderer`` (templates compiled, as for every later digest).

The budget is 50 ms for a 100-item digest: a digest renders once per run, against at least 5 s
of Discord's rate limit for posting its messages.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.articles import Article, parse_article  # noqa: E402
from bot.config import DigestChannel  # noqa: E402
from bot.render import Renderer  # noqa: E402

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
BUDGET_MS = 50.0


def articles(count: int) -> list[Article]:
    files = sorted((ROOT / "seeds").glob("*.md"))
    pool = [parse_article(str(p), p.read_bytes()) for p in files]
    return [pool[i % len(pool)] for i in range(count)]


def timed(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def render(renderer: Renderer, items: list[Article], digest: DigestChannel) -> None:
    renderer.render_digest(items, digest, now=NOW, ref="bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(f"{'template':<10}{'items':>6}{'':>8}{'median ms':>11}{'best ms':>10}{'of budget':>11}")
    warm = Renderer()
    for template in ("digest", "embed"):
        digest = DigestChannel(channel=None, max_items=100, template=template)
        for count in (10, 100):
            runs: dict[str, list[float]] = {"first": [], "next": []}
            for _ in range(args.repeat):
                first, following = articles(count), articles(count)
                runs["first"].append(timed(partial(render, Renderer(), first, digest)))
                runs["next"].append(timed(partial(render, warm, following, digest)))
            for kind, times in runs.items():
                median = statistics.median(times)
                print(
                    f"{template:<10}{count:>6}{kind:>8}{median:>11.2f}{min(times):>10.2f}"
                    f"{median / BUDGET_MS:>10.2f}x"
                )


if __name__ == "__main__":
    main()
