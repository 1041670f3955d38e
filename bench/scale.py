"""Many workers against Discord's global limit (run by hand).

    .venv/bin/python bench/scale.py [--channels 2000] [--workers 4] [--db URL]

2,000 digest channels are due in the same minute, each with a digest of 2 messages, and 4
``newsbot worker`` processes share one database (PostgreSQL: ``--db postgresql://...``, or
``NEWSBOT_TEST_PG_DSN``'s server, or a throwaway cluster started here as the tests do; ``--db
sqlite`` for a SQLite file the workers share). The Discord double runs in this process with
Discord's real limits: 50 requests a second for the bot in all, 5 messages per 5 s per
channel.

The floor: 4,000 messages at 50 a second is 80 s. The workers split the limit (each makes up
to 49 // 4 = 12 requests a second, one place kept for a newcomer: 48 a second together), so
their own floor is 83 s. It prints the time from the first message to the last against the
80 s floor (target: 1.15x or less), the wall time from starting the workers, and the 429s
the double answered (there must be none).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.store.dsn import DatabaseUrl  # noqa: E402
from tests import pg  # noqa: E402
from tests.discord_double import DiscordDouble  # noqa: E402
from tests.fleet import PARTS, newsroom, prepare_fleet  # noqa: E402

GLOBAL_LIMIT = 50


async def database(stack: AsyncExitStack, choice: str | None, folder: Path) -> Path | DatabaseUrl:
    if choice == "sqlite":
        return folder / "newsbot.db"
    if choice:
        return DatabaseUrl.parse(choice)
    admin = stack.enter_context(pg.server())
    if admin is None:
        raise SystemExit(f"no PostgreSQL here: {pg.SKIP}; or --db sqlite")
    url, name = await pg.fresh_database(admin)
    stack.push_async_callback(pg.drop_database, admin, name)
    return url


async def main(channels: int, workers: int, choice: str | None) -> None:
    double = DiscordDouble(guild=newsroom(channels))
    await double.start()
    async with AsyncExitStack() as stack:
        stack.push_async_callback(double.stop)
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        db = await database(stack, choice, folder)
        print(f"preparing {channels} channels x {PARTS} messages on {db} ...", flush=True)
        fleet = await prepare_fleet(double, folder, channels, db)
        expected = channels * PARTS
        first = len(double.requests)
        started = time.perf_counter()
        for _ in range(workers):
            await fleet.start()
        try:
            patience = 20 * expected / GLOBAL_LIMIT
            await double.wait_until(lambda: fleet.reached(expected), patience, "every message")
        except Exception:
            print(fleet.log_tail())
            raise
        wall = time.perf_counter() - started
        await fleet.stop()
        mine = double.requests[first:]
        posts = [r for r in mine if r.method == "POST" and r.path.endswith("/messages")]
        delivered = max(r.at for r in posts) - min(r.at for r in posts)
        floor = expected / GLOBAL_LIMIT
        print(
            f"{workers} workers, {channels} channels x {PARTS} messages: first to last message"
            f" {delivered:.1f}s, floor {floor:.0f}s, ratio {delivered / floor:.3f}x;"
            f" wall from start {wall:.1f}s; requests {len(mine)}; 429s {double.count_429}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--db", help="postgresql://... or sqlite (default: a throwaway cluster)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(args.channels, args.workers, args.db))
