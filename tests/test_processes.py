"""Many processes on one database (``bot.processes``, ``bot.places``): their shares of the
global limit, and duties done by one process at a time."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.places import Places
from bot.processes import Duty, Membership, share_of
from bot.store import SQLiteStore, Store
from tests.pg import postgres_store

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "postgresql":
        async with postgres_store(request, ManualClock(NOW)) as opened:
            yield opened
        return
    sqlite = await SQLiteStore.open(tmp_path / "newsbot.db", ManualClock(NOW))
    try:
        yield sqlite
    finally:
        await sqlite.close()


def dead_owner() -> str:
    """A lease owner name of this machine whose process has ended."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return f"{socket.gethostname()}:{int(child.stdout)}:dead"


def test_the_processes_split_the_limit_and_keep_one_place_spare() -> None:
    assert [share_of(n) for n in (1, 2, 4, 5, 49, 60)] == [49, 24, 12, 9, 1, 1]
    assert all(share_of(n) * n < 50 for n in range(1, 50))


async def test_places_follow_a_new_limit_while_others_wait() -> None:
    places = Places(2)
    await places.take()
    await places.take()
    third = asyncio.ensure_future(places.take())
    fourth = asyncio.ensure_future(places.take())
    await asyncio.sleep(0)
    assert not third.done() and places.used == 2
    places.resize(3)  # one more place: the first waiter gets it
    await asyncio.sleep(0)
    assert third.done() and not fourth.done() and places.used == 3
    places.resize(1)  # smaller: nobody is served until the use falls below it
    places.give()
    places.give()
    await asyncio.sleep(0)
    assert not fourth.done() and places.used == 1
    places.give()
    await asyncio.wait_for(fourth, 1)
    assert places.used == 1


async def test_no_places_hold_everyone_until_there_are_some() -> None:
    places = Places(0)
    waiting = asyncio.ensure_future(places.take())
    await asyncio.sleep(0)
    assert not waiting.done() and places.used == 0
    places.resize(1)
    await asyncio.wait_for(waiting, 1)
    assert places.used == 1


async def test_closing_fails_every_wait() -> None:
    places = Places(0)
    waiting = asyncio.ensure_future(places.take())
    await asyncio.sleep(0)
    places.close()
    with pytest.raises(ConnectionAbortedError):
        await waiting


async def test_a_cancelled_wait_gives_its_place_back() -> None:
    places = Places(1)
    await places.take()
    waiting = asyncio.ensure_future(places.take())
    await asyncio.sleep(0)
    waiting.cancel()
    places.give()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert places.used == 0
    await asyncio.wait_for(places.take(), 1)


async def test_heartbeats_list_the_live_processes_and_forget_the_stale(store: Store) -> None:
    rows = await store.heartbeat("a", "worker", NOW, NOW - timedelta(seconds=6))
    assert [(r.owner, r.role) for r in rows] == [("a", "worker")]
    later = NOW + timedelta(seconds=2)
    rows = await store.heartbeat("b", "gateway", later, later - timedelta(seconds=6))
    assert [r.owner for r in rows] == ["a", "b"]
    assert rows[0].started_at == NOW and rows[0].seen_at == NOW
    # "a" stops beating: past the staleness window it no longer counts.
    much_later = NOW + timedelta(seconds=7)
    rows = await store.heartbeat("b", "gateway", much_later, much_later - timedelta(seconds=6))
    assert [r.owner for r in rows] == ["b"]
    assert rows[0].started_at == later and rows[0].seen_at == much_later
    await store.leave("b")
    rows = await store.heartbeat("c", "worker", much_later, much_later - timedelta(seconds=6))
    assert [r.owner for r in rows] == ["c"]


async def test_a_newcomer_takes_its_share_once_the_others_slowed_down(store: Store) -> None:
    shares: dict[str, list[int]] = {"a": [], "b": []}
    a = Membership(store, "a", "worker", shares["a"].append)
    await a.join()
    assert shares["a"] == [49]  # nobody else: the whole share at once
    b = Membership(store, "b", "worker", shares["b"].append)
    await b.join()
    assert shares["b"] == [0]  # a has not slowed down yet: b sends nothing
    await b.step()
    assert shares["b"] == [0]  # a still paces for one process
    await a.step()
    assert shares["a"] == [49, 24]  # a sees b: smaller at once
    await b.step()
    assert shares["b"] == [0]  # a says so only with its next heartbeat
    await a.step()
    await b.step()  # a says it paces for two now; its extra places still count for a second
    assert shares["b"] == [0]
    await b.step()
    assert shares["b"] == [0, 24]
    # b leaves: a grows back only after the heartbeat that saw it go, and one more.
    await b.leave()
    await a.step()
    assert shares["a"] == [49, 24]
    await a.step()
    assert shares["a"] == [49, 24, 49]


async def test_a_killed_process_of_this_machine_no_longer_counts(store: Store) -> None:
    gone = dead_owner()
    await store.heartbeat(
        gone, "worker", datetime.now(UTC), datetime.now(UTC) - timedelta(seconds=6)
    )
    shares: list[int] = []
    membership = Membership(store, "live", "worker", shares.append)
    await membership.join()
    assert membership.alive == 1 and shares == [49]


async def test_a_duty_has_one_holder_until_it_expires_or_is_released(store: Store) -> None:
    until = NOW + timedelta(seconds=30)
    assert await store.claim_duty("feeds", "a", NOW, until)
    assert not await store.claim_duty("feeds", "b", NOW, until)
    assert await store.duty_holder("feeds", NOW) == "a"
    assert await store.claim_duty("feeds", "a", NOW, until + timedelta(seconds=10))  # renewed
    assert await store.claim_duty("edits", "b", NOW, until)  # another duty is free
    # Expired: anyone may take it; a holder known to be gone, at once.
    assert not await store.claim_duty("feeds", "b", until, until + timedelta(seconds=30))
    later = until + timedelta(seconds=10)
    assert await store.duty_holder("feeds", later) is None
    assert await store.claim_duty("feeds", "b", later, later + timedelta(seconds=30))
    assert await store.claim_duty(
        "feeds", "c", later, later + timedelta(seconds=30), from_owner="b"
    )
    await store.release_duty("feeds", "b")  # no longer b's: nothing happens
    assert await store.duty_holder("feeds", later) == "c"
    await store.release_duty("feeds", "c")
    assert await store.duty_holder("feeds", later) is None


async def test_a_duty_runs_in_one_process_and_moves_when_its_holder_ends(store: Store) -> None:
    running: dict[str, asyncio.Event] = {"a": asyncio.Event(), "b": asyncio.Event()}
    starts: list[str] = []

    def work_of(owner: str):  # type: ignore[no-untyped-def]
        async def work() -> None:
            starts.append(owner)
            running[owner].set()
            await asyncio.Event().wait()

        return work

    ttl = timedelta(seconds=0.3)
    first = asyncio.create_task(Duty("review posts", store, "a", work_of("a"), ttl=ttl).run())
    await asyncio.wait_for(running["a"].wait(), 5)
    second = asyncio.create_task(Duty("review posts", store, "b", work_of("b"), ttl=ttl).run())
    # b keeps trying; while a holds the duty its work never starts.
    for _ in range(3):
        holder = await store.duty_holder("review posts", datetime.now(UTC))
        assert holder == "a"
        await asyncio.sleep(ttl.total_seconds() / 3)
    assert starts == ["a"]
    first.cancel()  # a ends: it releases the duty, and b takes it on its next try
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(running["b"].wait(), 5)
    assert starts == ["a", "b"]
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    assert await store.duty_holder("review posts", datetime.now(UTC)) is None


async def test_a_duty_taken_over_stops_its_work(store: Store) -> None:
    clock = ManualClock(NOW)
    started = asyncio.Event()
    stopped = asyncio.Event()

    async def work() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    ttl = timedelta(seconds=0.3)
    duty = asyncio.create_task(Duty("edits", store, "a", work, clock=clock, ttl=ttl).run())
    await asyncio.wait_for(started.wait(), 5)
    # a stalls past its claim (the clock jumps) and another process takes the duty over.
    clock.advance(timedelta(seconds=1))
    assert await store.claim_duty("edits", "b", clock.now(), clock.now() + timedelta(minutes=5))
    await asyncio.wait_for(stopped.wait(), 5)
    assert await store.duty_holder("edits", clock.now()) == "b"
    duty.cancel()
    with pytest.raises(asyncio.CancelledError):
        await duty
    assert await store.duty_holder("edits", clock.now()) == "b"  # a released nothing of b's
