"""Walk article files and folders, parse them, and store them in batches; report the result.

A bad file never stops the batch: it is reported as ``PATH:LINE: problem`` and the good files
are still stored. Files whose bytes are already stored are counted as unchanged without being
parsed again, which keeps a re-ingest of a large feed cheap.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from bot.articles import MAX_FILE_BYTES, Article, parse_article, source_hash
from bot.errors import ArticleError, StoreError
from bot.moderation import auto_approvals
from bot.store import Outcome, Store

log = logging.getLogger(__name__)

ARTICLE_SUFFIXES = (".md", ".markdown")
BATCH = 500

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class IngestReport:
    updated: int = 0
    unchanged: int = 0
    clustered: int = 0
    """New articles that became another item's related coverage (issue 12, clustering)."""
    errors: list[str] = field(default_factory=list)
    """One line per file rejected."""
    warnings: list[str] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)

    @property
    def new(self) -> int:
        return len(self.new_ids)

    @property
    def rejected(self) -> int:
        return len(self.errors)

    @property
    def summary(self) -> str:
        return (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.rejected} rejected"
        )


@dataclass(frozen=True, slots=True)
class Source:
    """One article's bytes and the name it is reported under."""

    name: str
    data: bytes | None = None
    error: str | None = None


def find_files(paths: Iterable[str | Path]) -> Iterator[Path | str]:
    """Files named directly, and article files under folders (recursively, sorted, skipping
    hidden entries). A path that does not exist is yielded as a string to be reported."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and name.lower().endswith(ARTICLE_SUFFIXES):
                        yield Path(root) / name
        elif path.exists():
            yield path
        else:
            yield str(raw)


def _located(path: str, problem: str) -> str:
    """``PATH:1: problem`` as one printable line, like every parser error."""
    return str(ArticleError(path, 1, problem))


def read_sources(paths: Sequence[Path | str], stdin: BinaryIO | None = None) -> list[Source]:
    """Read every file; unreadable ones carry their error instead of their bytes."""
    sources: list[Source] = []
    for path in paths:
        if isinstance(path, str):
            if path == "-" and stdin is not None:
                sources.append(Source("<stdin>", stdin.read()))
            else:
                sources.append(Source(path, error=_located(path, "no such file or directory")))
            continue
        name = str(path)
        try:
            with open(name, "rb") as handle:
                info = os.fstat(handle.fileno())
                if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_FILE_BYTES:
                    # Sized from fstat like Path.read_bytes; read(n) would allocate n bytes
                    # for every file, which cost more than the reading itself.
                    data = handle.read()
                else:
                    # One byte past the limit tells a file too large without reading all of a
                    # huge file (or an endless pipe, whose size is 0).
                    data = handle.read(MAX_FILE_BYTES + 1)
                if len(data) > MAX_FILE_BYTES:
                    size = (
                        f"{max(info.st_size, len(data)):,} bytes"
                        if stat.S_ISREG(info.st_mode)
                        else "more than 1 MiB"
                    )
                    problem = f"file too large ({size}; at most 1 MiB)"
                    sources.append(Source(name, error=_located(name, problem)))
                    continue
        except OSError as exc:
            sources.append(Source(name, error=_located(name, f"cannot read ({exc.strerror})")))
            continue
        sources.append(Source(name, data))
    return sources


def parse_sources(
    sources: Sequence[Source], known: set[str]
) -> tuple[list[Article], list[str], list[str], int]:
    """Parse what is not stored already; returns (articles, errors, warnings, unchanged)."""
    articles: list[Article] = []
    errors: list[str] = []
    warnings: list[str] = []
    unchanged = 0
    for source in sources:
        if source.error is not None or source.data is None:
            errors.append(source.error or f"{source.name}:1: unreadable")
            continue
        if known and source_hash(source.data) in known:
            unchanged += 1
            continue
        try:
            article = parse_article(source.name, source.data)
        except ArticleError as exc:
            errors.append(str(exc))
            continue
        articles.append(article)
        warnings.extend(article.warnings)
    return articles, errors, warnings, unchanged


async def store_articles(
    store: Store,
    articles: Sequence[Article],
    report: IngestReport,
    *,
    actor: str,
    auto_approve_min_quality: int | None,
) -> None:
    """Store parsed articles (from files or feeds) in one transaction, applying the
    auto-approve policy, and count the outcomes into ``report``. Every source of articles goes
    through here, so they all follow the same rules."""
    results = await store.upsert_articles(
        articles, actor=actor, approvals=auto_approvals(articles, auto_approve_min_quality)
    )
    for item_id, outcome in results:
        if outcome is Outcome.NEW:
            report.new_ids.append(item_id)
        elif outcome is Outcome.UPDATED:
            report.updated += 1
        else:
            report.unchanged += 1


async def ingest(
    store: Store,
    paths: Sequence[str | Path],
    *,
    actor: str = "ingest",
    auto_approve_min_quality: int | None = None,
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Store every good article under ``paths``; bad ones are reported, never fatal."""
    files = list(find_files(paths))
    report = IngestReport()
    done = 0
    for start in range(0, len(files), BATCH):
        batch = files[start : start + BATCH]
        # File reading and YAML parsing are blocking; keep them off the event loop so a bot
        # running in the same process keeps answering.
        sources = await asyncio.to_thread(read_sources, batch, stdin)
        hashes = [source_hash(s.data) for s in sources if s.data is not None]
        known = await store.known_hashes(hashes)
        articles, errors, warnings, unchanged = await asyncio.to_thread(
            parse_sources, sources, known
        )
        report.errors.extend(errors)
        report.warnings.extend(warnings)
        report.unchanged += unchanged
        if articles:
            try:
                await store_articles(
                    store,
                    articles,
                    report,
                    actor=actor,
                    auto_approve_min_quality=auto_approve_min_quality,
                )
            except StoreError as exc:
                if not (report.new or report.updated):
                    raise
                # Earlier batches are committed: say so rather than 'nothing was changed'.
                raise StoreError(
                    f"{exc.reason}; this batch was not stored, the files before it were"
                    f" ({report.new} new, {report.updated} updated)",
                    unchanged=False,
                ) from exc
        done += len(batch)
        if progress is not None:
            progress(done, len(files))
    log.info("ingest: %s", report.summary)
    return report
