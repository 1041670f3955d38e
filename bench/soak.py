"""The long versions of the reliability runs (issue 7, parts 1, 2 and 8); run by hand:

    .venv/bin/python bench/soak.py [--trials 50] [--fault-seconds 60] [--only crash,faults,load]

* **crash**: 50 trials, each SIGKILLing ``newsbot publish`` or ``newsbot run`` at a random
  moment of a three-channel publish (once or twice) and restarting it; items lost and digest
  parts (and items) posted twice. Goal 0 and 0.
* **faults**: the running bot publishes five channels, several digests each, while 20% of
  message creates get 500/502 (some after Discord stored the message), about 8% 429, some
  connections drop before or after Discord handled the request, the gateway is closed every
  3 s (sometimes invalidating the session), some requests take 2 s, and moderators and
  members run slash commands every 0.5 s for at least a minute: digests lost and duplicated,
  429s, and acknowledgement times (Discord's limit: 3 s).
* **load**: 100,000 queued items, 20 digest channels, 200 slash commands in one minute from
  45 users while the bot publishes every channel every 10 s: p50/p99 acknowledgement (target
  p99 <= 50 ms) and items lost.

The scenarios are the suite's (``tests/reliability/test_crash.py``, ``test_faults.py``,
``test_load.py``) at full size; every random choice comes from ``--seed``. The bot's log goes
to ``soak.log`` in the work folder (``--keep`` keeps it). Exit status 1 if any goal is
missed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.reliability.test_crash import (  # noqa: E402
    SEED,
    describe_failures,
    run_crash_trials,
)
from tests.reliability.test_faults import FaultScale, run_faults  # noqa: E402
from tests.reliability.test_load import LoadScale, run_load  # noqa: E402

LOAD_P99_MS = 50.0
FAULTS = FaultScale(
    topics=("AI", "Climate", "Space", "Energy"),
    items_per_topic=30,
    pending=10,
    moderators=3,
    members=10,
    soak_seconds=60.0,
    close_every=3.0,
    command_every=0.5,
    slow_creates=10,
    slow_callbacks=5,
    slow_other=5,
)
LOAD = LoadScale()


def show(figures: dict[str, str]) -> None:
    width = max(len(name) for name in figures)
    for name, value in figures.items():
        print(f"{name.ljust(width)}  {value}", flush=True)


@contextmanager
def work_folder(keep: bool) -> Iterator[Path]:
    if keep:
        folder = Path(tempfile.mkdtemp(prefix="newsbot-soak-"))
        print(f"work folder: {folder}")
        yield folder
    else:
        with tempfile.TemporaryDirectory(prefix="newsbot-soak-") as name:
            yield Path(name)


async def main(args: argparse.Namespace) -> int:
    only = set(args.only.split(","))
    failures: list[str] = []
    started = time.monotonic()
    with work_folder(args.keep) as folder:
        logging.basicConfig(
            filename=folder / "soak.log",
            level=logging.INFO,
            format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        )
        print(f"seed {args.seed}")
        if "crash" in only:
            crash = await run_crash_trials(args.trials, args.seed, folder / "crash", jobs=args.jobs)
            show(crash.figures())
            audit = crash.audit
            if not audit.clean:
                failures.append("crash:\n" + describe_failures(crash))
        if "faults" in only:
            scale = FAULTS if args.fault_seconds is None else _seconds(FAULTS, args.fault_seconds)
            faults = await run_faults(folder / "faults", args.seed, scale)
            show(faults.figures())
            failures += [f"faults: {problem}" for problem in faults.failures()]
            if faults.extra_429:
                print("429s beyond the injected ones:", *faults.extra_429, sep="\n  ")
        if "load" in only:
            load = await run_load(folder / "load", args.seed, LOAD)
            show(load.figures())
            failures += [f"load: {problem}" for problem in load.failures(LOAD_P99_MS)]
    print(f"soak wall time {time.monotonic() - started:.1f} s")
    for failure in failures:
        print(f"MISSED {failure}")
    return 1 if failures else 0


def _seconds(scale: FaultScale, seconds: float) -> FaultScale:
    from dataclasses import replace

    return replace(scale, soak_seconds=seconds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50, help="crash trials (default 50)")
    parser.add_argument("--jobs", type=int, default=2, help="crash trials at once (default 2)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--fault-seconds", type=float, default=None, help="fault run length (default 60)"
    )
    parser.add_argument("--only", default="crash,faults,load", help="which runs (default all)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and log")
    sys.exit(asyncio.run(main(parser.parse_args())))
