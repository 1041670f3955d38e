"""Render+pack time of a digest next to a bare Jinja2 render of the same template.

    .venv/bin/python bench/render.py [--repeat N]

For 10 and 100 articles (the shipped seeds, repeated as needed), prints the best-of-N time of
a plain ``jinja2.Environment`` rendering the same built-in template from the same articles with
no escaping (identity filters, raw text) and no packing ("bare"), and of
``Renderer.render_digest`` (sandbox, escaped views, block protocol, fitting, packing), with the
ratio to bare: "warm" when the memoised escapes, links and URLs of these articles are already
cached (a digest previewed, then published; the usual case), "cold" with the caches emptied
before every run (the first render of new articles).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jinja2 import Environment, FileSystemLoader

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.articles import Article, parse_article  # noqa: E402
from bot.config import DigestChannel  # noqa: E402
from bot.render import Renderer, clear_caches  # noqa: E402

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def seeds() -> list[Article]:
    return [parse_article(str(p), p.read_bytes()) for p in sorted((ROOT / "seeds").glob("*.md"))]


def articles(count: int) -> list[Article]:
    pool = seeds()
    return [pool[i % len(pool)] for i in range(count)]


def bare_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(ROOT / "templates"), trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(
        md=lambda v: v,
        url=lambda v: v,
        plain=lambda v: v,
        shorten=lambda v, n=400: v[:n],
        link=lambda label, url: f"[{label}](<{url}>)",
    )
    return env


def bare_render(env: Environment, name: str, items: Sequence[Article], limit: int) -> str:
    views = [
        SimpleNamespace(
            index=i,
            number=i + 1,
            title=a.title,
            url=a.web_url,
            excerpt=a.excerpt,
            outlet=a.provider.name if a.provider else "",
            date=f"{a.published_at:%d %b %Y}" if a.published_at else "",
            topics=a.topics,
            related=[
                SimpleNamespace(
                    title=r.title, url=r.url, outlet=r.provider.name if r.provider else ""
                )
                for r in a.related[:limit]
            ],
        )
        for i, a in enumerate(items)
    ]
    context: dict[str, Any] = {
        "digest": SimpleNamespace(title="News digest"),
        "items": views,
        "count": len(views),
        "date": f"{NOW:%A %d %B %Y}",
    }
    return env.get_template(name).render(context)


def best(fn: Callable[[], object], repeat: int, before: Callable[[], None] | None = None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    renderer = Renderer()
    env = bare_environment()
    print(
        f"{'template':<10}{'items':>6}{'bare ms':>10}{'warm ms':>10}{'ratio':>8}"
        f"{'cold ms':>10}{'ratio':>8}"
    )
    for template, file in (("digest", "digest.md.j2"), ("embed", "embed.j2")):
        digest = DigestChannel(channel=None, max_items=100, template=template)
        for count in (10, 100):
            items = articles(count)

            def ours(items: Sequence[Article] = items, digest: DigestChannel = digest) -> None:
                renderer.render_digest(items, digest, now=NOW, ref="bench")

            def bare(items: Sequence[Article] = items, file: str = file) -> None:
                bare_render(env, file, items, 3)

            bare_s = best(bare, args.repeat)
            warm_s = best(ours, args.repeat)
            cold_s = best(ours, args.repeat, before=clear_caches)
            print(
                f"{template:<10}{count:>6}{bare_s * 1000:>10.2f}{warm_s * 1000:>10.2f}"
                f"{warm_s / bare_s:>7.2f}x{cold_s * 1000:>10.2f}{cold_s / bare_s:>7.2f}x"
            )


if __name__ == "__main__":
    main()
