"""A limit on how many things are under way at once, which may change while they wait.

``asyncio.Semaphore`` has a fixed size; the places here are resized when processes join or
leave a database (each gets its share of Discord's limit, ``bot.processes``). A smaller
limit takes effect as places come back; waiters are served first come, first served. A
limit of 0 holds everyone until it grows.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType


class Places:
    def __init__(self, limit: int) -> None:
        self.limit = max(0, limit)
        self.used = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    def resize(self, limit: int) -> None:
        self.limit = max(0, limit)
        self._hand_out()

    async def take(self) -> None:
        if self.used < self.limit and not self._waiting:
            self.used += 1
            return
        place = asyncio.get_running_loop().create_future()
        self._waiting.append(place)
        try:
            await place
        except asyncio.CancelledError:
            if place.done() and not place.cancelled():
                self.give()  # handed out as the wait was cancelled: not used
            elif place in self._waiting:  # else already passed over by _hand_out
                self._waiting.remove(place)
            raise

    def close(self) -> None:
        """Fail every wait: what waited for a place is not to be sent any more (the process
        is stopping, perhaps before it ever had places)."""
        waiting, self._waiting = self._waiting, deque()
        for place in waiting:
            if not place.done():
                place.set_exception(ConnectionAbortedError("closing: the request was not sent"))

    def give(self) -> None:
        self.used -= 1
        self._hand_out()

    def _hand_out(self) -> None:
        while self._waiting and self.used < self.limit:
            place = self._waiting.popleft()
            if not place.done():
                self.used += 1
                place.set_result(None)

    async def __aenter__(self) -> None:
        await self.take()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.give()
