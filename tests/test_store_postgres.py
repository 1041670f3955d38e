"""What is PostgreSQL's own in its store: migrations, the scheduler's advisory lock, the
errors an operator sees, and a digest published through the Discord double on it.

The Store protocol's behaviour is tested on both engines by tests/test_store.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from bot import moderation
from bot.app import open_app
from bot.clock import ManualClock
from bot.config import DigestChannel, Secret, Settings
from bot.discord_adapter.runner import publish_once
from bot.errors import StoreError
from bot.ingest import ingest
from bot.store import Status
from bot.store.dsn import DatabaseUrl
from bot.store.migrations import MIGRATIONS as SQLITE_MIGRATIONS
from bot.store.postgres import PostgresStore
from bot.store.postgres.migrations import MIGRATIONS
from tests.discord_double import DoubleFactory
from tests.pg import SKIP
from tests.test_publish_e2e import ROOMY, write_articles
from tests.test_store import make_article

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_postgres_migrations_match_sqlites_numbers_and_names() -> None:
    # schema_version() means the same on both engines; a new SQLite migration needs its port.
    assert [(v, n) for v, n, _ in MIGRATIONS] == [(v, n) for v, n, _ in SQLITE_MIGRATIONS]


async def test_migrations_are_recorded_once_and_the_version_agrees(pg_url: DatabaseUrl) -> None:
    first = await PostgresStore.open(pg_url, ManualClock(NOW))
    assert await first.schema_version() == SQLITE_MIGRATIONS[-1][0]
    await first.close()
    second = await PostgresStore.open(pg_url, ManualClock(NOW))  # reopened: nothing reapplied
    await second.close()
    connection = await asyncpg.connect(pg_url.url)
    try:
        rows = await connection.fetch("SELECT version, applied_at FROM schema_migrations")
    finally:
        await connection.close()
    assert sorted(r["version"] for r in rows) == [v for v, _, _ in MIGRATIONS]
    assert {r["applied_at"] for r in rows} == {NOW}  # the injected clock's time


async def test_a_newer_schema_is_refused(pg_url: DatabaseUrl) -> None:
    await (await PostgresStore.open(pg_url, ManualClock(NOW))).close()
    connection = await asyncpg.connect(pg_url.url)
    try:
        await connection.execute(
            "INSERT INTO schema_migrations VALUES (999, 'from the future', now())"
        )
    finally:
        await connection.close()
    with pytest.raises(StoreError, match="schema version 999 is newer than this newsbot"):
        await PostgresStore.open(pg_url, ManualClock(NOW))


async def test_the_counts_and_topics_triggers_follow_updates_and_deletes(
    pg_url: DatabaseUrl,
) -> None:
    # The store never deletes articles; the triggers must still agree with the table when an
    # operator does (as SQLite's do).
    store = await PostgresStore.open(pg_url, ManualClock(NOW))
    try:
        results = await store.upsert_articles([make_article(1), make_article(2)], actor="t")
        await moderation.approve(store, results[0][0], actor="mod")
        connection = await asyncpg.connect(pg_url.url)
        try:
            await connection.execute("DELETE FROM articles WHERE id = $1", results[1][0])
            topics = await connection.fetch("SELECT topic, status FROM article_topics")
        finally:
            await connection.close()
        counts = await store.count_by_status()
        assert (counts[Status.APPROVED], counts[Status.PENDING]) == (1, 0)
        assert [tuple(r) for r in topics] == [("ai", "approved")]
    finally:
        await store.close()


async def test_one_process_holds_the_scheduler_lock_until_it_closes(pg_url: DatabaseUrl) -> None:
    settings = Settings(database=pg_url, digests=(DigestChannel(channel=456),))
    clock = ManualClock(NOW)
    async with open_app(settings, clock=clock, schedules=True) as app:
        assert app.runs_schedules
        async with open_app(settings, clock=clock, schedules=True) as other:
            assert not other.runs_schedules
        async with open_app(settings, clock=clock) as cli:
            assert not cli.runs_schedules
    async with open_app(settings, clock=clock, schedules=True) as app:
        assert app.runs_schedules  # released with the first one's session


async def test_an_unreachable_server_is_one_error_line_without_the_password() -> None:
    url = DatabaseUrl.parse("postgresql://newsbot:hunter2@127.0.0.1:1/newsbot")
    with pytest.raises(StoreError) as caught:
        await PostgresStore.open(url, ManualClock(NOW))
    message = str(caught.value)
    assert message.startswith("postgresql://newsbot:***@127.0.0.1:1/newsbot: database error:")
    assert "cannot be reached" in message and "hunter2" not in message
    assert "\n" not in message


async def test_a_missing_database_says_so(pg_dsn: str | None) -> None:
    if pg_dsn is None:
        pytest.skip(SKIP)
    url = DatabaseUrl(pg_dsn.rpartition("/")[0] + "/no_such_newsbot_db")
    with pytest.raises(StoreError, match="no such database on the server: create it first"):
        await PostgresStore.open(url, ManualClock(NOW))


async def test_a_digest_is_published_once_through_discord_on_postgresql(
    discord_double_factory: DoubleFactory,
    pg_url: DatabaseUrl,
    tmp_path: Path,
    restore_endpoints: None,
) -> None:
    double = await discord_double_factory(rate_limits=ROOMY)
    general = double.channel("digest-general").id
    settings = Settings(
        database=pg_url,
        guild=double.guild.id,
        moderator_roles=("Moderator",),
        review_channel=double.channel("review").id,
        digests=(DigestChannel(channel=general),),
        token=Secret(double.token),
        api_base=double.api_base,
        gateway=double.gateway_url,
        source="test.yaml",
    )
    write_articles(tmp_path / "climate", 3, topic="Climate")
    async with open_app(settings) as app:
        ids = (await ingest(app.store, [tmp_path / "climate"])).new_ids
        for item_id in ids:
            await moderation.approve(app.store, item_id, actor="test")
    await publish_once(settings, None)
    await publish_once(settings, None)  # a second run finds nothing new to post
    [message] = double.messages(general)
    assert "Climate story 0" in message["content"]
    async with open_app(settings) as app:
        assert {(await app.store.get(i)).status for i in ids} == {Status.PUBLISHED}
        [delivery] = await app.store.deliveries(ids[0])
        assert delivery.message_id == int(message["id"])
        assert await app.store.unfinished_digests() == []
