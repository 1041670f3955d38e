"""Write queue items back as front-matter files (``newsbot export``).

Each file is the article as it was read (same fields, unknown ones included, same body), with
``published: true`` added once the queue has published it, so ingesting an export into a fresh
database gives the same articles and never re-posts what is already out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from bot.articles.frontmatter import export_text
from bot.store import QueueItem, Status


def _slug(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:60].rstrip("-") or "article"


def write_export(folder: Path, items: Sequence[QueueItem]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for item in items:
        path = folder / f"{item.id:05d}-{_slug(item.article.title)}.md"
        text = export_text(item.article, published=item.status is Status.PUBLISHED)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
