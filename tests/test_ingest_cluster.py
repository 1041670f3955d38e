"""Clustering through ``store_articles``, the one path into the store: merges, their audit,
splits, the one-outlet rule, published stories, languages, and the window kept in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.articles import Article, Provider, Related, parse_article
from bot.clock import ManualClock
from bot.config import AutoApprove, Clustering
from bot.errors import NotFound, StoreError
from bot.ingest import Clusterer, IngestReport, ingest, store_articles
from bot.moderation import BadUrl, split
from bot.store import Merge, Outcome, QueueQuery, SQLiteStore, Status

NOW = datetime(2026, 11, 3, 23, 0, tzinfo=UTC)

REUTERS = (
    "Reuters",
    "reuters.com",
    "Texas measles outbreak grows to 762 cases, health officials say",
    "The Texas Department of State Health Services reported 48 new measles cases on Tuesday,"
    " bringing the outbreak centred on the South Plains region to 762.",
)
CHRONICLE = (
    "Houston Chronicle",
    "houstonchronicle.com",
    "Texas measles cases climb to 762 as West Texas outbreak spreads",
    "State health officials added 48 cases on Tuesday; most of those infected are"
    " unvaccinated children in Gaines County.",
)
AP = (
    "AP News",
    "apnews.com",
    "Measles outbreak in Texas reaches 762 cases",
    "Texas health officials said Tuesday the measles outbreak has now sickened 762 people, most"
    " of them children who were not vaccinated.",
)
NEW_MEXICO = (
    "AP News",
    "apnews.com",
    "New Mexico measles outbreak grows to 81 cases",
    "New Mexico health officials reported five new measles cases in Lea County on Tuesday,"
    " bringing the state's total to 81.",
)
SPIEGEL = (
    "Der Spiegel",
    "spiegel.de",
    "Masernausbruch in Texas: Zahl der Fälle steigt auf 762",
    "Die Gesundheitsbehörde von Texas meldet 48 neue Masernfälle. Betroffen sind vor allem"
    " ungeimpfte Kinder im Westen des Bundesstaats.",
)
TAGESSCHAU = (
    "tagesschau",
    "tagesschau.de",
    "Texas: Masernfälle steigen auf 762",
    "Die Behörden in Texas haben 48 weitere Masernfälle gemeldet; die meisten Infizierten sind"
    " ungeimpfte Kinder.",
)


Story = tuple[str, str, str, str]


def text_of(story: Story, slug: str, hours: float = 0, **changes: object) -> str:
    outlet, domain, title, excerpt = story
    when = NOW - timedelta(hours=5) + timedelta(hours=hours)
    return (
        f"---\ntitle: {title!r}\nexcerpt: {excerpt!r}\nwebUrl: https://www.{domain}/{slug}\n"
        f"publishedDateTime: {when.isoformat()}\nprovider: {{name: {outlet}, domain: {domain}}}\n"
        + "".join(f"{key}: {value}\n" for key, value in changes.items())
        + "---\n"
    )


def article(story: Story, slug: str, hours: float = 0, **changes: object) -> Article:
    return parse_article(f"{slug}.md", text_of(story, slug, hours, **changes).encode())


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def store(tmp_path: Path, clock: ManualClock) -> AsyncIterator[SQLiteStore]:
    opened = await SQLiteStore.open(tmp_path / "q.db", clock)
    yield opened
    await opened.close()


@pytest.fixture
def clusterer(store: SQLiteStore, clock: ManualClock) -> Clusterer:
    return Clusterer(store, Clustering(), clock)


async def put(store: SQLiteStore, cluster: Clusterer | None, *articles: Article) -> IngestReport:
    report = IngestReport()
    await store_articles(
        store, articles, report, actor="test", auto_approve=AutoApprove(), cluster=cluster
    )
    return report


async def test_another_outlets_article_becomes_audited_related_coverage(
    store: SQLiteStore, clusterer: Clusterer
) -> None:
    first = await put(store, clusterer, article(REUTERS, "a"))
    report = await put(store, clusterer, article(CHRONICLE, "b", 1), article(NEW_MEXICO, "c", 2))
    assert report.summary == "1 new, 0 updated, 0 unchanged, 0 rejected, 1 clustered"
    [lead] = first.new_ids
    assert report.clustered_into == [lead]
    item = await store.get(lead)
    assert [(r.title, r.url, r.provider) for r in item.article.related] == [
        (CHRONICLE[2], "https://www.houstonchronicle.com/b", Provider(*CHRONICLE[:2]))
    ]
    [entry] = [e for e in await store.audit(lead) if e.action == "clustered"]
    assert entry.actor == "test" and entry.from_status == entry.to_status == "pending"
    assert entry.reason is not None
    assert entry.reason.startswith(
        "https://www.houstonchronicle.com/b (houstonchronicle.com) joined as related coverage"
        " (similarity 0."
    )
    assert (await store.count_by_status())[Status.PENDING] == 2  # Texas and New Mexico


async def test_one_batch_clusters_within_itself_and_reingest_is_unchanged(
    store: SQLiteStore, clusterer: Clusterer
) -> None:
    batch = [article(REUTERS, "a"), article(CHRONICLE, "b", 1), article(AP, "c", 2)]
    report = await put(store, clusterer, *batch)
    assert report.summary == "1 new, 0 updated, 0 unchanged, 0 rejected, 2 clustered"
    again = await put(store, clusterer, *batch)
    assert again.summary == "0 new, 0 updated, 3 unchanged, 0 rejected, 0 clustered"
    # Without clustering too: coverage stays coverage, never a second item.
    assert (await put(store, None, *batch)).summary == "0 new, 0 updated, 3 unchanged, 0 rejected"
    # A stored coverage's bytes are known, so ingest does not parse its file again.
    assert await store.known_hashes([a.source_hash for a in batch]) == {
        a.source_hash for a in batch
    }
    assert len(await store.list_items(QueueQuery())) == 1


async def test_one_outlets_two_articles_stay_two_items(
    store: SQLiteStore, clusterer: Clusterer
) -> None:
    report = await put(store, clusterer, article(REUTERS, "a"), article(REUTERS, "a-update", 1))
    assert report.summary == "2 new, 0 updated, 0 unchanged, 0 rejected, 0 clustered"


async def test_the_store_refuses_a_merge_whose_outlet_is_in_the_story(
    store: SQLiteStore, clusterer: Clusterer
) -> None:
    """A decision made on a stale window (another process merged meanwhile) is checked again
    in the transaction: the article becomes an item of its own."""
    await put(store, clusterer, article(REUTERS, "a"), article(CHRONICLE, "b", 1))
    late = article(CHRONICLE, "b-again", 2)
    lead_url = article(REUTERS, "a").url
    results = await store.upsert_articles(
        [late], actor="test", merges={late.url: Merge(lead_url, "houstonchronicle.com", 0.9)}
    )
    assert [outcome for _, outcome in results] == [Outcome.NEW]


async def test_split_makes_the_article_its_own_pending_item_for_good(
    store: SQLiteStore, clusterer: Clusterer
) -> None:
    report = await put(store, clusterer, article(REUTERS, "a"), article(CHRONICLE, "b", 1))
    [lead] = report.new_ids
    await store.transition(lead, Status.APPROVED, allowed_from=(Status.PENDING,), actor="mod")
    new = await split(store, lead, "HTTPS://www.houstonchronicle.com/b#top", actor="mod")
    assert new.status is Status.PENDING and new.article.title == CHRONICLE[2]
    assert new.article.provider == Provider(*CHRONICLE[:2])
    assert (await store.get(lead)).article.related == ()
    assert [(e.action, e.reason) for e in await store.audit(lead)][-1] == (
        "split",
        f"https://www.houstonchronicle.com/b is item {new.id} again",
    )
    assert [(e.action, e.to_status, e.reason) for e in await store.audit(new.id)] == [
        ("split", "pending", f"split from item {lead}")
    ]
    # Its file again: the item it now is, unchanged; never merged back.
    again = await put(store, clusterer, article(CHRONICLE, "b", 1))
    assert again.summary == "0 new, 0 updated, 1 unchanged, 0 rejected, 0 clustered"
    with pytest.raises(NotFound) as missing:
        await split(store, lead, "https://www.houstonchronicle.com/b", actor="mod")
    assert str(missing.value) == (
        f"related coverage https://www.houstonchronicle.com/b of item {lead} not found"
    )
    with pytest.raises(BadUrl) as bad:
        await split(store, lead, "javascript:alert(1)", actor="mod")
    assert str(bad.value) == "'javascript:alert(1)' is not an http(s) URL"


async def test_a_published_story_never_comes_back_as_a_new_item(
    store: SQLiteStore, clusterer: Clusterer
) -> None:
    lead = (await put(store, clusterer, article(REUTERS, "a", published="true"))).new_ids[0]
    assert (await store.get(lead)).status is Status.PUBLISHED
    report = await put(store, clusterer, article(AP, "c", 3))
    assert report.summary == "0 new, 0 updated, 0 unchanged, 0 rejected, 1 clustered"
    assert (await store.count_by_status())[Status.PENDING] == 0


async def test_non_english_articles_cluster_with_their_own_language(
    store: SQLiteStore, clusterer: Clusterer
) -> None:
    report = await put(
        store,
        clusterer,
        article(REUTERS, "a"),
        article(SPIEGEL, "s", 1),
        article(TAGESSCHAU, "t", 2),
        article(CHRONICLE, "b", 3),
    )
    assert report.summary == "2 new, 0 updated, 0 unchanged, 0 rejected, 2 clustered"
    english, german = [await store.get(i) for i in report.new_ids]
    assert [r.provider.name for r in english.article.related if r.provider] == [CHRONICLE[0]]
    assert [r.provider.name for r in german.article.related if r.provider] == [TAGESSCHAU[0]]


async def test_the_window_is_kept_and_sees_what_another_process_stored(
    tmp_path: Path, store: SQLiteStore, clusterer: Clusterer, clock: ManualClock
) -> None:
    await put(store, clusterer, article(NEW_MEXICO, "nm"))
    other = await SQLiteStore.open(tmp_path / "q.db", clock)  # e.g. newsbot ingest beside the bot
    try:
        await put(other, None, article(REUTERS, "a"))
    finally:
        await other.close()
    assert (await put(store, clusterer, article(CHRONICLE, "b", 1))).clustered == 1
    # Three days later the story is out of the window: a new item.
    later = await put(store, clusterer, article(AP, "c", 72))
    assert later.summary == "1 new, 0 updated, 0 unchanged, 0 rejected, 0 clustered"
    assert len(clusterer.index) == 3


async def test_coverage_the_file_lists_already_is_shown_once(
    store: SQLiteStore, clusterer: Clusterer
) -> None:
    own = Related(title="Chronicle", url="https://www.houstonchronicle.com/b")
    lead = article(REUTERS, "a")
    lead = Article(
        **{**{f: getattr(lead, f) for f in lead.__dataclass_fields__}, "related": (own,)}
    )
    await put(store, clusterer, lead, article(CHRONICLE, "b", 1))
    [item] = await store.list_items(QueueQuery(related=True))
    assert item.article.related == (own,)


async def test_file_ingest_clusters_only_when_asked(
    store: SQLiteStore, clusterer: Clusterer, tmp_path: Path
) -> None:
    for slug, story in [("a", REUTERS), ("b", CHRONICLE)]:
        (tmp_path / f"{slug}.md").write_bytes(text_of(story, slug).encode())
    plain = await ingest(store, [tmp_path / "a.md"])
    assert plain.summary == "1 new, 0 updated, 0 unchanged, 0 rejected"
    clustered = await ingest(store, [tmp_path], cluster=clusterer)
    assert clustered.summary == "0 new, 0 updated, 1 unchanged, 0 rejected, 1 clustered"


async def test_a_batch_that_was_not_stored_starts_no_story(
    tmp_path: Path, store: SQLiteStore, clusterer: Clusterer
) -> None:
    from tests.reliability.test_database_faults import locked

    async with locked(tmp_path / "q.db") as release:
        with pytest.raises(StoreError):
            await put(store, clusterer, article(REUTERS, "a"))
        await release()
    # Had the window kept the failed Reuters article, both would join a story with no item.
    report = await put(store, clusterer, article(AP, "c", 1), article(CHRONICLE, "b", 2))
    assert report.summary == "1 new, 0 updated, 0 unchanged, 0 rejected, 1 clustered"


async def test_a_long_running_window_forgets_what_left_it(
    store: SQLiteStore, clusterer: Clusterer, clock: ManualClock
) -> None:
    await put(store, clusterer, article(REUTERS, "a"), article(NEW_MEXICO, "nm", 1))
    assert len(clusterer.index) == 2
    clock.set(NOW + timedelta(days=5))
    report = await put(store, clusterer, article(CHRONICLE, "b", 24 * 5))
    assert report.summary == "1 new, 0 updated, 0 unchanged, 0 rejected, 0 clustered"
    assert len(clusterer.index) == 1  # only the new story: the old ones were pruned
