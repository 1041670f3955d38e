"""One scheduler per database: an operating-system lock on a file next to the database.

Two ``newsbot run`` processes on one database would both try every scheduled run (the claim
in ``schedule_runs`` lets only one make it), and a run claimed by a process that was killed
before it wrote the digest could not be told from one that another process is still making.
With the lock, the scheduler holding it knows that every unfinished claim it finds at start
was left by a process that stopped. The composition root takes it (``open_app(...,
schedules=True)``) and starts the scheduler only if it got it.

The lock is ``flock`` on ``<database>.scheduler.lock``: the kernel releases it when the process
ends, however it ends (SIGKILL included), so a stale lock is impossible. Where ``fcntl`` is
missing (Windows) there is no lock and one process per database is the operator's to ensure.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover (not on Linux or macOS)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


class SchedulerLock:
    """The exclusive right to run the schedules of one database, for as long as it is held."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(f"{database.name}.scheduler.lock")
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock if no other scheduler (in any process) holds it; True if taken."""
        if fcntl is None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            # A read-only folder: the database itself can then not be written either, and
            # opening it has already said so; go on rather than refuse to schedule.
            log.warning(
                "could not create the scheduler lock %s (%s); going on without it",
                self.path,
                exc.strerror,
            )
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
