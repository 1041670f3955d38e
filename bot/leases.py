"""Who may publish a channel: one process at a time, by a lease in the database.

A process takes the channel's lease before it plans or delivers the channel's digests and
renews it with every part; each new holder gets a larger fencing token and a part is recorded
only under the current one (see :meth:`bot.store.Store.record_sent`). So ``newsbot publish``
run beside ``newsbot run`` (or two bots on one database) never post one digest twice.

A lease ends when its holder lets it go, when it expires, or, on the same machine, as soon as
its holder's process is gone: a bot restarted after a crash takes its channels back at once
rather than waiting for the expiry.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.errors import LeaseLost
from bot.store import Store

log = logging.getLogger(__name__)

LEASE_TTL = timedelta(minutes=5)
"""How long a lease holds without renewal: far longer than any wait between two parts."""


def lease_owner() -> str:
    """This process's name as a lease holder: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_is_gone(owner: str) -> bool:
    """Whether the process named ``owner`` ran on this machine and has ended (so its lease
    need not be waited out). A process of another machine is never judged gone."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # another publisher of this very process: it is alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


class ChannelLeases:
    """The channel leases of one publisher (one process): taken in one write for a whole
    fan-out, shared by the process's concurrent publishes of a channel (the first takes it,
    the last lets it go), renewed only once a third of the lease has passed."""

    def __init__(
        self, store: Store, clock: Clock, owner: str | None = None, ttl: timedelta = LEASE_TTL
    ) -> None:
        self.store = store
        self.clock = clock
        self.owner = owner or lease_owner()
        self.ttl = ttl
        self._held: dict[int, _Held] = {}

    async def _take(self, channels: Sequence[int]) -> dict[int, int]:
        store, now = self.store, self.clock.now()
        until = now + self.ttl
        got = await store.take_leases(channels, self.owner, now, until) if channels else {}
        for channel in channels:
            if channel in got:
                continue
            holder = await store.lease_holder(channel, now)
            if holder is not None and holder_is_gone(holder):
                log.info("channel %d: its publisher %s is gone; taking over", channel, holder)
                got |= await store.take_leases([channel], self.owner, now, until, from_owner=holder)
        return got

    async def acquire(self, channels: Sequence[int]) -> dict[int, int]:
        """The token of each of ``channels`` this process now holds (the others are busy:
        another live process publishes them). Each one acquired is to be released."""
        wanted = [c for c in dict.fromkeys(channels) if c not in self._held]
        for channel, token in (await self._take(wanted)).items():
            self._held.setdefault(channel, _Held(token, 0, self.clock.now()))
        tokens: dict[int, int] = {}
        for channel in channels:
            held = self._held.get(channel)
            if held is not None:
                held.users += 1
                tokens[channel] = held.token
        return tokens

    async def release(self, tokens: Mapping[int, int]) -> None:
        """Let go of what :meth:`acquire` gave; the leases nobody here uses any more are
        released in one write."""
        done: dict[int, int] = {}
        for channel, token in tokens.items():
            held = self._held.get(channel)
            if held is None or held.token != token:
                continue  # lost meanwhile
            held.users -= 1
            if held.users <= 0:
                del self._held[channel]
                done[channel] = token
        if done:
            await self.store.release_leases(done, self.clock.now())

    @asynccontextmanager
    async def holding(self, channels: Sequence[int]) -> AsyncIterator[dict[int, int]]:
        tokens = await self.acquire(channels)
        try:
            yield tokens
        finally:
            await self.release(tokens)

    async def renew(self, channel: int, token: int) -> None:
        """Keep the lease while a slow digest goes out; ``LeaseLost`` once another process
        took it over. Recording a part checks the token anyway."""
        now = self.clock.now()
        held = self._held.get(channel)
        if held is not None and held.token == token and now - held.renewed < self.ttl / 3:
            return
        if not await self.store.renew_lease(channel, token, now + self.ttl):
            self.lost(channel, token)
            raise LeaseLost(channel)
        if held is not None and held.token == token:
            held.renewed = now

    def lost(self, channel: int, token: int) -> None:
        """Another process took the channel: forget the stale token, so the next publish
        asks again."""
        held = self._held.get(channel)
        if held is not None and held.token == token:
            del self._held[channel]


@dataclass(slots=True)
class _Held:
    token: int
    users: int
    renewed: datetime
