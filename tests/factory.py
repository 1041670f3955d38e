"""Generated article files for large-batch tests and benchmarks (deterministic by seed)."""

from __future__ import annotations

import random
from pathlib import Path

TOPICS = ["AI", "Climate", "Space", "Security", "Energy", "Robotics", "Privacy", "Biotech"]
OUTLETS = [
    ("Reuters", "reuters.com"),
    ("BBC News", "bbc.co.uk"),
    ("Le Monde", "lemonde.fr"),
    ("Der Spiegel", "spiegel.de"),
    ("Ars Technica", "arstechnica.com"),
    ("NHK", "nhk.or.jp"),
]
WORDS = [
    "grid",
    "battery",
    "model",
    "launch",
    "orbit",
    "policy",
    "court",
    "study",
    "vaccine",
    "chip",
    "export",
    "climate",
    "sensor",
    "privacy",
    "agency",
    "budget",
    "reactor",
    "satellite",
    "network",
    "breach",
    "robot",
    "protein",
    "ocean",
    "solar",
    "wind",
]

BAD_DOCUMENTS = [
    "title: [unclosed\nwebUrl: https://bad.example/1\n",
    "webUrl: https://bad.example/2\n",
    "title: Bad scheme\nwebUrl: 'javascript:alert(1)'\n",
    "title: Bad quality\nwebUrl: https://bad.example/4\nquality: high\n",
    "title: Bad topics\nwebUrl: https://bad.example/5\ntopics: AI\n",
]


def article_text(n: int, rng: random.Random) -> str:
    outlet, domain = OUTLETS[n % len(OUTLETS)]
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60)))
    related = "".join(
        f'  - title: "Coverage {n}-{r}"\n'
        f'    webUrl: "https://{OUTLETS[(n + r + 1) % len(OUTLETS)][1]}/story/{n}-{r}"\n'
        f"    provider:\n      name: {OUTLETS[(n + r + 1) % len(OUTLETS)][0]}\n"
        f"      domain: {OUTLETS[(n + r + 1) % len(OUTLETS)][1]}\n"
        f"    quality: {rng.randint(10, 90)}\n"
        for r in range(rng.randint(0, 4))
    )
    related_block = f"related:\n{related}" if related else "related: []\n"
    return (
        "---\n"
        "category: news\n"
        f'title: "Generated story {n} about {rng.choice(WORDS)}"\n'
        f'excerpt: "{words}"\n'
        f"publishedDateTime: 2026-11-{1 + n % 25:02d}T{n % 24:02d}:00:00Z\n"
        f'webUrl: "https://{domain}/news/{n}"\n'
        "type: article\n"
        f"quality: {rng.randint(1, 99)}\n"
        f"heat: {rng.randint(-1, 500)}\n"
        "published: false\n"
        f"provider:\n  name: {outlet}\n  domain: {domain}\n"
        f"topics:\n  - {TOPICS[n % len(TOPICS)]}\n  - {TOPICS[(n * 7) % len(TOPICS)]}\n"
        "images:\n"
        f'  - url: "https://img.{domain}/{n}.jpg"\n    width: 640\n    height: 360\n'
        f"{related_block}---\n"
    )


def write_corpus(folder: Path, count: int, bad_ratio: float = 0.0, seed: int = 1) -> list[Path]:
    """Write ``count`` article files (``bad_ratio`` of them malformed) in nested folders;
    returns the paths of the malformed ones."""
    rng = random.Random(seed)
    bad: list[Path] = []
    every = int(1 / bad_ratio) if bad_ratio else 0
    for n in range(count):
        sub = folder / f"batch-{n // 1000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"article-{n:05d}.md"
        if every and n % every == every - 1:
            path.write_text("---\n" + BAD_DOCUMENTS[n % len(BAD_DOCUMENTS)] + "---\n")
            bad.append(path)
        else:
            path.write_text(article_text(n, rng), encoding="utf-8")
    return bad
