"""Placing one new article against a clustering window of 50,000 recent items.

    .venv/bin/python bench/cluster.py [--items 50000] [--queries 2000]

The window is generated (deterministic by seed) from the words of the labelled articles in
tests/data/cluster_stories.yaml, by language in their shares there, so the language detector
and the stemmers see real English, German, French and Spanish; every text also carries what
makes a real window's vocabulary large: names (a pool of 20,000 made-up people, places and
companies, by a Zipf law, so some are in many stories), numbers, and one story in three
reported by two to four outlets. Titles have 8-14 words, excerpts 18-35.

Prints the median, p95 and p99 time of ``ClusterIndex.place`` for new articles (half of them
another outlet's take on a story of the window, half new stories), the time to make their
features (language, tokens, stems), the build time of the index and the memory it takes
(tracemalloc), against the target: a median of at most 2 ms a placement.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.articles import Article, Provider  # noqa: E402
from bot.cluster import Analyzer, ClusterIndex, Features  # noqa: E402

TARGET_MS = 2.0
START = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW = timedelta(hours=36)
SYLLABLES = [
    "ka",
    "ri",
    "to",
    "mu",
    "ne",
    "sa",
    "lo",
    "vi",
    "de",
    "ra",
    "ban",
    "tor",
    "mel",
    "gra",
    "sen",
    "dor",
    "lin",
    "vak",
    "pet",
    "zu",
]


def vocabularies() -> dict[str, tuple[list[str], list[int]]]:
    data = yaml.safe_load((ROOT / "tests/data/cluster_stories.yaml").read_text("utf-8"))
    words: dict[str, Counter[str]] = {}
    for group in data["topics"].values():
        if group["lang"] == "mixed":
            continue
        counter = words.setdefault(group["lang"], Counter())
        for row in group["articles"]:
            counter.update(w.strip(".,:;'\"()") for w in f"{row[5]} {row[6]}".split())
    return {
        lang: ([w for w, _ in c.most_common() if w], [n for _, n in c.most_common() if _])
        for lang, c in words.items()
    }


def name_pool(rng: random.Random, size: int) -> list[str]:
    return [
        "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()
        for _ in range(size)
    ]


class Generator:
    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.vocab = vocabularies()
        self.languages = ["en"] * 7 + ["de", "fr", "es"]
        self.names = name_pool(self.rng, 20_000)
        self.name_weights = [1 / (rank + 1) for rank in range(len(self.names))]
        self.outlets = [f"outlet{n}.example" for n in range(300)]

    def text(self, lang: str, count: int, names: list[str]) -> str:
        words, weights = self.vocab[lang]
        picked = self.rng.choices(words, weights, k=count)
        for name in names:
            picked.insert(self.rng.randrange(len(picked) + 1), name)
        if self.rng.random() < 0.5:
            picked.insert(self.rng.randrange(len(picked) + 1), str(self.rng.randint(2, 99_999)))
        return " ".join(picked)

    def story(self) -> tuple[str, list[str], list[str]]:
        lang = self.rng.choice(self.languages)
        names = self.rng.choices(self.names, self.name_weights, k=self.rng.randint(2, 4))
        words, weights = self.vocab[lang]
        core = self.rng.choices(words, weights, k=6)
        return lang, names, core

    def article(self, n: int, story: tuple[str, list[str], list[str]], at: datetime) -> Article:
        lang, names, core = story
        title = " ".join(core[:4]) + " " + self.text(lang, self.rng.randint(4, 10), names[:2])
        excerpt = " ".join(core[4:]) + " " + self.text(lang, self.rng.randint(18, 35), names)
        outlet = self.rng.choice(self.outlets)
        url = f"https://{outlet}/{n}"
        return Article(
            url=url,
            web_url=url,
            title=title,
            excerpt=excerpt,
            published_at=at,
            provider=Provider(outlet, outlet),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=2_000)
    args = parser.parse_args()

    gen = Generator()
    analyzer = Analyzer()
    analyzer.language("warm up the model")
    stories = []
    window: list[Article] = []
    while len(window) < args.items:
        story = gen.story()
        stories.append(story)
        at = START + timedelta(seconds=gen.rng.uniform(0, WINDOW.total_seconds()))
        for _ in range(gen.rng.choice([1, 1, 2, 3, 4])):
            window.append(gen.article(len(window), story, at))
    window = window[: args.items]

    began = time.perf_counter()
    features = [analyzer.features(a) for a in window]
    featured = time.perf_counter() - began
    del features
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    # Features are made again under tracemalloc (slower), so the memory counts them too.
    features = [analyzer.features(a) for a in window]
    began = time.perf_counter()
    index = ClusterIndex(WINDOW)
    for article, feature in zip(window, features, strict=True):
        index.add(article.url, feature)
    built = time.perf_counter() - began
    index_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()

    queries: list[Features] = []
    query_articles = []
    for n in range(args.queries):
        story = gen.rng.choice(stories) if n % 2 == 0 else gen.story()
        at = START + timedelta(hours=gen.rng.uniform(0, 36))
        query_articles.append(gen.article(args.items + n, story, at))
    began = time.perf_counter()
    queries = [analyzer.features(a) for a in query_articles]
    feature_ms = (time.perf_counter() - began) * 1000 / len(queries)

    times = []
    merged = 0
    for feature in queries:
        began = time.perf_counter()
        placed = index.place(feature)
        times.append((time.perf_counter() - began) * 1000)
        merged += placed.entry is not None
    times.sort()
    median = statistics.median(times)
    p95 = times[int(len(times) * 0.95)]
    p99 = times[int(len(times) * 0.99)]
    languages = Counter(f.language for f in features)
    print(f"window: {len(index):,} items, languages {dict(languages.most_common(6))}")
    print(
        f"features for the window: {featured:.1f} s ({featured * 1e6 / len(window):.0f} µs an"
        f" item); index built in {built:.2f} s"
    )
    print(
        f"index memory: {index_bytes / 2**20:.1f} MiB ({index_bytes / len(window):,.0f} bytes"
        " an item, features included)"
    )
    print(f"features of a new article: {feature_ms:.3f} ms")
    print(
        f"place one article: median {median:.3f} ms, p95 {p95:.3f} ms, p99 {p99:.3f} ms"
        f" ({merged} of {len(queries)} joined a story)"
    )
    print(f"median / target ({TARGET_MS} ms): {median / TARGET_MS:.2f}x")


if __name__ == "__main__":
    main()
