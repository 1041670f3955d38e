"""One process publishes a channel at a time (``bot.leases``): a second publisher of the same
channel (``newsbot publish`` beside ``newsbot run``, or a second bot on the database) is told
the channel is busy and posts nothing; a holder that stalls past its lease loses it, and what
it sends then is no longer recorded (the fencing token); a holder whose process is gone is
taken over at once, a live one only after its lease expired."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

from bot.app import App
from bot.errors import LeaseLost
from bot.leases import LEASE_TTL, holder_is_gone, lease_owner
from bot.publish import PublishStatus, describe_result
from tests.test_publisher import GENERAL, NOW, MemoryPoster, app, publisher_for

__all__ = ["app"]  # the fixture, used by name


async def test_a_lease_has_one_holder_until_it_expires_or_is_let_go(app: App) -> None:
    store, until = app.store, NOW + LEASE_TTL
    first = await store.take_lease(GENERAL, "a", NOW, until)
    assert first == 1
    assert await store.take_lease(GENERAL, "b", NOW, until) is None
    assert await store.lease_holder(GENERAL, NOW) == "a"
    assert await store.renew_lease(GENERAL, first, until + timedelta(minutes=1))
    # Expired: anyone may take it, with a larger token, and the old holder can no longer renew.
    later = until + timedelta(minutes=2)
    second = await store.take_lease(GENERAL, "b", later, later + LEASE_TTL)
    assert second == 2
    assert not await store.renew_lease(GENERAL, first, later + LEASE_TTL)
    await store.release_lease(GENERAL, first, later)  # a stale token lets nothing go
    assert await store.lease_holder(GENERAL, later) == "b"
    await store.release_lease(GENERAL, second, later)
    assert await store.lease_holder(GENERAL, later) is None
    assert await store.take_lease(GENERAL, "c", later, later + LEASE_TTL) == 3
    # A holder known to be gone is taken over before its lease expires.
    assert await store.take_lease(GENERAL, "d", later, later + LEASE_TTL, from_owner="c") == 4


async def test_a_second_publisher_of_a_busy_channel_posts_nothing_until_the_lease_is_free(
    app: App,
) -> None:
    other = lease_owner()  # a live process: this one, under another name
    await app.store.take_lease(GENERAL, other, NOW, NOW + LEASE_TTL)
    poster = MemoryPoster()
    publisher = publisher_for(app, poster)
    busy = await publisher.publish(GENERAL)
    assert busy.status is PublishStatus.BUSY and poster.messages == []
    assert describe_result(busy, "channel 1001") == (
        "channel 1001: another newsbot process is publishing it; left to that one"
    )
    assert await app.store.unfinished_digests() == []
    app.clock.advance(LEASE_TTL + timedelta(seconds=1))  # type: ignore[attr-defined]
    posted = await publisher.publish(GENERAL)
    assert posted.status is PublishStatus.POSTED and posted.items == 10
    assert await app.store.lease_holder(GENERAL, app.clock.now()) is None  # let go


async def test_a_publisher_that_lost_its_lease_records_nothing_and_the_new_holder_finishes(
    app: App,
) -> None:
    poster = MemoryPoster()
    stalled = publisher_for(app, poster, owner="stalled")
    taker = publisher_for(app, poster, owner="taker")

    async def take_over(*_: Any) -> None:
        # The stalled publisher's lease ran out while it waited on Discord: another took it.
        app.clock.advance(LEASE_TTL + timedelta(seconds=1))  # type: ignore[attr-defined]
        now = app.clock.now()
        assert await app.store.take_lease(GENERAL, "taker", now, now + LEASE_TTL) is not None

    original = poster.send
    calls = 0

    async def send(channel_id: int, payload: dict[str, Any], nonce: str) -> int:
        nonlocal calls
        calls += 1
        message_id = await original(channel_id, payload, nonce)
        if calls == 2:  # part 2 is accepted, then the publisher stalls past its lease
            await take_over()
        return message_id

    poster.send = send  # type: ignore[method-assign]
    lost = await stalled.publish(GENERAL)
    assert lost.status is PublishStatus.BUSY
    [digest] = await app.store.unfinished_digests()
    # Part 1 was recorded under the old lease; part 2's record was refused (fenced).
    assert [m.message_id is not None for m in digest.messages][:2] == [True, False]
    with pytest.raises(LeaseLost):
        await app.store.record_sent(digest.id, 1, 99, app.clock.now(), lease=1)
    await app.store.release_lease(GENERAL, 2, app.clock.now())

    poster.send = original  # type: ignore[method-assign]
    resumed = await taker.resume_unfinished()
    assert [r.status for r in resumed] == [PublishStatus.POSTED]
    # The part the stalled one sent is the same message (same nonce), not a second one.
    nonces = [m.nonce for m in poster.in_channel(GENERAL)]
    assert len(nonces) == len(set(nonces)) == len(digest.messages)


def test_a_holder_is_gone_only_when_its_process_on_this_machine_ended() -> None:
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(ended.stdout)
    host = lease_owner().split(":")[0]
    assert holder_is_gone(f"{host}:{pid}:abcd")
    assert not holder_is_gone(lease_owner())  # this process
    assert not holder_is_gone(f"another-host.invalid:{pid}:abcd")
    assert not holder_is_gone("garbage")
