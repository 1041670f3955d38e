"""The ``newsbot`` command's output streams. Standard output is guarded: a reader that went
away (``| head``) or a full disk ends the command with an exit status, never a traceback. The
log on stderr goes without discord.py's warnings about voice, which newsbot does not have.

Commands print with plain ``print``; ``main`` runs them inside :func:`guarded_stdout`, so one
place decides what a failed write means, whatever command (or later one) made it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any, TextIO

# What a shell shows for a process ended by SIGPIPE, as git's status is under `| head`.
PIPE_CLOSED_STATUS = 128 + int(getattr(signal, "SIGPIPE", 13))


class OutputFailed(Exception):
    """Writing the command's output failed: the reader went away, or the disk is full."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.error = error

    @property
    def reader_gone(self) -> bool:
        return self.error.errno == errno.EPIPE


class GuardedOutput:
    """A stdout whose failed writes raise :class:`OutputFailed`, so the caller can tell the
    output's failure from any other OSError (a file being read, the database)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError as exc:
            raise OutputFailed(exc) from exc

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as exc:
            raise OutputFailed(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextlib.contextmanager
def guarded_stdout() -> Iterator[None]:
    """Run the body with ``sys.stdout`` guarded, flushed at the end (buffered output fails at
    the flush when it fails at all)."""
    guarded: Any = GuardedOutput(sys.stdout)
    with contextlib.redirect_stdout(guarded):
        try:
            yield
        finally:
            guarded.flush()


def discard_output(stream: TextIO) -> None:
    """Point the process's stdout at /dev/null once writing to it failed, so that the flush
    at interpreter exit does not fail again ("Exception ignored ... BrokenPipeError"; the
    recipe of Python's signal documentation, "Note on SIGPIPE"). Only for the real fd 1,
    never a test's capture."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return
    if fd != 1:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def write_stderr(line: str) -> None:
    """One line on stderr for the operator."""
    # One write, so that a log line from a thread still winding down (aiosqlite's, with -vv)
    # cannot land between the message and its newline. No stderr (2>&-): nowhere to say it.
    if sys.stderr is not None:
        sys.stderr.write(line + "\n")


class NoVoiceWarnings(logging.Filter):
    """Drops discord.py's start-up warnings that PyNaCl and davey are not installed ("voice
    will NOT be supported"): newsbot never joins a voice channel, so they only teach operators
    to skip warnings. Every other discord.py warning (rate limits, gateway trouble) is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno == logging.WARNING
            and record.getMessage().endswith("is not installed, voice will NOT be supported")
        )
