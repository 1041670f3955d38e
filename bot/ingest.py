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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from bot.articles import MAX_FILE_BYTES, Article, parse_article, source_hash
from bot.clock import Clock
from bot.cluster import Analyzer, ClusterIndex
from bot.config import AutoApprove, Clustering
from bot.errors import ArticleError, StoreError
from bot.moderation import auto_approvals
from bot.store import Approval, Merge, Outcome, Store

log = logging.getLogger(__name__)

ARTICLE_SUFFIXES = (".md", ".markdown")
BATCH = 500

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class IngestReport:
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    """One line per file rejected."""
    warnings: list[str] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)
    clustered_into: list[int] = field(default_factory=list)
    """The item each clustered article joined (one entry per article), for the review channel
    to show their new coverage."""
    clustering: bool = False
    """Whether this run clustered (then the summary ends with ``N clustered``)."""

    @property
    def new(self) -> int:
        return len(self.new_ids)

    @property
    def clustered(self) -> int:
        return len(self.clustered_into)

    @property
    def rejected(self) -> int:
        return len(self.errors)

    @property
    def summary(self) -> str:
        text = (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.rejected} rejected"
        )
        return f"{text}, {self.clustered} clustered" if self.clustering else text


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
        try:
            path.stat()
        except FileNotFoundError:
            yield str(raw)
            continue
        except OSError:
            # A name too long, a folder we may not look into: reading it reports why.
            yield path
            continue
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and name.lower().endswith(ARTICLE_SUFFIXES):
                        yield Path(root) / name
        else:
            yield path


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


class Clusterer:
    """The clustering window of one app, kept between batches: a bot that polls feeds every
    few minutes would otherwise rebuild the index of its whole window for every feed.

    Before each batch it reads from the store only what it has not seen (items stored since,
    by any process, and older ones when a batch reaches further back), so articles stored by a
    ``newsbot ingest`` beside a running bot are in its window too. The store re-checks the
    one-outlet rule as it merges, so a decision made on a stale view never merges two articles
    of one outlet.
    """

    def __init__(self, store: Store, settings: Clustering, clock: Clock) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.analyzer = Analyzer()
        self.index = ClusterIndex(settings.window, settings.threshold)
        self._since: datetime | None = None
        self._last_id = 0
        self._batch: list[str] = []
        self.lock = asyncio.Lock()

    def forget_batch(self) -> None:
        """The last planned batch was not stored: the stories it started are not items."""
        self.index.discard(self._batch)
        self._batch = []

    async def _refresh(self, since: datetime) -> None:
        start = min(since, self._since or since)
        leads = await self.store.story_leads(
            start, loaded_since=self._since, after_id=self._last_id
        )
        # Features are made off the event loop: a first window of 50,000 items takes seconds.
        features = await asyncio.to_thread(
            lambda: [self.analyzer.features(lead.article, lead.at) for lead in leads]
        )
        for lead, feature in zip(leads, features, strict=True):
            self._last_id = max(self._last_id, lead.id)
            if lead.article.url not in self.index:
                self.index.add(lead.article.url, feature, lead.outlets)
        self._since = start

    async def plan(self, articles: Sequence[Article]) -> dict[str, Merge]:
        """Which of ``articles`` join a story of the window (by url); the others are new
        stories, which later articles of the same batch may join."""
        self._batch = []
        now = self.clock.now()
        new = [a for a in articles if a.url not in self.index]
        if not new:
            return {}
        window = self.settings.window
        since = min(a.published_at or now for a in new) - window
        if self._since is not None and since - self._since > 2 * window:
            # The window has moved on (a bot running for days): forget what left it.
            self.index.prune(since)
            self._since = since
        await self._refresh(since)
        features = await asyncio.to_thread(lambda: [self.analyzer.features(a, now) for a in new])
        merges: dict[str, Merge] = {}
        for article, feature in zip(new, features, strict=True):
            if article.url in self.index or article.url in merges:
                continue
            placed = self.index.place(feature)
            if placed.entry is None:
                self.index.add(article.url, feature)
                self._batch.append(article.url)
                continue
            placed.entry.outlets.add(feature.outlet)
            merges[article.url] = Merge(placed.entry.key, feature.outlet, round(placed.score, 4))
        return merges


async def store_articles(
    store: Store,
    articles: Sequence[Article],
    report: IngestReport,
    *,
    actor: str,
    auto_approve: AutoApprove,
    feed: str | None = None,
    cluster: Clusterer | None = None,
) -> None:
    """Store parsed articles (from files or feeds) in one transaction, applying the
    auto-approve policy, and count the outcomes into ``report``. Every source of articles goes
    through here, so they all follow the same rules. ``feed`` names the feed that brought the
    batch (for ``auto_approve.feeds``); outlets trusted from Discord are read here, per batch,
    so a Trust outlet click applies to the next batch. With ``cluster`` (the app's
    :class:`Clusterer`), an article on a story another outlet's item already reports becomes
    that item's related coverage instead of an item."""
    trusted = await store.trusted_providers()
    approvals = auto_approvals(articles, auto_approve, trusted=trusted, feed=feed)
    if cluster is None:
        await _store(store, articles, report, actor, approvals, {})
        return
    report.clustering = True
    # One batch at a time: a batch decides against the stories the one before it stored (two
    # feeds polled at once must not both start the same story).
    async with cluster.lock:
        merges = await cluster.plan(articles)
        try:
            await _store(store, articles, report, actor, approvals, merges)
        except BaseException:
            cluster.forget_batch()
            raise


async def _store(
    store: Store,
    articles: Sequence[Article],
    report: IngestReport,
    actor: str,
    approvals: Mapping[str, Approval],
    merges: dict[str, Merge],
) -> None:
    results = await store.upsert_articles(articles, actor=actor, approvals=approvals, merges=merges)
    for item_id, outcome in results:
        if outcome is Outcome.CLUSTERED:
            report.clustered_into.append(item_id)
        elif outcome is Outcome.NEW:
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
    auto_approve: AutoApprove | None = None,
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
    cluster: Clusterer | None = None,
) -> IngestReport:
    """Store every good article under ``paths``; bad ones are reported, never fatal."""
    files = list(find_files(paths))
    report = IngestReport(clustering=cluster is not None)
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
                    auto_approve=auto_approve or AutoApprove(),
                    cluster=cluster,
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
