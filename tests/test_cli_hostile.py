"""Every ``newsbot`` command met with what an operator's first hour brings, as a real process:
paths that are missing, already taken by a file, unwritable or impossible; a stdout that is
closed, full or whose reader went away; a run interrupted with Ctrl-C.

Each ends with a non-zero exit, exactly one line on stderr (none when only the reader of the
output went away: newsbot then stops quietly, as git does), no traceback, and the database as it
was. The table of commands is checked against the parser, so a new command must be added here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.cli import build_parser
from bot.cli_output import NoVoiceWarnings
from bot.config import DigestChannel
from tests.discord_double import DoubleFactory
from tests.reliability.harness import cli_env, dump, seed_db, seed_files
from tests.test_publish_e2e import ROOMY, approve_articles, settings_for, write_articles

DISCORD_OFFLINE = {
    # Commands that talk to Discord get a token and a loopback address where nothing listens:
    # they open the database before the first request, and never reach past 127.0.0.0/8.
    "DISCORD_TOKEN": "hostile-test-token",
    "NEWSBOT_DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",
    "NEWSBOT_DISCORD_GATEWAY": "ws://127.0.0.1:9/",
}

# Each command with arguments that are fine by themselves; "{seed}" and "{out}" are filled in.
COMMANDS: dict[str, list[str]] = {
    "ingest": ["ingest", "{seed}"],
    "queue": ["queue", "--json"],
    "show": ["show", "1"],
    "approve": ["approve", "1"],
    "reject": ["reject", "2", "--reason", "duplicate"],
    "retract": ["retract", "3", "--reason", "the outlet withdrew it"],
    "edit": ["edit", "1", "--title", "A corrected title"],
    "export": ["export", "{out}"],
    "preview": ["preview"],
    "check-templates": ["check-templates", "--seeds", "{seed}"],
    "run": ["run"],
    "publish": ["publish"],
    "sync-commands": ["sync-commands", "--global"],
    "schedules": ["schedules"],
    "split": ["split", "1", "https://news.example.com/merged"],
    "status": ["status"],
    "fetch": ["fetch"],
    "feeds": ["feeds", "--json"],
}
NO_DATABASE = {"check-templates"}  # renders the templates only
TALKS_TO_DISCORD = {"run", "publish", "sync-commands"}  # fail later: nothing listens on :9
CHANGES_THE_QUEUE = {"ingest", "approve", "reject", "retract", "edit"}
# Fails before printing anything: the seeded queue has no article that clustering merged.
REFUSED_HERE = {"split"}
CANNOT_OPEN = "unable to open database file (the file or its folder cannot be opened)"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def one_line(self) -> str:
        """The single stderr line of a failed run (asserting that it is one)."""
        assert self.code != 0, (self.code, self.out, self.err)
        assert "Traceback" not in self.err, self.err
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        return lines[0]


@dataclass(frozen=True)
class Workspace:
    root: Path
    db: Path
    seed: Path

    def args(self, command: str) -> list[str]:
        fill = {"{seed}": str(self.seed), "{out}": str(self.root / "export")}
        return [fill.get(arg, arg) for arg in COMMANDS[command]]


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three pending seeds, made once and copied for each test."""
    db = tmp_path_factory.mktemp("seeded") / "newsbot.db"
    asyncio.run(seed_db(db, seed_files(3)))
    return db


@pytest.fixture
def ws(tmp_path: Path, seeded_db: Path) -> Workspace:
    shutil.copy(seeded_db, tmp_path / "newsbot.db")
    (tmp_path / "newsbot.yaml").write_text("digests:\n  - channel: 456\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("an operator's notes\n", encoding="utf-8")
    return Workspace(tmp_path, tmp_path / "newsbot.db", seed_files()[3])


def newsbot(
    args: Sequence[str],
    cwd: Path,
    *,
    stdout: int | None = subprocess.PIPE,
    preexec_fn: Callable[[], None] | None = None,
    prefix: Sequence[str] = (),
) -> Result:
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=cli_env(DISCORD_OFFLINE),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        preexec_fn=preexec_fn,
        timeout=120,
        check=False,
    )
    out = proc.stdout.decode("utf-8", "replace") if proc.stdout is not None else ""
    return Result(proc.returncode, out, proc.stderr.decode("utf-8", "replace"))


def run_all(jobs: dict[str, Callable[[], Result]]) -> dict[str, Result]:
    """Independent runs at once (each its own process and paths): the matrix stays quick."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture
def closed_pipe() -> Iterator[int]:
    """The write end of a pipe whose read end is already closed: every write gets EPIPE, as
    under ``| head`` once head has read enough (and without racing a reader)."""
    read, write = os.pipe()
    os.close(read)
    yield write
    os.close(write)


def _without_override() -> list[str]:
    """A command prefix that makes file modes apply to this user (root ignores them)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv is missing: cannot make a folder unwritable")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def test_the_table_has_every_command() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sub.choices is not None
    assert set(COMMANDS) == set(sub.choices)


# --- paths --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - NO_DATABASE))
def test_a_database_or_config_path_that_cannot_be_used_is_one_line(
    ws: Workspace, command: str
) -> None:
    root = ws.root
    databases = {
        "a folder": (str(root), CANNOT_OPEN),
        "in a missing folder": (str(root / "missing" / "x.db"), CANNOT_OPEN),
        "through a file": (str(root / "notes.txt" / "x.db"), CANNOT_OPEN),
        "impossible": ("/proc/newsbot-hostile.db", CANNOT_OPEN),
        "not a database": (
            str(root / "notes.txt"),
            "file is not a database (the file is not a newsbot database)",
        ),
    }
    configs = {
        "missing config": (str(root / "missing.yaml"), "config file not found"),
        "config is a folder": (
            str(root),
            f"cannot read config file ([Errno 21] Is a directory: '{root}')",
        ),
        "impossible config": ("/proc/newsbot-hostile.yaml", "config file not found"),
    }
    args = ws.args(command)
    before = dump(ws.db)
    jobs: dict[str, Callable[[], Result]] = {
        name: (lambda p=path: newsbot(["--db", p, *args], root))
        for name, (path, _) in databases.items()
    }
    jobs |= {
        name: (lambda p=path: newsbot(["--config", p, "--db", str(ws.db), *args], root))
        for name, (path, _) in configs.items()
    }
    results = run_all(jobs)
    for name, (path, problem) in databases.items():
        expected = f"newsbot: error: {path}: database error: {problem}; nothing was changed"
        assert results[name].one_line() == expected, name
    for name, (path, problem) in configs.items():
        assert results[name].one_line() == f"newsbot: error: {path}: {problem}", name
    assert dump(ws.db) == before
    assert not (root / "missing").exists()
    assert (root / "notes.txt").read_text(encoding="utf-8") == "an operator's notes\n"
    assert not (root / "export").exists()


def test_a_new_database_in_an_unwritable_folder_is_one_line(ws: Workspace) -> None:
    prefix = _without_override()
    locked = ws.root / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = newsbot(["--db", str(locked / "new.db"), "queue"], ws.root, prefix=prefix)
    finally:
        locked.chmod(0o755)
    assert result.one_line() == (
        f"newsbot: error: {locked / 'new.db'}: database error: {CANNOT_OPEN}; nothing was changed"
    )
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("notes.txt", "exists and is not a folder"),
        ("notes.txt/sub", "{root}/notes.txt is not a folder"),
        ("/proc/newsbot-export", "cannot create the folder (No such file or directory)"),
        ("/proc/version/export", "/proc/version is not a folder"),
        ("x" * 300, "cannot use this path (File name too long)"),
    ],
)
def test_export_to_an_impossible_path_writes_nothing(
    ws: Workspace, target: str, problem: str
) -> None:
    path = target if target.startswith("/") else str(ws.root / target)
    before, files = dump(ws.db), sorted(ws.root.iterdir())
    result = newsbot(["export", path], ws.root)
    assert result.one_line() == (
        f"newsbot: error: {path}: {problem.format(root=ws.root)}; nothing was written"
    )
    assert (dump(ws.db), sorted(ws.root.iterdir())) == (before, files)


def test_export_into_an_unwritable_folder_writes_nothing(ws: Workspace) -> None:
    prefix = _without_override()
    locked = ws.root / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = newsbot(["export", str(locked / "out")], ws.root, prefix=prefix)
        again = newsbot(["export", str(locked)], ws.root, prefix=prefix)
    finally:
        locked.chmod(0o755)
    assert result.one_line() == (
        f"newsbot: error: {locked / 'out'}: cannot create the folder (Permission denied);"
        " nothing was written"
    )
    assert again.one_line() == (
        f"newsbot: error: {locked}: cannot write here (Permission denied); nothing was written"
    )
    assert list(locked.iterdir()) == []


def test_export_that_fills_the_disk_leaves_nothing_half_written(ws: Workspace) -> None:
    # One article larger than the file size limit the process gets: the export fails on it
    # after the smaller ones were written, and must take those back too.
    big = ws.root / "big.md"
    body = "A paragraph of a very long read, repeated.\n" * 8_000
    big.write_text(f'---\ntitle: "Zz long read"\nwebUrl: "https://long.example/1"\n---\n{body}')
    assert newsbot(["ingest", str(big)], ws.root).code == 0
    before = dump(ws.db)
    limit = 64 * 1024

    def small_files() -> None:
        # Past the limit a write fails with EFBIG instead of killing the process (SIGXFSZ).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    out = ws.root / "out" / "nested"
    result = newsbot(["export", str(out)], ws.root, preexec_fn=small_files)
    assert result.one_line() == (
        f"newsbot: error: {out}: cannot write 00004-zz-long-read.md (File too large);"
        " nothing was written"
    )
    assert not (ws.root / "out").exists()  # the folders it made are gone again
    assert dump(ws.db) == before
    assert newsbot(["export", str(out)], ws.root).code == 0  # and works once there is room
    assert len(list(out.iterdir())) == 4


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("missing.md", "no such file or directory"),
        ("x" * 300, "cannot read (File name too long)"),
        ("notes.txt/a.md", "cannot read (Not a directory)"),
        ("/proc/newsbot-hostile.md", "no such file or directory"),
    ],
)
def test_ingest_of_a_path_that_cannot_be_read_is_one_line(
    ws: Workspace, name: str, problem: str
) -> None:
    path = name if name.startswith("/") else str(ws.root / name)
    before = dump(ws.db)
    result = newsbot(["ingest", path], ws.root)
    assert result.one_line() == f"{path}:1: {problem}"
    assert result.out == "0 new, 0 updated, 0 unchanged, 1 rejected\n"
    assert dump(ws.db) == before


def test_ingest_of_an_unreadable_file_is_one_line(ws: Workspace) -> None:
    prefix = _without_override()
    secret = ws.root / "secret.md"
    shutil.copy(ws.seed, secret)
    secret.chmod(0o000)
    before = dump(ws.db)
    result = newsbot(["ingest", str(secret)], ws.root, prefix=prefix)
    assert result.one_line() == f"{secret}:1: cannot read (Permission denied)"
    assert dump(ws.db) == before


def test_check_templates_with_no_usable_articles_is_one_line(ws: Workspace) -> None:
    result = newsbot(["check-templates", "--seeds", "/nope", str(ws.root / "notes.txt")], ws.root)
    assert result.one_line() == (
        f"newsbot check-templates: error: no articles found in /nope {ws.root / 'notes.txt'}"
        " (/nope:1: no such file or directory; 1 more)"
    )


# --- stdout -------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - TALKS_TO_DISCORD - REFUSED_HERE))
def test_a_reader_that_went_away_stops_the_command_quietly(
    ws: Workspace, closed_pipe: int, command: str
) -> None:
    before = dump(ws.db)
    result = newsbot(ws.args(command), ws.root, stdout=closed_pipe)
    assert (result.code, result.err) == (141, "")  # 128 + SIGPIPE, as git under | head
    if command in CHANGES_THE_QUEUE:
        # Done before the report was printed (the output is lost, not the work).
        assert dump(ws.db) != before
    else:
        assert dump(ws.db) == before


def test_help_into_a_closed_pipe_is_quiet(ws: Workspace, closed_pipe: int) -> None:
    for args in (["--help"], ["queue", "--help"]):
        result = newsbot(args, ws.root, stdout=closed_pipe)
        assert (result.code, result.err) == (141, "")


@pytest.mark.parametrize("command", ["queue", "show", "preview", "schedules", "export"])
def test_a_full_stdout_is_one_line(ws: Workspace, command: str) -> None:
    before = dump(ws.db)
    with open("/dev/full", "wb") as full:
        result = newsbot(ws.args(command), ws.root, stdout=full.fileno())
    assert result.one_line() == "newsbot: error: cannot write the output: No space left on device"
    assert dump(ws.db) == before


def test_a_closed_stdout_is_refused_before_anything_is_opened(ws: Workspace) -> None:
    # With fd 1 closed, the first file opened (the database) would become "stdout".
    before = dump(ws.db)

    def close_stdout() -> None:
        os.close(1)

    results = run_all(
        {c: (lambda c=c: newsbot(ws.args(c), ws.root, preexec_fn=close_stdout)) for c in COMMANDS}
    )
    for command, result in results.items():
        assert result.one_line() == "newsbot: error: standard output is closed; nothing was done", (
            command
        )
    assert dump(ws.db) == before
    assert not (ws.root / "export").exists()


def test_ingest_from_a_closed_stdin_is_one_line(ws: Workspace) -> None:
    before = dump(ws.db)
    result = newsbot(["ingest", "-"], ws.root, preexec_fn=lambda: os.close(0))
    assert result.one_line() == "newsbot: error: -: standard input is closed; nothing was read"
    assert dump(ws.db) == before


def test_with_stderr_closed_errors_never_land_in_stdout(ws: Workspace) -> None:
    def close_stderr() -> None:
        os.close(2)

    failed = newsbot(["approve", "999"], ws.root, preexec_fn=close_stderr)
    assert (failed.code, failed.out) == (1, "")  # not "newsbot approve: item 999 not found"
    listed = newsbot(["queue", "--json"], ws.root, preexec_fn=close_stderr)
    assert listed.code == 0 and [e["id"] for e in json.loads(listed.out)] == [1, 2, 3]


# --- interrupts ---------------------------------------------------------------------------------


def test_an_interrupted_ingest_is_one_line_and_stores_nothing(ws: Workspace) -> None:
    # The article "file" is a FIFO: opening it for writing returns once newsbot has opened it
    # to read, so the interrupt lands at a known point (mid-read, the database open).
    fifo = ws.root / "incoming.md"
    os.mkfifo(fifo)
    before = dump(ws.db)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "ingest", str(ws.seed), str(fifo)],
        cwd=ws.root,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Should newsbot never open the FIFO, open it here so that this test fails, not hangs.
    rescue = threading.Timer(60, lambda: os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)))
    rescue.start()
    try:
        with open(fifo, "wb") as writer:
            proc.send_signal(signal.SIGINT)
            writer.write(b"---\ntitle: half an article\n")  # what it reads is never stored
    finally:
        rescue.cancel()
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (130, b"", b"newsbot: interrupted\n")
    assert dump(ws.db) == before


# --- warnings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        ("PyNaCl is not installed, voice will NOT be supported", False),
        ("davey is not installed, voice will NOT be supported", False),
        ("We are being rate limited. Retrying in 1.00 seconds.", True),
        ("Shard ID None has stopped responding to the gateway.", True),
    ],
)
def test_only_the_voice_warnings_are_dropped(message: str, kept: bool) -> None:
    record = logging.LogRecord("discord.client", logging.WARNING, "client.py", 1, message, (), None)
    assert NoVoiceWarnings().filter(record) is kept


async def test_newsbot_publish_prints_no_voice_warnings(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(rate_limits=ROOMY)
    general = double.channel("digest-general").id
    settings = settings_for(double, tmp_path, DigestChannel(channel=general))
    write_articles(tmp_path / "approved", 1, topic="Climate")
    await approve_articles(settings, tmp_path / "approved")
    config = tmp_path / "newsbot.yaml"
    config.write_text(yaml.safe_dump({"digests": [{"channel": general}]}), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "publish",
        "--db",
        str(settings.database),
        cwd=tmp_path,
        env=cli_env(double.env()),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err
    assert out.decode().strip() == f"posted 1 item in 1 message to channel {general}"
    assert err == b""  # discord.py's "voice will NOT be supported" warnings included
    assert len(double.messages(general)) == 1
