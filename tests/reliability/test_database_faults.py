"""Database faults (issue 7, part 3): the SQLite file locked by another process, a read-only
database, a full disk. Each must give one clear error naming the file, leave nothing
half-written, and work again once the fault clears.

How the faults are made:

- **locked**: a separate process holds ``BEGIN EXCLUSIVE`` on the file (in WAL mode readers
  still read; writers wait ``busy_timeout``, 2 s in the store, then fail). The store does not
  let callers choose that timeout, so the lock tests wait the real 5 s (once, in parallel).
- **read-only**: ``chmod 444``. Root ignores file modes, so as root the ``newsbot`` process
  runs through ``setpriv`` without the capabilities that override them (skipped when
  ``setpriv`` is missing).
- **full disk**: ``RLIMIT_FSIZE`` on the ``newsbot`` process (any user, any file system; SQLite
  then sees EFBIG, a "disk I/O error"), and a real tiny tmpfs (ENOSPC, "database or disk is
  full") where a user and mount namespace can be made (``unshare -rm``; skipped elsewhere).
  ``PRAGMA max_page_count`` cannot do it: it is a setting of one connection, not of the file.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.clock import SystemClock
from bot.errors import StoreError
from bot.ingest import BATCH, ingest
from bot.store import SQLiteStore, Status
from bot.store.sqlite import _BUSY_TIMEOUT_MS
from tests.discord_double import DiscordDouble
from tests.factory import write_corpus
from tests.reliability.harness import (
    Run,
    count_rows,
    dump,
    integrity,
    newsbot,
    newsbot_async,
    running_bot,
    seed_db,
    seed_files,
    settings_for,
)

LOCKED = "database is locked (another process holds a lock on it; try again when it is done)"
READ_ONLY = "attempt to write a readonly database (the file or its folder is read-only)"
NOTHING = "; nothing was changed"

_LOCKER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
if len(sys.argv) > 2:
    time.sleep(float(sys.argv[2]))  # the fault's length, not a wait for the test
else:
    sys.stdin.readline()
connection.execute("COMMIT")
print("released", flush=True)
"""


@asynccontextmanager
async def locked(db: Path, hold: float | None = None) -> AsyncIterator[Callable[[], Any]]:
    """Another process holding an exclusive lock on ``db`` until ``release()`` is awaited
    (or for ``hold`` seconds)."""
    args = [str(db)] if hold is None else [str(db), str(hold)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _LOCKER,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    assert await proc.stdout.readline() == b"locked\n"
    released = False

    async def release() -> None:
        nonlocal released
        assert proc.stdin is not None and proc.stdout is not None
        if hold is None:
            proc.stdin.write(b"\n")
            await proc.stdin.drain()
        assert await proc.stdout.readline() == b"released\n"
        assert await proc.wait() == 0
        released = True

    try:
        yield release
    finally:
        if not released:
            proc.kill()
            await proc.wait()


async def _fresh_articles(folder: Path, count: int) -> list[Path]:
    write_corpus(folder, count, seed=3)
    return sorted(folder.rglob("*.md"))


# ---------------------------------------------------------------------------------------------
# Locked


async def test_a_locked_database_is_one_clear_error_changes_nothing_and_recovers(
    tmp_path: Path, figures: dict[str, Any]
) -> None:
    db = tmp_path / "newsbot.db"
    ids = await seed_db(db, seed_files(3))
    files = await _fresh_articles(tmp_path / "new", 20)
    before = dump(db)
    async with locked(db) as release:
        # Opening and reading work while another process writes (WAL).
        store = await SQLiteStore.open(db, SystemClock())
        try:
            assert (await store.get(ids[0])).status is Status.PENDING

            async def in_process() -> tuple[StoreError, float]:
                started = time.monotonic()
                with pytest.raises(StoreError) as error:
                    await ingest(store, files)
                return error.value, time.monotonic() - started

            (error, waited), cli_ingest, cli_approve, cli_queue = await asyncio.gather(
                in_process(),
                newsbot_async("ingest", "--db", str(db), str(tmp_path / "new"), cwd=tmp_path),
                newsbot_async("approve", str(ids[0]), "--db", str(db), cwd=tmp_path),
                newsbot_async("queue", "--json", "--db", str(db), cwd=tmp_path),
            )
            assert str(error) == f"{db}: database error: {LOCKED}{NOTHING}"
            assert (cli_ingest.returncode, cli_ingest.err_lines) == (
                1,
                [f"newsbot: error: {db}: database error: {LOCKED}{NOTHING}"],
            )
            assert (cli_approve.returncode, cli_approve.err_lines) == (
                1,
                [f"newsbot approve: {db}: database error: {LOCKED}{NOTHING}"],
            )
            assert cli_queue.returncode == 0 and len(json.loads(cli_queue.stdout)) == len(ids)
            assert dump(db) == before
            await release()
            started = time.monotonic()
            report = await ingest(store, files)
            recovery = time.monotonic() - started
            assert (report.new, report.rejected) == (len(files), 0)
        finally:
            await store.close()
    approve = await newsbot_async("approve", str(ids[0]), "--db", str(db), cwd=tmp_path)
    assert approve.returncode == 0, approve.stderr
    assert integrity(db) == "ok"
    figures["database locked: gave up after (s)"] = round(waited, 2)
    figures["database locked: ingest of 20 files after release (s)"] = round(recovery, 3)
    assert _BUSY_TIMEOUT_MS / 1000 - 0.5 <= waited < 10


async def test_a_lock_held_shorter_than_the_busy_timeout_only_delays_a_write(
    tmp_path: Path, figures: dict[str, Any]
) -> None:
    db = tmp_path / "newsbot.db"
    await seed_db(db, seed_files(1))
    files = await _fresh_articles(tmp_path / "new", 10)
    store = await SQLiteStore.open(db, SystemClock())
    try:
        async with locked(db, hold=1.0) as release:
            started = time.monotonic()
            report = await ingest(store, files)
            waited = time.monotonic() - started
            await release()
    finally:
        await store.close()
    assert (report.new, report.rejected) == (len(files), 0)
    assert waited >= 0.5  # the lock was really held: the write waited for its release
    figures["database locked 1 s: write completed after (s)"] = round(waited, 2)


async def test_a_slash_command_on_a_locked_database_answers_in_time(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    db = tmp_path / "newsbot.db"
    ids = await seed_db(db, seed_files(1))
    settings = settings_for(discord_double, db, review_channel=None)
    async with running_bot(settings, discord_double), locked(db) as release:
        handle = await discord_double.send_slash_command(
            "news approve", {"item": ids[0]}, user="moderator"
        )
        try:
            response = await handle.response(timeout=4)
            if response.type == 5:  # deferred: the answer comes as a follow-up
                text = (await handle.wait_for_followups(1, timeout=10))[0]["content"]
            else:
                text = response.data["content"]
        finally:
            await release()
    assert response.ephemeral
    assert text == "⚠️ The queue database is not available right now; nothing was changed."


# ---------------------------------------------------------------------------------------------
# Read-only


def _without_override() -> list[str]:
    """A command prefix that makes file modes apply to this user (root ignores them)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv is missing: cannot make a file read-only")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def _chmod_db(db: Path, mode: int) -> None:
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if path.exists():
            path.chmod(mode)


async def test_a_read_only_database_is_one_clear_error_and_recovers(tmp_path: Path) -> None:
    prefix = _without_override()
    db = tmp_path / "newsbot.db"
    ids = await seed_db(db, seed_files(3))
    await _fresh_articles(tmp_path / "new", 10)
    before = dump(db)

    def run(*args: str) -> Run:
        return newsbot(*args, "--db", str(db), cwd=tmp_path, prefix=prefix)

    _chmod_db(db, 0o444)
    try:
        listed = run("queue", "--json")
        assert listed.returncode == 0, listed.stderr
        assert len(json.loads(listed.stdout)) == len(ids)
        ingested = run("ingest", str(tmp_path / "new"))
        assert (ingested.returncode, ingested.err_lines) == (
            1,
            [f"newsbot: error: {db}: database error: {READ_ONLY}{NOTHING}"],
        )
        approved = run("approve", str(ids[0]))
        assert (approved.returncode, approved.err_lines) == (
            1,
            [f"newsbot approve: {db}: database error: {READ_ONLY}{NOTHING}"],
        )
        # A read-only folder as well: not even the shared-memory file can be made.
        for extra in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            extra.unlink(missing_ok=True)
        tmp_path.chmod(0o555)
        try:
            listed = run("queue")
            assert (listed.returncode, listed.err_lines) == (
                1,
                [f"newsbot: error: {db}: database error: {READ_ONLY}{NOTHING}"],
            )
        finally:
            tmp_path.chmod(0o755)
        assert dump(db) == before
    finally:
        _chmod_db(db, 0o644)
    recovered = run("ingest", str(tmp_path / "new"))
    assert recovered.returncode == 0, recovered.stderr
    assert recovered.stdout.strip() == "10 new, 0 updated, 0 unchanged, 0 rejected"
    assert integrity(db) == "ok"


# ---------------------------------------------------------------------------------------------
# Full disk


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        # Past the limit a write fails with EFBIG instead of killing the process (SIGXFSZ).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _big_articles(folder: Path, count: int, prefix: str = "z") -> None:
    """Articles of about 900 KB each (a long Markdown body), sorted after smaller ones."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        body = f"Paragraph {n} of a very long article body.\n" * 21_000
        text = f'---\ntitle: "Long read {n}"\nwebUrl: "https://long.example/{n}"\n---\n{body}'
        (folder / f"{prefix}-{n:03d}.md").write_text(text[: 1024 * 1024 - 100])


DISK_LIMIT = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str], Run]:
    """A queue of seeds, then an ingest of five big articles with files capped at 4 MB."""
    tmp = tmp_path_factory.mktemp("full")
    db = tmp / "newsbot.db"
    asyncio.run(seed_db(db, seed_files()))
    _big_articles(tmp / "big", 5)
    before = dump(db)
    run = newsbot(
        "ingest", "--db", str(db), str(tmp / "big"), cwd=tmp,
        preexec_fn=_file_size_limit(DISK_LIMIT),
    )  # fmt: skip
    return db, tmp, before, run


def test_a_full_disk_is_a_clear_error_changes_nothing_and_recovers(
    full_disk: tuple[Path, Path, list[str], Run], figures: dict[str, Any]
) -> None:
    db, tmp, before, run = full_disk
    figures["full disk (RLIMIT_FSIZE): error"] = run.err_lines[-1].split("database error: ")[-1]
    assert run.returncode == 1
    assert re.fullmatch(
        rf"newsbot: error: {re.escape(str(db))}: database error: "
        r"(disk I/O error|database or disk is full) \([^)]*\); nothing was changed",
        run.err_lines[-1],
    ), run.stderr
    assert dump(db) == before
    assert integrity(db) == "ok"
    recovered = newsbot("ingest", "--db", str(db), str(tmp / "big"), cwd=tmp)
    assert recovered.stdout.strip() == "5 new, 0 updated, 0 unchanged, 0 rejected"


def test_a_full_disk_is_exactly_one_line(full_disk: tuple[Path, Path, list[str], Run]) -> None:
    _, _, _, run = full_disk
    assert len(run.err_lines) == 1, run.stderr
    assert "see the error above" not in run.stderr


def _partial(tmp: Path) -> tuple[Path, Run, int, int]:
    """An ingest whose first batch fits on the disk and whose second does not."""
    db = tmp / "newsbot.db"
    asyncio.run(seed_db(db, seed_files()))
    before = count_rows(db, "articles")
    write_corpus(tmp / "mixed", BATCH, seed=5)  # batch-00/article-*.md: sorted first
    _big_articles(tmp / "mixed" / "zz", 5)
    run = newsbot(
        "ingest", "--db", str(db), str(tmp / "mixed"), cwd=tmp,
        preexec_fn=_file_size_limit(DISK_LIMIT),
    )  # fmt: skip
    return db, run, before, count_rows(db, "articles")


def test_a_disk_filling_up_mid_ingest_leaves_whole_articles_and_the_rest_follows(
    tmp_path: Path,
) -> None:
    db, run, before, after = _partial(tmp_path)
    assert run.returncode == 1 and "database error" in run.err_lines[-1]
    assert after == before + BATCH  # the first batch was committed, the second not at all
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        orphans = connection.execute(
            "SELECT count(*) FROM articles a WHERE NOT EXISTS"
            " (SELECT 1 FROM audit_log l WHERE l.article_id = a.id AND l.action = 'ingested')"
        ).fetchone()[0]
        stray = connection.execute(
            "SELECT count(*) FROM related r WHERE NOT EXISTS"
            " (SELECT 1 FROM articles a WHERE a.id = r.article_id)"
        ).fetchone()[0]
    finally:
        connection.close()
    assert (orphans, stray) == (0, 0)
    assert integrity(db) == "ok"
    again = newsbot("ingest", "--db", str(db), str(tmp_path / "mixed"), cwd=tmp_path)
    assert again.stdout.strip() == f"5 new, 0 updated, {BATCH} unchanged, 0 rejected"


def test_a_disk_filling_up_mid_ingest_says_what_was_stored(tmp_path: Path) -> None:
    _, run, before, after = _partial(tmp_path)
    assert after > before
    assert "nothing was changed" not in run.stderr
    assert f"{after - before} new" in run.stdout + run.stderr


_TINYFS = """
import json, os, shutil, sqlite3, subprocess, sys
mount, db, articles = sys.argv[1], sys.argv[2], sys.argv[3]
here = os.path.join(mount, "newsbot.db")
shutil.copy(db, here)
def dump():
    c = sqlite3.connect(here)
    try:
        return list(c.iterdump()), c.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        c.close()
before, _ = dump()
free = shutil.disk_usage(mount).free
with open(os.path.join(mount, "filler"), "wb") as f:  # leave 96 KB free
    f.write(b"\\0" * max(free - 96 * 1024, 0))
def ingest():
    r = subprocess.run([sys.executable, "-m", "bot", "ingest", "--db", here, articles],
                       capture_output=True, text=True)
    return {"code": r.returncode, "out": r.stdout, "err": r.stderr}
full = ingest()
os.remove(os.path.join(mount, "filler"))  # space freed: first look at what the fault left
after, check = dump()
freed = ingest()
print(json.dumps({"full": full, "unchanged": after == before, "integrity": check,
                  "freed": freed}))
"""


def test_a_real_full_file_system_is_a_clear_error_and_recovers_when_space_is_freed(
    tmp_path: Path, figures: dict[str, Any]
) -> None:
    unshare = shutil.which("unshare")
    mount = tmp_path / "tiny"
    mount.mkdir()
    probe = subprocess.run(
        [unshare or "unshare", "-rm", "mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    ) if unshare else None  # fmt: skip
    if probe is None or probe.returncode != 0:
        pytest.skip("cannot mount a tmpfs in a user and mount namespace here")
    db = tmp_path / "newsbot.db"
    asyncio.run(seed_db(db, seed_files(3)))
    write_corpus(tmp_path / "new", 30, seed=9)
    result = subprocess.run(
        [
            unshare, "-rm", "sh", "-c",
            'mount -t tmpfs -o size=2m tmpfs "$1" && shift && exec "$@"', "sh",
            str(mount), sys.executable, "-c", _TINYFS, str(mount), str(db), str(tmp_path / "new"),
        ],
        capture_output=True, text=True, check=False, timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    full = outcome["full"]
    here = mount / "newsbot.db"
    assert full["code"] == 1
    assert re.fullmatch(
        rf"newsbot: error: {re.escape(str(here))}: database error: "
        r"(disk I/O error|database or disk is full) \([^)]*\); nothing was changed",
        full["err"].splitlines()[-1],
    ), full["err"]
    figures["full disk (tmpfs): error"] = full["err"].splitlines()[-1].split("database error: ")[1]
    assert outcome["unchanged"] and outcome["integrity"] == "ok"
    assert outcome["freed"]["out"].strip() == "30 new, 0 updated, 0 unchanged, 0 rejected"


def test_the_database_named_before_the_command_is_the_one_used(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen.db"
    run = newsbot("--db", str(chosen), "ingest", str(seed_files(1)[0]), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert chosen.exists() and not (tmp_path / "newsbot.db").exists()
