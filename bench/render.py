"""Render+pack time of a digest next to a bare Jinja2 render of the same template.

    .venv/bin/python bench/render.py [--repeat N]

For 10 and 100 articles (the shipped seeds, repeated as needed), prints the best-of-N time of
a plain ``jinja2.Environment`` rendering the same built-in template from the same articles with
no escaping (identity filters, raw text) and no packing ("bare"), and of
``Renderer.render_digest`` (sandbox, escaped views, block protocol, fitting, packing), with the
ratio to bare: "warm" when the renderer has just rendered the same articles, loaded separately
(a digest previewed, then published, each loading its articles from the store; the usual case:
their prepared views and the memoised escapes, links and URLs are cached, and so are the
items of a template whose item block is pure, as both built-in ones are; see "Remembered
items" in bot/render.py), "cold" with every
cache emptied before the run (the first render of new articles). Every run gets articles parsed
afresh from the seed files, so no run finds objects (or string hashes) another run made.

The bare render builds its views from the articles on every run, as ``render_digest`` does, and
does not re-check template files for changes on every ``{% include %}`` (``auto_reload`` off),
as the built-in templates' loader does not either. The three measurements are interleaved so
that other load on the machine affects them alike, and each starts after a garbage collection.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
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
        loader=FileSystemLoader(ROOT / "templates"),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
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


def timed(fn: Callable[[], object]) -> float:
    gc.collect()  # every run starts from the same collector state (and pays for its own garbage)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
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
            bare_s = warm_s = cold_s = float("inf")
            for _ in range(args.repeat):
                preview, post = articles(count), articles(count)
                bare_s = min(bare_s, timed(partial(bare_render, env, file, preview, 3)))
                renderer.clear_caches()
                render = partial(renderer.render_digest, digest=digest, now=NOW, ref="bench")
                cold_s = min(cold_s, timed(partial(render, preview)))
                warm_s = min(warm_s, timed(partial(render, post)))
            print(
                f"{template:<10}{count:>6}{bare_s * 1000:>10.2f}{warm_s * 1000:>10.2f}"
                f"{warm_s / bare_s:>7.2f}x{cold_s * 1000:>10.2f}{cold_s / bare_s:>7.2f}x"
            )


if __name__ == "__main__":
    main()
