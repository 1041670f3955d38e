"""Render+pack time of a digest next to a bare Jinja2 render of the same template.

    .venv/bin/python bench/render.py [--repeat N]

For 10 and 100 articles (the shipped seeds, repeated as needed), prints the best-of-N time of
``Renderer.render_digest`` (sandbox, escaped views, block markers, fitting, packing) and of a
plain ``jinja2.Environment`` rendering the same built-in template from the same articles with
no escaping (identity filters, raw text) and no packing, and the ratio of the two.
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
from bot.render import Renderer  # noqa: E402

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


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
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
    print(f"{'template':<14}{'items':>6}{'newsbot ms':>12}{'bare ms':>10}{'ratio':>8}")
    for template, file in (("digest", "digest.md.j2"), ("embed", "embed.j2")):
        digest = DigestChannel(channel=None, max_items=100, template=template)
        for count in (10, 100):
            items = articles(count)
            ours = best(
                lambda: renderer.render_digest(items, digest, now=NOW, ref="bench"), args.repeat
            )
            bare = best(lambda: bare_render(env, file, items, digest.related_limit), args.repeat)
            print(
                f"{template:<14}{count:>6}{ours * 1000:>12.2f}{bare * 1000:>10.2f}"
                f"{ours / bare:>7.2f}x"
            )


if __name__ == "__main__":
    main()
