"""Placing one new article against a clustering window of 50,000 recent items.

    .venv/bin/python bench/cluster.py [--items 50000] [--queries 2000]

The window is generated (deterministic by seed) from the words of the labelled articles in
tests/data/cluster_stories.yaml, by language in their shares there, so the language detector
and the stemmers see real English, German, French and Spanish; every text also carries what
makes a real window's vocabulary large: names (a pool of 20,000 made-up people, places and
companies, by a Zipf law, so some are in many stories), numbers, and one story in three
reported by two to four outlets. Titles have 8-14 words, excerpts 18-35.

Then, as the evidence for the method, on the labelled pairs of tests/data: the best precision
and recall a plain Jaccard similarity of the same tokens reaches at any threshold (what MinHash
LSH estimates, so an upper bound on it), beside the index's decision; and what a linear scan
of the window (the decision against every item) would cost per article.

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
from bot.cluster import (  # noqa: E402
    THRESHOLD,
    Analyzer,
    ClusterIndex,
    Features,
    similarity,
    vetoed,
)

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


def labelled_pairs(analyzer: Analyzer) -> list[tuple[Features, Features, bool]]:
    found = []
    for name in ("cluster_stories.yaml", "cluster_holdout.yaml"):
        data = yaml.safe_load((ROOT / "tests/data" / name).read_text("utf-8"))
        for group in data["topics"].values():
            rows = []
            for key, story, outlet, domain, at, title, excerpt in group["articles"]:
                url = f"https://{domain}/{key}"
                when = datetime.fromisoformat(at.replace("Z", "+00:00"))
                article = Article(url, url, title, excerpt, when, provider=Provider(outlet, domain))
                rows.append((story, analyzer.features(article)))
            for i, (story_a, a) in enumerate(rows):
                found.extend((a, b, story_a == story_b) for story_b, b in rows[i + 1 :])
    return found


def pr(decided: list[tuple[bool, bool]]) -> tuple[float, float]:
    tp = sum(s and m for s, m in decided)
    fp = sum(m and not s for s, m in decided)
    fn = sum(s and not m for s, m in decided)
    return tp / ((tp + fp) or 1), tp / ((tp + fn) or 1)


def compare_methods(analyzer: Analyzer) -> None:
    pairs = labelled_pairs(analyzer)
    index = ClusterIndex(WINDOW)
    seen: set[int] = set()
    for a, b, _ in pairs:
        for f in (a, b):
            if id(f) not in seen:
                seen.add(id(f))
                index.add(id(f), f)

    def jaccard(a: Features, b: Features) -> float:
        ka, kb = a.weights.keys(), b.weights.keys()
        return len(ka & kb) / (len(ka | kb) or 1)

    ours = pr(
        [
            (
                same,
                vetoed(a, b, WINDOW) is None
                and similarity(a, b, index.idf(a.language)) >= THRESHOLD,
            )
            for a, b, same in pairs
        ]
    )
    best = (0.0, 0.0, 0.0, 0.0)
    for step in range(5, 80):
        cut = step / 100
        p, r = pr([(same, jaccard(a, b) >= cut) for a, b, same in pairs])
        f1 = 2 * p * r / ((p + r) or 1)
        best = max(best, (f1, cut, p, r))
    positives = sorted(jaccard(a, b) for a, b, same in pairs if same)
    print(f"labelled pairs: {len(pairs)} ({len(positives)} of one story)")
    print(
        f"  this decision: precision {ours[0]:.3f}, recall {ours[1]:.3f}\n"
        f"  plain Jaccard of the same tokens, best threshold {best[1]:.2f}: precision"
        f" {best[2]:.3f}, recall {best[3]:.3f}; median Jaccard of one story's two articles"
        f" {statistics.median(positives):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=2_000)
    args = parser.parse_args()

    gen = Generator()
    analyzer = Analyzer()
    compare_methods(analyzer)
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
    entries = [index.entry(a.url) for a in window]
    began = time.perf_counter()
    for feature in queries[:20]:
        idf = index.idf(feature.language)
        for entry in entries:
            if entry is not None and vetoed(feature, entry.features, WINDOW) is None:
                similarity(feature, entry.features, idf)
    scan_ms = (time.perf_counter() - began) * 1000 / 20
    print(f"a linear scan of the window instead: {scan_ms:.0f} ms an article")
    print(f"median / target ({TARGET_MS} ms): {median / TARGET_MS:.2f}x")


if __name__ == "__main__":
    main()
