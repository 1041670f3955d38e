"""The one-scheduler-per-database lock, with real processes: held while its holder lives, and
released by the kernel when the holder is killed (nothing stale to clean up)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from bot.schedule.lock import SchedulerLock

ROOT = Path(__file__).resolve().parents[2]

HOLDER = """
import sys
from pathlib import Path
from bot.schedule.lock import SchedulerLock
lock = SchedulerLock(Path(sys.argv[1]))
print("held" if lock.acquire() else "refused", flush=True)
sys.stdin.read()  # until the test kills it
"""


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    database = tmp_path / "newsbot.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        lock = SchedulerLock(database)
        assert not lock.acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        assert lock.acquire()
        lock.release()
    finally:
        holder.kill()
        holder.wait(timeout=10)
        if holder.stdin is not None:
            holder.stdin.close()
        if holder.stdout is not None:
            holder.stdout.close()


def test_two_locks_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    first, second = SchedulerLock(tmp_path / "a.db"), SchedulerLock(tmp_path / "a.db")
    assert first.acquire()
    assert not second.acquire()
    other = SchedulerLock(tmp_path / "b.db")
    assert other.acquire()  # another database: another lock
    other.release()
    first.release()
    assert second.acquire()
    second.release()
    assert first.path == tmp_path / "a.db.scheduler.lock"
