"""Helpers for the reliability tests: run ``newsbot`` as a real process (measuring its own peak
memory), dump a database completely, seed one, and run the real bot against the double."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from bot.app import open_app
from bot.clock import Clock
from bot.config import DigestChannel, Secret, Settings
from bot.discord_adapter.client import NewsBot
from bot.discord_adapter.endpoints import configure_endpoints
from bot.ingest import ingest
from bot.processes import Role
from tests.discord_double import DiscordDouble

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"


def seed_files(count: int | None = None) -> list[Path]:
    """Shipped seed articles that are not ``published: true`` (so they are queued)."""
    files = [f for f in sorted(SEEDS.glob("*.md")) if "published: true" not in f.read_text()]
    return files if count is None else files[:count]


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a ``newsbot`` process: none of the caller's NEWSBOT_/DISCORD_
    variables, the source checkout importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


_REPORTS_PEAK = """
import atexit, runpy, sys
report = sys.argv.pop(1)
def _peak() -> None:
    with open("/proc/self/status") as status, open(report, "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(_peak)
runpy.run_module("bot", run_name="__main__", alter_sys=True)
"""
"""``python -m bot`` that writes its own peak resident set (kB) to the file named first."""


@dataclass(frozen=True)
class Run:
    """A finished ``newsbot`` process."""

    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    """This process's own peak resident set (its ``VmHWM``), 0.0 if it was killed first."""
    seconds: float

    @property
    def err_lines(self) -> list[str]:
        return self.stderr.splitlines()


def newsbot(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    preexec_fn: Callable[[], None] | None = None,
    prefix: Sequence[str] = (),
) -> Run:
    """Run ``python -m bot ARGS`` to completion (killed after ``timeout`` seconds).

    ``peak_rss_mb`` is the child's own high-water mark, which it writes as it exits: the
    rusage of ``wait4`` cannot give it, because Linux carries the forking parent's resident
    set into the child's ``ru_maxrss`` (a 300 MB pytest makes every child look 300 MB)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile(mode="r") as peak,
    ):
        started = time.monotonic()
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-c", _REPORTS_PEAK, peak.name, *args],
            cwd=cwd,
            env=cli_env(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            preexec_fn=preexec_fn,
        )
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            proc.wait()
        finally:
            killer.cancel()
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Run(
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            peak_rss_mb=int(peak.read() or 0) / 1024,  # kilobytes
            seconds=seconds,
        )


async def newsbot_async(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,  # noqa: ASYNC109 - a bound on a child process, like subprocess.run's
) -> Run:
    """``newsbot`` without blocking the event loop (for a double running in this loop)."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=cli_env(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return Run(
        returncode=proc.returncode if proc.returncode is not None else -1,
        stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"),
        peak_rss_mb=0.0,
        seconds=time.monotonic() - started,
    )


def dump(db: Path) -> list[str]:
    """The whole database as SQL (schema and every row of every table), read-only."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def integrity(db: Path) -> str:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        connection.close()


def count_rows(db: Path, table: str) -> int:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        connection.close()


async def seed_db(db: Path, files: Sequence[Path]) -> list[int]:
    """A queue holding ``files`` (pending); returns their item ids."""
    async with open_app(Settings(database=db)) as app:
        report = await ingest(app.store, list(files))
    assert not report.errors, report.errors
    return report.new_ids


def settings_for(double: DiscordDouble, db: Path, **changes: object) -> Settings:
    """Settings for the default guild of the double: Moderator role, review and two digest
    channels."""
    settings = Settings(
        database=db,
        guild=double.guild.id,
        moderator_roles=("Moderator",),
        review_channel=double.channel("review").id,
        digests=(
            DigestChannel(channel=double.channel("digest-general").id, max_items=10),
            DigestChannel(channel=double.channel("digest-ai").id, topics=("AI",)),
        ),
        token=Secret(double.token),
        api_base=double.api_base,
        gateway=double.gateway_url,
        source="test.yaml",
    )
    return replace(settings, **changes) if changes else settings  # type: ignore[arg-type]


@asynccontextmanager
async def running_bot(
    settings: Settings,
    double: DiscordDouble,
    clock: Clock | None = None,
    *,
    sync_on_start: bool = True,
    role: Role = Role.RUN,
) -> AsyncIterator[NewsBot]:
    """Start the bot as ``newsbot run`` (or ``newsbot gateway``: ``role``) does and wait until
    it is ready; stop it on exit."""
    configure_endpoints(settings)
    async with open_app(settings, clock=clock, schedules=role is Role.RUN) as app:
        bot = NewsBot(
            app, review_poll=timedelta(seconds=0.1), sync_on_start=sync_on_start, role=role
        )
        ready = double.gateway.count("ready")
        task = asyncio.create_task(bot.start(settings.token.reveal()))
        try:
            await double.wait_for_ready(timeout=10, count=ready + 1)
            await asyncio.wait_for(bot.started.wait(), 10)
            yield bot
        finally:
            await bot.close()
            await asyncio.wait_for(task, 10)
