"""One process publishes a channel at a time (``bot.leases``): a second publisher of the same
channel (``newsbot publish`` beside ``newsbot run``, or a second bot on the database) is told
the channel is busy and posts nothing; a holder that stalls past its lease loses it, and what
it sends then is no longer recorded (the fencing token); a holder whose process is gone is
taken over at once, a live one only after its lease expired. The store's side runs on both
engines (the ``store`` fixture; the PostgreSQL params skip without a server)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, open_app
from bot.clock import ManualClock
from bot.config import DigestChannel
from bot.errors import LeaseLost
from bot.leases import LEASE_TTL, holder_is_gone, lease_owner
from bot.publish import PublishStatus, describe_result
from bot.store import SQLiteStore, Status, Store, Trigger
from bot.store.postgres import PostgresStore
from tests.discord_double import DoubleFactory
from tests.pg import postgres_store
from tests.test_publish_e2e import (
    ROOMY,
    THREE_PARTS,
    Launcher,
    approve_corpus,
    finish,
    part_of,
    parts,
    settings_for,
    start_publish,
    write_config,
)
from tests.test_publisher import GENERAL, NOW, SCIENCE, MemoryPoster, app, publisher_for
from tests.test_store import make_article

__all__ = ["app", "start_publish"]  # the fixtures, used by name


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The store-level lease tests run on both engines, as tests/test_store.py does."""
    if request.param == "postgresql":
        async with postgres_store(request, ManualClock(NOW)) as pg:
            yield pg
        return
    opened = await SQLiteStore.open(tmp_path / "queue.db", ManualClock(NOW))
    yield opened
    await opened.close()


async def reopen(store: Store) -> SQLiteStore | PostgresStore:
    """Another connection to the same database, as a second process would open."""
    if isinstance(store, PostgresStore):
        return await PostgresStore.open(store.url, ManualClock(NOW))
    assert isinstance(store, SQLiteStore)
    return await SQLiteStore.open(store.path, ManualClock(NOW))


async def test_a_lease_has_one_holder_until_it_expires_or_is_let_go(store: Store) -> None:
    until = NOW + LEASE_TTL
    assert await store.take_leases([GENERAL, SCIENCE], "a", NOW, until) == {GENERAL: 1, SCIENCE: 1}
    assert await store.take_leases([GENERAL], "b", NOW, until) == {}
    assert await store.take_leases([GENERAL], "a", NOW, until) == {GENERAL: 1}  # still a's
    assert await store.lease_holder(GENERAL, NOW) == "a"
    assert await store.renew_lease(GENERAL, 1, until + timedelta(minutes=1))
    # Expired: anyone may take it, with a larger token, and the old holder can no longer renew.
    later = until + timedelta(minutes=2)
    assert await store.take_leases([GENERAL], "b", later, later + LEASE_TTL) == {GENERAL: 2}
    assert not await store.renew_lease(GENERAL, 1, later + LEASE_TTL)
    await store.release_leases({GENERAL: 1}, later)  # a stale token lets nothing go
    assert await store.lease_holder(GENERAL, later) == "b"
    await store.release_leases({GENERAL: 2}, later)
    assert await store.lease_holder(GENERAL, later) is None
    assert await store.take_leases([GENERAL], "c", later, later + LEASE_TTL) == {GENERAL: 3}
    # A holder known to be gone is taken over before its lease expires.
    taken = await store.take_leases([GENERAL], "d", later, later + LEASE_TTL, from_owner="c")
    assert taken == {GENERAL: 4}


async def test_a_part_is_recorded_only_under_the_channels_current_lease(store: Store) -> None:
    [(item_id, _)] = await store.upsert_articles([make_article(1)], actor="t")
    await store.transition(item_id, Status.APPROVED, allowed_from=(Status.PENDING,), actor="m")
    messages = [({"content": "one"}, "n0", (item_id,)), ({"content": "two"}, "n1", ())]
    digest, _ = await store.create_digest(GENERAL, "k", Trigger.COMMAND, messages)
    with pytest.raises(LeaseLost):  # nobody holds the channel: no token is current
        await store.record_sent(digest.id, 0, 90, NOW, lease=1)
    assert await store.take_leases([GENERAL], "a", NOW, NOW + LEASE_TTL) == {GENERAL: 1}
    await store.record_sent(digest.id, 0, 90, NOW, lease=1)
    later = NOW + LEASE_TTL + timedelta(seconds=1)
    assert await store.take_leases([GENERAL], "b", later, later + LEASE_TTL) == {GENERAL: 2}
    with pytest.raises(LeaseLost) as lost:
        await store.record_sent(digest.id, 1, 91, later, lease=1)
    assert lost.value.channel_id == GENERAL
    [unfinished] = await store.unfinished_digests()
    assert [m.message_id for m in unfinished.messages] == [90, None]  # nothing recorded
    assert [d.message_id for d in await store.deliveries(item_id)] == [90]
    await store.record_sent(digest.id, 1, 91, later, lease=2)
    [unfinished] = await store.unfinished_digests()
    assert [m.message_id for m in unfinished.messages] == [90, 91]


async def test_processes_racing_for_a_free_channel_give_it_one_holder(store: Store) -> None:
    # Each its own connection (as separate processes have), all asking at once.
    others = [await reopen(store) for _ in range(6)]
    try:
        taken = await asyncio.gather(
            *(
                other.take_leases([GENERAL, SCIENCE], f"p{n}", NOW, NOW + LEASE_TTL)
                for n, other in enumerate(others)
            )
        )
    finally:
        for other in others:
            await other.close()
    assert [t for t in taken if t] == [{GENERAL: 1, SCIENCE: 1}]
    winner = f"p{next(n for n, t in enumerate(taken) if t)}"
    assert await store.lease_holder(GENERAL, NOW) == winner
    assert await store.lease_holder(SCIENCE, NOW) == winner


async def test_a_second_publisher_of_a_busy_channel_posts_nothing_until_the_lease_is_free(
    app: App,
) -> None:
    other = lease_owner()  # a live process: this one, under another name
    await app.store.take_leases([GENERAL], other, NOW, NOW + LEASE_TTL)
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
        assert await app.store.take_leases([GENERAL], "taker", now, now + LEASE_TTL) == {GENERAL: 2}

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
    await app.store.release_leases({GENERAL: 2}, app.clock.now())

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


async def test_newsbot_publish_beside_another_publishing_process_posts_the_digest_once(
    discord_double_factory: DoubleFactory, tmp_path: Path, start_publish: Launcher
) -> None:
    double = await discord_double_factory(rate_limits=ROOMY)
    channel = double.channel("digest-general").id
    settings = settings_for(double, tmp_path, DigestChannel(channel, max_items=10, **THREE_PARTS))
    config = write_config(settings, tmp_path / "newsbot.yaml")
    await approve_corpus(settings, tmp_path / "corpus", 10)
    # The first process is in the middle of its digest: part 2 waits on Discord.
    hold = double.hold(lambda r: part_of(r, 1))
    first = await start_publish(double, settings, config, channel)
    await hold.wait(timeout=30)
    second = await start_publish(double, settings, config, channel)
    code, out, err = await finish(second)
    assert code == 0, err
    assert out.splitlines() == [
        f"channel {channel}: another newsbot process is publishing it; left to that one"
    ]
    hold.release()
    code, out, err = await finish(first)
    assert code == 0, err
    assert out.splitlines() == [f"posted 10 items in 3 messages to channel {channel}"]
    messages = double.messages(channel)
    assert len(messages) == 3 and set(parts(messages).values()) == {1}
    async with open_app(settings) as app:
        assert await app.store.unfinished_digests() == []
        assert await app.store.lease_holder(channel, app.clock.now()) is None
