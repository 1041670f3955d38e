"""The two stores side by side (run by hand: ``python bench/store.py``).

The same work on SQLite (a temp file) and PostgreSQL (``NEWSBOT_TEST_PG_DSN``, else a throwaway
cluster on 127.0.0.1, as the tests make it: fsync off, as SQLite's WAL with synchronous=NORMAL
does not sync each commit either): ingest of ``--files`` generated articles, approving them
all, one hundred 10-item digest selections, one hundred single-row writes (review posts), and
one thousand count reads (the queue's header). Prints each figure and PostgreSQL's ratio to
SQLite's. No target: this is the comparison the issue asks for, not a gate.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import SystemClock
from bot.ingest import ingest
from bot.store import Selection, SQLiteStore, Status, Store
from bot.store.postgres import PostgresStore
from tests.factory import write_corpus
from tests.pg import drop_database, fresh_database, server


async def timed(step: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await step()
    return time.perf_counter() - start


async def workload(store: Store, folder: Path) -> dict[str, float]:
    figures = {"ingest": await timed(lambda: ingest(store, [folder]))}
    figures["approve all"] = await timed(
        lambda: store.transition_all(Status.PENDING, Status.APPROVED, actor="bench")
    )

    async def select() -> None:
        for channel in range(100):
            await store.select_for_digest(Selection(limit=10, channel=channel))

    async def writes() -> None:
        for item_id in range(1, 101):
            await store.record_review_post(item_id, 1, 10_000 + item_id)

    async def counts() -> None:
        for _ in range(1_000):
            await store.count_by_status()

    figures["100 selections"] = await timed(select)
    figures["100 writes"] = await timed(writes)
    figures["1000 counts"] = await timed(counts)
    return figures


async def run(files: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, server() as admin:
        folder = Path(tmp) / "corpus"
        write_corpus(folder, files)
        sqlite = await SQLiteStore.open(Path(tmp) / "bench.db", SystemClock())
        try:
            lite = await workload(sqlite, folder)
        finally:
            await sqlite.close()
        if admin is None:
            print("no PostgreSQL: set NEWSBOT_TEST_PG_DSN or install postgresql")
            return
        url, name = await fresh_database(admin)
        try:
            postgres = await PostgresStore.open(url, SystemClock())
            try:
                pg = await workload(postgres, folder)
            finally:
                await postgres.close()
        finally:
            await drop_database(admin, name)
    print(f"{files} articles        SQLite    PostgreSQL   ratio")
    for step, seconds in lite.items():
        print(f"{step:<20} {seconds:8.3f} s {pg[step]:8.3f} s {pg[step] / seconds:7.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=2_000)
    asyncio.run(run(parser.parse_args().files))


if __name__ == "__main__":
    main()
