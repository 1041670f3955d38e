"""The store's side of corrections and retractions: the edits outbox (migration 11), on both
engines (the PostgreSQL params skip, saying how to enable them, without a server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.articles import Provider
from bot.clock import ManualClock
from bot.errors import InvalidTransition, NotFound
from bot.store import (
    EditOutcome,
    EditWhy,
    Merge,
    Outcome,
    QueueQuery,
    Selection,
    SQLiteStore,
    Status,
    Store,
    Trigger,
)
from tests.pg import postgres_store
from tests.test_store import NOW, make_article


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[Store]:
    if request.param == "postgresql":
        async with postgres_store(request, clock) as pg:
            yield pg
        return
    opened = await SQLiteStore.open(tmp_path / "queue.db", clock)
    yield opened
    await opened.close()


async def published(store: Store, *, sent: bool = True) -> tuple[list[int], int]:
    """Three approved items published in a two-message digest (items 1 and 2 in the first
    message, item 3 in the second); returns the ids and the digest's id."""
    results = await store.upsert_articles([make_article(n) for n in (1, 2, 3)], actor="t")
    ids = [item_id for item_id, _ in results]
    for item_id in ids:
        await store.transition(item_id, Status.APPROVED, allowed_from=(Status.PENDING,), actor="m")
    messages = [
        ({"content": "one and two"}, "n0", (ids[0], ids[1])),
        ({"content": "three"}, "n1", (ids[2],)),
    ]
    digest, _ = await store.create_digest(50, "ref@x", Trigger.COMMAND, messages)
    if sent:
        await store.record_sent(digest.id, 0, 9000, NOW)
        await store.record_sent(digest.id, 1, 9001, NOW)
    return ids, digest.id


async def test_reingesting_a_published_item_queues_an_edit_of_its_message(store: Store) -> None:
    ids, digest_id = await published(store)
    assert await store.pending_edits(10) == []
    changed = make_article(2, title="Story 2, corrected", source_hash="hash-2b")
    assert await store.upsert_articles([changed], actor="t") == [(ids[1], Outcome.UPDATED)]
    [edit] = await store.pending_edits(10)
    assert (edit.digest_id, edit.position, edit.message_id) == (digest_id, 0, 9000)
    assert edit.why is EditWhy.CORRECTION and edit.channel_id == 50
    assert edit.item_ids == tuple(ids)
    assert edit.message_items == ((ids[0], ids[1]), (ids[2],))
    assert edit.payload == {"content": "one and two"}
    item = await store.get(ids[1])
    assert item.corrected_at == NOW and item.status is Status.PUBLISHED
    assert (await store.get(ids[0])).corrected_at is None


async def test_a_second_change_joins_the_queued_edit(store: Store, clock: ManualClock) -> None:
    _ids, _ = await published(store)
    await store.upsert_articles([make_article(1, source_hash="b")], actor="t")
    [first] = await store.pending_edits(10)
    clock.advance(timedelta(minutes=1))
    await store.upsert_articles([make_article(2, source_hash="b")], actor="t")
    [again] = await store.pending_edits(10)
    assert again.queued_at == NOW + timedelta(minutes=1)
    # Closing the older one fails: the newer change still has to go out.
    done = await store.finish_edit(
        first.digest_id, 0, EditOutcome.EDITED, queued_at=first.queued_at, at=clock.now()
    )
    assert not done and len(await store.pending_edits(10)) == 1
    payload = {"content": "new"}
    assert await store.finish_edit(
        again.digest_id,
        0,
        EditOutcome.EDITED,
        queued_at=again.queued_at,
        at=clock.now(),
        payload=payload,
    )
    assert await store.pending_edits(10) == []
    digest = (await store.unfinished_digests())[0]
    assert digest.messages[0].payload == payload


async def test_an_unsent_part_is_edited_once_it_is_sent(store: Store) -> None:
    # A retraction while a digest is half sent: its unsent part goes out as it was written
    # (resuming it must find it by that content), then it is edited.
    ids, digest_id = await published(store, sent=False)
    await store.retract(ids[2], "gone", actor="m")
    assert await store.pending_edits(10) == []
    await store.record_sent(digest_id, 1, 9001, NOW)
    [edit] = await store.pending_edits(10)
    assert (edit.position, edit.message_id, edit.why) == (1, 9001, EditWhy.RETRACTION)


async def test_retraction_is_audited_queued_and_never_selected(store: Store) -> None:
    ids, _digest_id = await published(store)
    item = await store.retract(ids[2], "the outlet withdrew it", actor="discord:7")
    assert item.retracted and item.retraction_reason == "the outlet withdrew it"
    assert item.status is Status.PUBLISHED
    audit = (await store.audit(ids[2]))[-1]
    assert (audit.action, audit.actor, audit.reason) == (
        "retracted",
        "discord:7",
        "the outlet withdrew it",
    )
    [edit] = await store.pending_edits(10)
    assert (edit.position, edit.why) == (1, EditWhy.RETRACTION)
    # A correction of the same message before the edit goes out keeps it a retraction.
    await store.upsert_articles([make_article(3, source_hash="b")], actor="t")
    [edit] = await store.pending_edits(10)
    assert edit.why is EditWhy.RETRACTION
    with pytest.raises(InvalidTransition):
        await store.retract(ids[2], "again", actor="m")
    with pytest.raises(NotFound):
        await store.retract(999, "none", actor="m")
    # Never selected again, for any channel.
    fresh = [i for i, _ in await store.upsert_articles([make_article(4)], actor="t")]
    await store.retract(fresh[0], "wrong", actor="m")
    await store.transition(fresh[0], Status.APPROVED, allowed_from=(Status.PENDING,), actor="m")
    assert await store.select_for_digest(Selection(channel=60)) == []
    assert len(await store.list_items(QueueQuery())) == 4


async def test_a_moderators_edit_changes_the_item_and_queues_edits(store: Store) -> None:
    ids, _ = await published(store)
    item = await store.edit_item(ids[0], title="Better title", excerpt=None, actor="discord:7")
    assert item.article.title == "Better title" and item.article.excerpt == "Excerpt 1"
    assert (await store.audit(ids[0]))[-1].action == "edited"
    assert [e.position for e in await store.pending_edits(10)] == [0]
    with pytest.raises(NotFound):
        await store.edit_item(999, title="x", excerpt=None, actor="m")


async def test_block_reports_once_and_unblock_lets_it_retry(store: Store) -> None:
    ids, digest_id = await published(store)
    await store.retract(ids[0], "r", actor="m")
    assert await store.block_edit(digest_id, 0, 30046)
    assert not await store.block_edit(digest_id, 0, 30046)
    [edit] = await store.pending_edits(10)
    assert edit.blocked_code == 30046 and edit.reported
    assert await store.unblock_edits() == 1
    [edit] = await store.pending_edits(10)
    assert edit.blocked_code is None and edit.reported


async def test_deliveries_of_many_items(store: Store) -> None:
    ids, _digest_id = await published(store)
    found = await store.deliveries_of([*ids, 999])
    assert [(d.channel_id, d.message_id) for d in found[ids[0]]] == [(50, 9000)]
    assert [(d.channel_id, d.message_id) for d in found[ids[2]]] == [(50, 9001)]
    assert found[999] == []


async def test_coverage_clustered_into_a_published_item_queues_its_edit(store: Store) -> None:
    ids, digest_id = await published(store)
    lead = await store.get(ids[2])
    other = make_article(
        7, url="https://other-outlet.example/7", provider=Provider("Other", "other-outlet.example")
    )
    merge = Merge(lead_url=lead.article.url, outlet="other-outlet.example", score=0.9)
    [(item_id, outcome)] = await store.upsert_articles(
        [other], actor="t", merges={other.url: merge}
    )
    assert (item_id, outcome) == (ids[2], Outcome.CLUSTERED)
    [edit] = await store.pending_edits(10)
    assert (edit.digest_id, edit.position, edit.why) == (digest_id, 1, EditWhy.CORRECTION)
    assert (await store.get(ids[2])).corrected_at is not None


async def test_held_edits_come_after_the_others(store: Store, clock: ManualClock) -> None:
    ids, digest_id = await published(store)
    await store.retract(ids[0], "r", actor="m")
    await store.block_edit(digest_id, 0, 30046)
    clock.advance(timedelta(minutes=1))
    await store.retract(ids[2], "r", actor="m")  # queued later, but not held
    assert [e.position for e in await store.pending_edits(10)] == [1, 0]
    assert [e.position for e in await store.pending_edits(1)] == [1]
