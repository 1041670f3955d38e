"""Ingest: folders, bad files beside good ones, re-ingest, and the exact report."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import SystemClock
from bot.ingest import ingest, read_sources
from bot.store import QueueQuery, SQLiteStore, Status

GOOD = "---\ntitle: {title}\nwebUrl: https://example.com/{n}\nquality: {q}\n---\n"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = await SQLiteStore.open(tmp_path / "q.db", SystemClock())
    yield opened
    await opened.close()


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


async def test_folders_are_walked_and_bad_files_reported_beside_good_ones(
    store: SQLiteStore, tmp_path: Path
) -> None:
    feed = tmp_path / "feed"
    write(feed / "a.md", GOOD.format(title="A", n=1, q=10))
    write(feed / "nested" / "deeper" / "b.md", GOOD.format(title="B", n=2, q=20))
    write(feed / "nested" / "notes.txt", "not an article")  # ignored: not .md
    write(feed / ".hidden" / "c.md", GOOD.format(title="C", n=3, q=30))  # ignored: hidden
    bad = write(feed / "z-bad.md", "---\ntitle: x\nwebUrl: ftp://e.com/\n---\n")
    report = await ingest(store, [feed, tmp_path / "missing.md"])
    assert report.summary == "2 new, 0 updated, 0 unchanged, 2 rejected"
    assert report.errors == [
        f"{bad}:3: webUrl: 'ftp://e.com/' is not an http(s) URL",
        f"{tmp_path / 'missing.md'}:1: no such file or directory",
    ]
    titles = [i.article.title for i in await store.list_items(QueueQuery())]
    assert titles == ["A", "B"]


async def test_reingest_counts_unchanged_and_updated(store: SQLiteStore, tmp_path: Path) -> None:
    a = write(tmp_path / "a.md", GOOD.format(title="A", n=1, q=10))
    write(tmp_path / "b.md", GOOD.format(title="B", n=2, q=20))
    assert (await ingest(store, [tmp_path])).summary == "2 new, 0 updated, 0 unchanged, 0 rejected"
    assert (await ingest(store, [tmp_path])).summary == "0 new, 0 updated, 2 unchanged, 0 rejected"
    write(a, GOOD.format(title="A, corrected", n=1, q=10))
    assert (await ingest(store, [tmp_path])).summary == "0 new, 1 updated, 1 unchanged, 0 rejected"
    assert (await store.get(1)).article.title == "A, corrected"


async def test_stdin_and_published_flag(store: SQLiteStore) -> None:
    text = GOOD.format(title="Already out", n=9, q=1).replace("---\n", "---\npublished: true\n", 1)
    report = await ingest(store, ["-"], stdin=io.BytesIO(text.encode()))
    assert report.summary == "1 new, 0 updated, 0 unchanged, 0 rejected"
    assert (await store.get(report.new_ids[0])).status is Status.PUBLISHED


async def test_stored_items_survive_a_bad_reingest(store: SQLiteStore, tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", GOOD.format(title="A", n=1, q=10))
    await ingest(store, [path])
    write(path, "---\ntitle: [broken\n---\n")
    report = await ingest(store, [path])
    assert report.rejected == 1
    assert (await store.get(1)).article.title == "A"


async def test_warnings_do_not_reject(store: SQLiteStore, tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.md",
        "---\ntitle: A\nwebUrl: https://e.com/a\nrelated:\n  - title: no url\n---\n",
    )
    report = await ingest(store, [path])
    assert report.summary == "1 new, 0 updated, 0 unchanged, 0 rejected"
    assert report.warnings == [f"{path}:4: warning: related[1]: no webUrl; entry dropped"]


def test_an_endless_device_is_too_large_without_a_made_up_size() -> None:
    # Not a regular file: its size says nothing, and it is read no further than the limit.
    [source] = read_sources([Path("/dev/zero")])
    assert source.data is None
    assert source.error == "/dev/zero:1: file too large (more than 1 MiB; at most 1 MiB)"
