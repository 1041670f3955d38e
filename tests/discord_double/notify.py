"""Event-driven waiting: tests wait for a state change, never sleep and poll.

Every mutation of the double calls :meth:`Notifier.notify`; waiters re-check their predicate
each time, so a wait returns as soon as the condition holds and fails with a description of
what it was waiting for when the timeout passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Notifier:
    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait_until(self, predicate: Callable[[], T | None], timeout: float, what: str) -> T:  # noqa: ASYNC109 (bounded waits are the API)
        """Return the predicate's first value that is neither None nor False."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result is not None and result is not False:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
            if self._event is None:
                self._event = asyncio.Event()
            event = self._event
            try:
                async with asyncio.timeout(remaining):
                    await event.wait()
            except TimeoutError:
                continue
