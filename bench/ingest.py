"""Ingest speed against a parse-only floor (run by hand: ``python bench/ingest.py``).

The floor is what any ingest must do: read each file and parse its YAML with libyaml. Targets:
ingest ≤ 1.5x the floor; a second ingest of the same files ≤ 1.2x. Each side is the best of
``--runs`` rounds, taken in turn, so that other work on the machine weighs on both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import SystemClock
from bot.ingest import find_files, ingest
from bot.store import SQLiteStore
from tests.factory import write_corpus


def parse_floor(folder: Path) -> float:
    start = time.perf_counter()
    for path in find_files([folder]):
        assert isinstance(path, Path)
        text = path.read_bytes().decode("utf-8")
        front = text.split("\n---\n", 1)[0]
        yaml.load(front, Loader=yaml.CSafeLoader)
    return time.perf_counter() - start


async def timed_ingest(folder: Path, db: Path) -> tuple[float, str]:
    store = await SQLiteStore.open(db, SystemClock())
    try:
        start = time.perf_counter()
        report = await ingest(store, [folder])
        return time.perf_counter() - start, report.summary
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    floors, firsts, seconds = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "feed"
        write_corpus(folder, args.files)
        parse_floor(folder)  # warm the page cache so both sides read from memory
        for run in range(args.runs):
            db = Path(tmp) / f"q{run}.db"
            floors.append(parse_floor(folder))
            first, summary = asyncio.run(timed_ingest(folder, db))
            second, summary2 = asyncio.run(timed_ingest(folder, db))
            firsts.append(first)
            seconds.append(second)
    floor, first, second = min(floors), min(firsts), min(seconds)
    print(f"files:            {args.files:,}")
    print(f"parse-only floor: {floor:.2f} s")
    print(f"ingest:           {first:.2f} s  ({summary})")
    print(f"                  ratio {first / floor:.2f}x the floor (target <= 1.5x)")
    print(f"re-ingest:        {second:.2f} s  ({summary2})")
    print(f"                  ratio {second / floor:.2f}x the floor (target <= 1.2x)")


if __name__ == "__main__":
    main()
