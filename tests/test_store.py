"""The queue store, tested through the Store protocol on both engines: a real SQLite file and
a fresh PostgreSQL database (see tests/pg.py; skipped, saying how to enable it, without one).

The ``store`` fixture is the only place that names the engines; the tests of SQLite's own
migrations and files open SQLiteStore themselves.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import moderation
from bot.articles import Article, Provider, Related, parse_article
from bot.clock import ManualClock
from bot.config import AutoApprove
from bot.errors import InvalidTransition, NotFound, StoreError
from bot.store import (
    ClaimedRun,
    DigestStatus,
    DraftState,
    Outcome,
    QueueQuery,
    Selection,
    SQLiteStore,
    Status,
    Store,
    Trigger,
)
from bot.store.migrations import MIGRATIONS
from tests.pg import postgres_store

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def make_article(n: int, **changes: object) -> Article:
    base = Article(
        url=f"https://news.example/{n}",
        web_url=f"https://news.example/{n}",
        title=f"Story {n}",
        excerpt=f"Excerpt {n}",
        published_at=NOW - timedelta(hours=n),
        provider=Provider("Example News", "news.example"),
        topics=("AI",) if n % 2 else ("Climate",),
        quality=n,
        heat=n * 10,
        related=(Related(title=f"Other {n}", url=f"https://other.example/{n}"),),
        source=f"---\ntitle: Story {n}\n---\n",
        source_hash=f"hash-{n}",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "postgresql":
        async with postgres_store(request, ManualClock(NOW)) as opened:
            yield opened
        return
    sqlite = await SQLiteStore.open(tmp_path / "queue.db", ManualClock(NOW))
    yield sqlite
    await sqlite.close()


async def test_new_articles_are_pending_with_related_and_audit(store: Store) -> None:
    results = await store.upsert_articles([make_article(1), make_article(2)], actor="test")
    assert [outcome for _, outcome in results] == [Outcome.NEW, Outcome.NEW]
    item = await store.get(results[0][0])
    assert item.status is Status.PENDING
    assert item.article.title == "Story 1"
    assert item.article.related[0].url == "https://other.example/1"
    assert item.article.published_at == NOW - timedelta(hours=1)
    assert [(e.action, e.actor) for e in await store.audit(item.id)] == [("ingested", "test")]


async def test_reingest_is_unchanged_or_updated_never_duplicated(store: Store) -> None:
    [(item_id, _)] = await store.upsert_articles([make_article(1)], actor="t")
    assert await store.upsert_articles([make_article(1)], actor="t") == [
        (item_id, Outcome.UNCHANGED)
    ]
    changed = make_article(1, title="Story 1 (updated)", source_hash="hash-1b", related=())
    assert await store.upsert_articles([changed], actor="t") == [(item_id, Outcome.UPDATED)]
    item = await store.get(item_id)
    assert item.article.title == "Story 1 (updated)"
    assert item.article.related == ()
    assert await store.count_items(QueueQuery()) == 1


async def test_published_items_are_updated_by_reingest_and_stay_published(store: Store) -> None:
    # Issue 15: a published article that changes is corrected (its messages are edited), so
    # re-ingest updates it; it stays published (it is not offered again).
    [(item_id, _)] = await store.upsert_articles([make_article(1, published=True)], actor="t")
    assert (await store.get(item_id)).status is Status.PUBLISHED
    changed = make_article(1, title="Rewritten", source_hash="other", published=True)
    assert await store.upsert_articles([changed], actor="t") == [(item_id, Outcome.UPDATED)]
    item = await store.get(item_id)
    assert item.article.title == "Rewritten" and item.status is Status.PUBLISHED
    # Never delivered by newsbot: nothing to correct, so it is not marked corrected.
    assert item.corrected_at is None


async def test_auto_approve_policy(store: Store) -> None:
    articles = [make_article(30), make_article(80), make_article(90, published=True)]
    approvals = moderation.auto_approvals(articles, AutoApprove(min_quality=50))
    assert list(approvals) == [articles[1].url]  # published: true needs no approval
    assert moderation.auto_approvals(articles, AutoApprove()) == {}
    results = await store.upsert_articles(articles, actor="t", approvals=approvals)
    statuses = [(await store.get(i)).status for i, _ in results]
    assert statuses == [Status.PENDING, Status.APPROVED, Status.PUBLISHED]
    approved = await store.get(results[1][0])
    assert (approved.decided_by, approved.decided_at) == ("auto-approve", NOW)
    assert [(e.action, e.actor, e.reason) for e in await store.audit(approved.id)] == [
        ("ingested", "t", None),
        ("approved", "auto-approve", "quality >= 50"),
    ]
    # An approval applies to a new article only: re-ingesting a pending one leaves it pending.
    changed = replace(articles[0], quality=99, source_hash="hash-30b")
    again = await store.upsert_articles(
        [changed],
        actor="t",
        approvals=moderation.auto_approvals([changed], AutoApprove(min_quality=50)),
    )
    assert again == [(results[0][0], Outcome.UPDATED)]
    assert (await store.get(results[0][0])).status is Status.PENDING


async def test_timestamps_are_the_injected_clocks(store: Store) -> None:
    [(item_id, _)] = await store.upsert_articles([make_article(1)], actor="t")
    item = await store.get(item_id)
    assert item.created_at == item.updated_at == NOW
    assert [e.at for e in await store.audit(item_id)] == [NOW]
    digest, _ = await store.create_digest(3, "k", Trigger.COMMAND, [({"content": "x"}, "n", ())])
    assert digest.created_at == NOW
    assert digest.status is DigestStatus.PENDING and digest.trigger is Trigger.COMMAND


async def test_state_machine(store: Store) -> None:
    [(a, _), (b, _)] = await store.upsert_articles([make_article(1), make_article(2)], actor="t")
    item = await moderation.approve(store, a, actor="mod")
    assert item.status is Status.APPROVED and item.decided_by == "mod"
    with pytest.raises(InvalidTransition, match="item 1 is approved; it cannot become approved"):
        await moderation.approve(store, a, actor="mod2")
    rejected = await moderation.reject(store, b, actor="mod", reason="  off   topic ")
    assert rejected.status is Status.REJECTED and rejected.reason == "off topic"
    with pytest.raises(InvalidTransition):
        await moderation.approve(store, b, actor="mod")
    with pytest.raises(NotFound, match="item 99 not found"):
        await moderation.approve(store, 99, actor="mod")
    audit = await store.audit(b)
    assert [(e.action, e.from_status, e.to_status, e.reason) for e in audit][-1] == (
        "rejected",
        "pending",
        "rejected",
        "off topic",
    )


async def test_approve_all_only_touches_pending(store: Store) -> None:
    ids = [
        i for i, _ in await store.upsert_articles([make_article(n) for n in range(1, 5)], actor="t")
    ]
    await moderation.reject(store, ids[0], actor="m", reason=None)
    approved = await moderation.approve_all(store, actor="m")
    assert approved == ids[1:]
    counts = await store.count_by_status()
    assert counts[Status.APPROVED] == 3 and counts[Status.REJECTED] == 1


async def test_queue_filters(store: Store) -> None:
    await store.upsert_articles([make_article(n) for n in range(1, 7)], actor="t")
    await moderation.approve(store, 2, actor="m")
    assert [i.id for i in await store.list_items(QueueQuery(statuses=(Status.APPROVED,)))] == [2]
    assert [i.id for i in await store.list_items(QueueQuery(topic="ai"))] == [1, 3, 5]
    assert [i.id for i in await store.list_items(QueueQuery(search="story 4"))] == [4]
    assert [i.id for i in await store.list_items(QueueQuery(limit=2, after=2))] == [3, 4]
    assert await store.count_items(QueueQuery(topic="Climate")) == 3


async def test_queue_pages_by_key_both_ways(store: Store) -> None:
    await store.upsert_articles([make_article(n) for n in range(1, 26)], actor="t")
    for item_id in (3, 4, 10, 11, 12, 20):
        await moderation.approve(store, item_id, actor="m")

    async def ids(**query: object) -> list[int]:
        return [i.id for i in await store.list_items(QueueQuery(**query))]  # type: ignore[arg-type]

    assert await ids(limit=10) == list(range(1, 11))
    assert await ids(limit=10, after=10) == list(range(11, 21))
    assert await ids(limit=10, after=20) == list(range(21, 26))
    assert await ids(limit=10, before=21) == list(range(11, 21))
    assert await ids(limit=10, before=6) == [1, 2, 3, 4, 5]
    approved = (Status.APPROVED,)
    assert await ids(statuses=approved, limit=2, after=4) == [10, 11]
    assert await ids(statuses=approved, limit=2, before=20) == [11, 12]
    assert await ids(statuses=approved, topic="climate", after=4) == [10, 12, 20]
    assert await store.count_items(QueueQuery(statuses=approved, after=10)) == 3


async def test_counts_follow_every_change_of_status(store: Store) -> None:
    async def check(expected: dict[Status, int]) -> None:
        assert await store.count_by_status() == expected
        assert await store.count_items(QueueQuery()) == sum(expected.values())
        assert (
            await store.count_items(QueueQuery(statuses=(Status.PENDING,)))
            == (expected[Status.PENDING])
        )
        both = (Status.APPROVED, Status.REJECTED, Status.APPROVED)
        assert await store.count_items(QueueQuery(statuses=both)) == (
            expected[Status.APPROVED] + expected[Status.REJECTED]
        )

    zero = dict.fromkeys(Status, 0)
    await check(zero)
    await store.upsert_articles([make_article(n) for n in range(1, 7)], actor="t")
    await store.upsert_articles(
        [make_article(7, published=True), make_article(1, title="again", source_hash="h1b")],
        actor="t",
    )
    await check({**zero, Status.PENDING: 6, Status.PUBLISHED: 1})
    await moderation.approve(store, 1, actor="m")
    await moderation.reject(store, 2, actor="m", reason=None)
    await check(
        {**zero, Status.PENDING: 4, Status.APPROVED: 1, Status.REJECTED: 1, Status.PUBLISHED: 1}
    )
    assert await moderation.approve_all(store, actor="m") == [3, 4, 5, 6]
    await check({**zero, Status.APPROVED: 5, Status.REJECTED: 1, Status.PUBLISHED: 1})
    assert await store.count_items(QueueQuery(topic="AI")) == 4
    assert await store.count_items(QueueQuery(search="Story 3")) == 1


async def test_a_queue_from_before_the_counts_gets_them_when_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = await SQLiteStore.open(path, ManualClock(NOW))
    await store.upsert_articles([make_article(n) for n in range(1, 6)], actor="t")
    await moderation.approve(store, 2, actor="m")
    await store.close()
    with sqlite3.connect(path) as db:  # back to schema 3, as a queue from before it was
        for trigger in ("insert", "delete", "status"):
            db.execute(f"DROP TRIGGER articles_count_{trigger}")
        db.execute("DROP TABLE status_counts")
        db.execute("DELETE FROM schema_migrations WHERE version = 4")
    store = await SQLiteStore.open(path, ManualClock(NOW))
    try:
        counts = await store.count_by_status()
        assert (counts[Status.PENDING], counts[Status.APPROVED]) == (4, 1)
        await moderation.approve(store, 3, actor="m")
        assert await store.count_items(QueueQuery(statuses=(Status.APPROVED,))) == 2
    finally:
        await store.close()


async def test_selection_orders_filters_and_skips_delivered(store: Store) -> None:
    ids = [
        i for i, _ in await store.upsert_articles([make_article(n) for n in range(1, 7)], actor="t")
    ]
    await moderation.approve_all(store, actor="m")
    selection = Selection(channel=10, limit=3)
    assert [i.id for i in await store.select_for_digest(selection)] == [6, 5, 4]
    ai_only = replace(selection, topics=("AI",), min_quality=2)
    assert [i.id for i in await store.select_for_digest(ai_only)] == [5, 3]
    newest = replace(selection, order=("newest",))
    assert [i.id for i in await store.select_for_digest(newest)] == [1, 2, 3]
    digest, created = await store.create_digest(
        10, "key-1", Trigger.COMMAND, [({"content": "a"}, "nonce-0", (ids[5], ids[4]))]
    )
    assert created
    # Items held by an unfinished digest are not offered again to the same channel.
    assert [i.id for i in await store.select_for_digest(selection)] == [4, 3, 2]
    sent_at = datetime.now(UTC)
    await store.record_sent(digest.id, 0, 555, sent_at)
    await store.finish_digest(digest.id, DigestStatus.DONE)
    assert (await store.get(ids[5])).status is Status.PUBLISHED
    assert [(d.channel_id, d.message_id) for d in await store.deliveries(ids[5])] == [(10, 555)]
    assert [i.id for i in await store.select_for_digest(selection)] == [4, 3, 2]
    # Another channel still gets recently published items, but not old ones.
    other = Selection(channel=20, limit=3, republish_after=sent_at - timedelta(hours=1))
    assert [i.id for i in await store.select_for_digest(other)] == [6, 5, 4]
    stale = replace(other, republish_after=sent_at + timedelta(hours=1))
    assert [i.id for i in await store.select_for_digest(stale)] == [4, 3, 2]


async def test_outbox_is_written_once_and_resumable(store: Store) -> None:
    ids = [i for i, _ in await store.upsert_articles([make_article(n) for n in (1, 2)], actor="t")]
    await moderation.approve_all(store, actor="m")
    messages = [({"content": "p1"}, "n1", (ids[0],)), ({"content": "p2"}, "n2", (ids[1],))]
    digest, created = await store.create_digest(7, "k", Trigger.COMMAND, messages)
    again, created_again = await store.create_digest(7, "k", Trigger.COMMAND, messages)
    assert created and not created_again and again.id == digest.id
    assert [m.nonce for m in digest.unsent] == ["n1", "n2"]
    await store.record_sent(digest.id, 0, 1001, NOW)
    # Recording the same part twice keeps the first message id.
    await store.record_sent(digest.id, 0, 9999, NOW)
    [unfinished] = await store.unfinished_digests()
    assert [(m.position, m.message_id) for m in unfinished.messages] == [(0, 1001), (1, None)]
    assert [m.item_ids for m in unfinished.unsent] == [(ids[1],)]
    assert (await store.get(ids[0])).status is Status.PUBLISHED
    assert (await store.get(ids[1])).status is Status.APPROVED
    await store.finish_digest(digest.id, DigestStatus.FAILED, "403 Missing Permissions")
    assert await store.unfinished_digests() == []


async def test_review_posts_and_schedules(store: Store) -> None:
    ids = [i for i, _ in await store.upsert_articles([make_article(n) for n in (1, 2)], actor="t")]
    # Highest quality first (make_article(n) has quality n).
    assert [i.id for i in await store.unreviewed_pending(10)] == ids[::-1]
    await store.record_review_post(ids[0], 5, 500)
    assert [i.id for i in await store.unreviewed_pending(10)] == [ids[1]]
    assert await store.count_unreviewed_pending() == 1
    assert await store.review_posts_since(NOW - timedelta(seconds=1)) == [NOW]
    assert await store.review_posts_since(NOW) == []
    post = await store.review_post(ids[0])
    assert post is not None and post.message_id == 500
    await store.set_schedule(5, "0 9 * * *", "Europe/Berlin", actor="mod")
    [schedule] = await store.schedules()
    assert (schedule.cron, schedule.timezone, schedule.updated_by) == (
        "0 9 * * *",
        "Europe/Berlin",
        "mod",
    )
    run = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert await store.claim_scheduled_run(5, run, "host:1:a")
    assert not await store.claim_scheduled_run(5, run, "host:2:b")
    assert await store.orphaned_runs() == [ClaimedRun(5, run, "host:1:a")]
    assert await store.last_scheduled_run(5) == run
    assert await store.clear_schedule(5) and not await store.clear_schedule(5)


async def test_submitting_a_known_url_returns_the_existing_item(store: Store) -> None:
    item, created = await store.submit(make_article(1), submitted_by="discord:1")
    assert created and item.submitted_by == "discord:1" and item.status is Status.PENDING
    again, created_again = await store.submit(make_article(1), submitted_by="discord:2")
    assert not created_again and again.id == item.id


async def test_migrations_are_recorded_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    first = await SQLiteStore.open(path, ManualClock(NOW))
    assert await first.schema_version() == MIGRATIONS[-1][0]
    await first.close()
    second = await SQLiteStore.open(path, ManualClock(NOW))
    await second.close()
    with sqlite3.connect(path) as db:
        count = db.execute("SELECT count(*) FROM schema_migrations").fetchone()
        assert count == (len(MIGRATIONS),)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT DISTINCT applied_at FROM schema_migrations").fetchall() == [
            (NOW.isoformat(timespec="microseconds"),)
        ]


async def test_migration_3_renames_the_empty_run_outcome(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    await (await SQLiteStore.open(path, ManualClock(NOW))).close()
    with sqlite3.connect(path) as db:  # a database from before migration 3, with an old row
        db.execute("DELETE FROM schema_migrations WHERE version = 3")
        db.execute(
            "INSERT INTO schedule_runs (channel_id, scheduled_for, outcome, ran_at)"
            " VALUES (5, '2026-11-26T08:00:00.000000+00:00', 'empty', '')"
        )
    await (await SQLiteStore.open(path, ManualClock(NOW))).close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT outcome FROM schedule_runs").fetchall() == [("nothing",)]


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    await (await SQLiteStore.open(path, ManualClock(NOW))).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO schema_migrations VALUES (99, 'future', '')")
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        await SQLiteStore.open(path, ManualClock(NOW))


async def test_a_failed_batch_leaves_nothing_half_written(store: Store) -> None:
    good = make_article(1)
    bad = make_article(2, title=None)  # violates NOT NULL inside the same transaction
    with pytest.raises(StoreError):
        await store.upsert_articles([good, bad], actor="t")
    assert await store.count_items(QueueQuery()) == 0


async def test_seed_round_trip_through_the_store(store: Store) -> None:
    path = Path(__file__).resolve().parent.parent / "seeds" / "ibm-facial-recognition.md"
    article = parse_article(str(path), path.read_bytes())
    [(item_id, _)] = await store.upsert_articles([article], actor="t")
    stored = (await store.get(item_id)).article
    assert replace(stored, warnings=()) == article


async def test_the_deck_walks_pending_items_by_key_with_and_without_a_topic(store: Store) -> None:
    # make_article: odd n has topic AI, even n Climate.
    ids = [
        i for i, _ in await store.upsert_articles([make_article(n) for n in range(1, 7)], actor="t")
    ]
    walked, after = [], 0
    while (item := await store.next_pending(after=after)) is not None:
        walked.append(item.id)
        after = item.id
    assert walked == ids
    await moderation.approve(store, ids[0], actor="mod")
    first = await store.next_pending(after=0, topic="ai")  # case-insensitive
    assert first is not None and first.id == ids[2]
    assert first.article.related  # rendered as it would post, related coverage included
    assert await store.count_pending(topic="AI", limit=100) == 2
    assert await store.count_pending(topic="AI", limit=1) == 1
    assert await store.count_pending(limit=100) == 5
    # A topic edit moves the item's index rows with it.
    changed = replace(make_article(3), topics=("Space",), source_hash="new")
    await store.upsert_articles([changed], actor="t")
    after_edit = await store.next_pending(after=0, topic="AI")
    assert after_edit is not None and after_edit.id == ids[4]
    space = await store.next_pending(after=0, topic="space")
    assert space is not None and space.id == ids[2]
    assert await store.next_pending(after=ids[-1]) is None


async def test_trusted_providers_are_kept_once(store: Store) -> None:
    assert await store.trusted_providers() == ()
    assert await store.trust_provider("News.Example", actor="mod") is True
    assert await store.trust_provider("news.example", actor="mod") is False
    assert await store.trusted_providers() == ("news.example",)


async def test_bot_messages_and_digest_summaries(store: Store) -> None:
    assert await store.bot_message("review-standing") is None
    await store.set_bot_message("review-standing", 5, 50)
    await store.set_bot_message("review-standing", 5, 51)
    standing = await store.bot_message("review-standing")
    assert standing is not None and standing.message_id == 51
    ids = [i for i, _ in await store.upsert_articles([make_article(n) for n in (1, 2)], actor="t")]
    for item_id in ids:
        await moderation.approve(store, item_id, actor="mod")
    assert await store.last_digest(7) is None
    digest, _ = await store.create_digest(
        7,
        "k1",
        Trigger.CLI,
        [({"content": "a"}, "n1", (ids[0],)), ({"content": "b"}, "n2", (ids[1],))],
    )
    assert await store.last_digest(7) is None  # nothing posted yet
    await store.record_sent(digest.id, 0, 700, NOW)
    last = await store.last_digest(7)
    assert last is not None and (last.items, last.first_message_id) == (2, 700)
    await store.finish_digest(digest.id, DigestStatus.FAILED, "403 Missing Access")
    [failed] = await store.failed_digests(5)
    assert (failed.id, failed.error, failed.channel_id) == (digest.id, "403 Missing Access", 7)


async def test_a_draft_is_made_once_per_run_and_changes_only_on_the_version_it_was_shown_at(
    store: Store,
) -> None:
    ids = [i for i, _ in await store.upsert_articles([make_article(1), make_article(2)], actor="t")]
    for item_id in ids:
        await moderation.approve(store, item_id, actor="t")
    run = NOW + timedelta(hours=1)
    draft, created = await store.create_draft(5, run, ids)
    again, created_again = await store.create_draft(5, run, [ids[0]])
    assert created and not created_again and again == draft and draft.item_ids == tuple(ids)
    dropped = await store.change_draft(draft.id, draft.version, dropped=[ids[1]])
    assert dropped is not None and dropped.kept == (ids[0],) and dropped.version == 2
    # A decision made on version 1 (a second moderator's click) changes nothing.
    assert await store.change_draft(draft.id, 1, state=DraftState.SKIPPED, actor="b") is None
    approved = await store.change_draft(draft.id, 2, state=DraftState.APPROVED, actor="a")
    assert approved is not None and approved.decided_by == "a"
    assert approved.dropped == (ids[1],)
    assert await store.open_drafts(5, run - timedelta(minutes=1)) == []
    assert await store.open_drafts(5, run) == [approved]
    # The draft's kept items, and only those, are offered to the run.
    chosen = await store.select_for_digest(Selection(channel=5, only=approved.kept))
    assert [item.id for item in chosen] == [ids[0]]
    assert await store.select_for_digest(Selection(channel=5, only=())) == []
