"""PostgreSQL for the store suite: the server at NEWSBOT_TEST_PG_DSN, or a throwaway cluster.

With ``NEWSBOT_TEST_PG_DSN`` set (``.ci/run`` sets it), that server is used. Otherwise, where
Debian's PostgreSQL is installed (``/usr/lib/postgresql/*/bin/initdb``), one cluster is made in
a temporary folder for the session (as the ``postgres`` user when running as root: initdb
refuses root), listening on 127.0.0.1 only, and stopped at the end. Otherwise the PostgreSQL
params skip, with one line saying how to enable them. Each test gets a database of its own.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg
import pytest

from bot.clock import Clock
from bot.store.dsn import DatabaseUrl
from bot.store.postgres import PostgresStore

SKIP = (
    "PostgreSQL store tests skipped: set NEWSBOT_TEST_PG_DSN=postgresql://USER@HOST/DB or"
    " install PostgreSQL (apt-get install postgresql) to run them"
)
_names = itertools.count()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _start_cluster() -> tuple[str, Path, Path]:
    """A fresh cluster on a free port: its DSN, its folder and its bin folder."""
    [initdb, *_] = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    bin_dir = Path(initdb).parent
    folder = Path(tempfile.mkdtemp(prefix="newsbot-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", _free_port()
    subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    options = f"-h 127.0.0.1 -p {port} -k {folder} -F -c fsync=off -c full_page_writes=off"
    subprocess.run(
        _as_postgres(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(folder / "log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", folder, bin_dir


def stop_cluster(folder: Path, bin_dir: Path) -> None:
    subprocess.run(
        _as_postgres(
            [str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-m", "immediate", "-w", "stop"]
        ),
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def server() -> Iterator[str | None]:
    """The admin DSN of a server to create databases on (NEWSBOT_TEST_PG_DSN, else a cluster
    of its own for the block), or None when there is neither."""
    given = os.environ.get("NEWSBOT_TEST_PG_DSN", "").strip()
    if given:
        yield given
        return
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        yield None
        return
    dsn, folder, bin_dir = _start_cluster()
    try:
        yield dsn
    finally:
        stop_cluster(folder, bin_dir)


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str | None]:
    """The session's server (see ``server``), started when a test first asks for it."""
    with server() as dsn:
        yield dsn


async def fresh_database(admin: str) -> tuple[DatabaseUrl, str]:
    """A new, empty database on the server: its URL and name."""
    name = f"newsbot_test_{os.getpid()}_{next(_names)}"
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await connection.close()
    base, _, _ = admin.rpartition("/")
    return DatabaseUrl(f"{base}/{name}"), name


async def drop_database(admin: str, name: str) -> None:
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@asynccontextmanager
async def postgres_store(
    request: pytest.FixtureRequest, clock: Clock
) -> AsyncIterator[PostgresStore]:
    """A PostgresStore on a fresh database, dropped after; skips when there is no server.

    For a ``store`` fixture parametrised over the engines: asks for the session's server only
    when a PostgreSQL param runs, so SQLite-only runs start none."""
    admin = request.getfixturevalue("pg_dsn")
    if admin is None:
        pytest.skip(SKIP)
    url, name = await fresh_database(admin)
    try:
        store = await PostgresStore.open(url, clock)
        try:
            yield store
        finally:
            await store.close()
    finally:
        await drop_database(admin, name)


@pytest.fixture
async def pg_url(pg_dsn: str | None) -> AsyncIterator[DatabaseUrl]:
    """A fresh, empty database's URL for one test (not yet migrated), dropped after it."""
    if pg_dsn is None:
        pytest.skip(SKIP)
    url, name = await fresh_database(pg_dsn)
    yield url
    await drop_database(pg_dsn, name)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """However many PostgreSQL params skipped, one line says so and how to enable them."""
    skipped = terminalreporter.stats.get("skipped", [])
    if any(SKIP in str(getattr(report, "longrepr", "")) for report in skipped):
        terminalreporter.write_line(SKIP, yellow=True)
