"""The Publisher's decisions, through an in-memory Poster that keeps what it was sent.

The store is a real SQLite file and the digests are rendered by the real templates; only
Discord is replaced, by a channel log that honours nonces like Discord and can be told to
fail. The end-to-end tests (tests/test_publish_e2e.py) do the same through discord.py and the
loopback double, with real crashes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import moderation
from bot.app import App, open_app
from bot.clock import ManualClock
from bot.config import DigestChannel, Settings
from bot.errors import DeliveryError
from bot.ingest import ingest
from bot.plan import DigestPlan, plan_digest
from bot.poster import After, ChannelInfo, ChannelKind, same_message
from bot.publish import (
    HISTORY_SLACK,
    Publisher,
    PublishResult,
    PublishStatus,
    describe_result,
    failure_report,
    nonce_for,
)
from bot.render.renderer import default_thread_name
from bot.store import QueueQuery, Status, Trigger
from tests.factory import write_corpus

GENERAL, SCIENCE, REVIEW = 1001, 1002, 9000
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@dataclass
class Sent:
    channel: int
    payload: dict[str, Any]
    nonce: str
    id: int


@dataclass
class MemoryPoster:
    """Discord in a list: ids count up; a nonce already used in a channel returns the earlier
    message, as Discord's ``enforce_nonce`` does (this Discord never forgets)."""

    messages: list[Sent] = field(default_factory=list)
    attempts: list[tuple[int, str]] = field(default_factory=list)
    lookups: list[tuple[int, After]] = field(default_factory=list)
    failures: dict[tuple[int, str], list[Exception]] = field(default_factory=dict)
    """Errors to raise, in order, for (channel, nonce) before anything is posted."""
    lose_answer: set[tuple[int, str]] = field(default_factory=set)
    """(channel, nonce) to post and then fail with a lost connection, once."""
    threads: dict[int, str] = field(default_factory=dict)
    """Threads started, by message id (a thread's id is its message's): their names."""
    thread_attempts: list[tuple[int, int, str]] = field(default_factory=list)
    thread_failures: list[Exception] = field(default_factory=list)
    lose_thread_answer: bool = False
    """Start the next thread, then fail with a lost connection."""

    async def send(self, channel_id: int, payload: dict[str, Any], nonce: str) -> int:
        self.attempts.append((channel_id, nonce))
        pending = self.failures.get((channel_id, nonce))
        if pending:
            raise pending.pop(0)
        earlier = next(
            (m for m in self.messages if m.channel == channel_id and m.nonce == nonce), None
        )
        if earlier is not None:
            return earlier.id
        sent = Sent(channel_id, payload, nonce, 5000 + len(self.messages))
        self.messages.append(sent)
        if (channel_id, nonce) in self.lose_answer:
            self.lose_answer.discard((channel_id, nonce))
            raise DeliveryError("connection failed (ServerDisconnectedError)", permanent=False)
        return sent.id

    async def find_recent(
        self, channel_id: int, payload: Mapping[str, Any], after: After
    ) -> int | None:
        self.lookups.append((channel_id, after))
        for m in self.messages:
            later = not isinstance(after, int) or m.id > after
            if m.channel == channel_id and later and same_message(m.payload, payload):
                return m.id
        return None

    async def crosspost(self, channel_id: int, message_id: int) -> None:
        raise AssertionError("no announcement channel here")

    async def channel_info(self, channel_id: int) -> ChannelInfo:
        return ChannelInfo(ChannelKind.TEXT)  # forums are tested through the double

    async def create_post(
        self, forum_id: int, name: str, payload: dict[str, Any], tags: Sequence[int]
    ) -> int:
        raise AssertionError("no forum here")

    async def find_post(
        self, forum_id: int, name: str, payload: Mapping[str, Any], after: datetime
    ) -> int | None:
        raise AssertionError("no forum here")

    async def start_thread(self, channel_id: int, message_id: int, name: str) -> int:
        self.thread_attempts.append((channel_id, message_id, name))
        pending = self.thread_failures
        if pending:
            raise pending.pop(0)
        self.threads.setdefault(message_id, name)  # one thread per message, its id the message's
        if self.lose_thread_answer:
            self.lose_thread_answer = False
            raise DeliveryError("connection failed (ServerDisconnectedError)", permanent=False)
        return message_id

    def in_channel(self, channel: int) -> list[Sent]:
        return [m for m in self.messages if m.channel == channel]

    def forget_nonces(self) -> None:
        """Discord's nonce window has passed: a repeated nonce posts again."""
        for m in self.messages:
            m.nonce = f"expired-{m.id}"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    settings = Settings(
        database=tmp_path / "newsbot.db",
        review_channel=REVIEW,
        digests=(
            # Whole excerpts and three related links: ten items in three parts or more.
            DigestChannel(channel=GENERAL, max_items=10, related_limit=3, excerpt_length=400),
            DigestChannel(channel=SCIENCE, max_items=2),
        ),
    )
    write_corpus(tmp_path / "corpus", 12)
    async with open_app(settings, clock=ManualClock(NOW)) as app:
        report = await ingest(app.store, [tmp_path / "corpus"])
        for item_id in report.new_ids:
            await moderation.approve(app.store, item_id, actor="test")
        yield app


def publisher_for(app: App, poster: MemoryPoster, **options: Any) -> Publisher:
    return Publisher(app.store, app.renderer, poster, app.clock, app.settings, **options)


async def plan_for(app: App, channel: int) -> DigestPlan:
    """The plan a publish of ``channel`` would make now."""
    digest = app.settings.digest_for(channel)
    return await plan_digest(app.store, app.renderer, digest, app.clock.now())


def forbidden() -> DeliveryError:
    return DeliveryError(
        "403 Missing Permissions (code 50013)", permanent=True, status=403, code=50013
    )


async def statuses(app: App) -> dict[Status, int]:
    return await app.store.count_by_status()


async def test_publish_posts_each_part_once_records_ids_and_says_when_nothing_is_new(
    app: App,
) -> None:
    poster = MemoryPoster()
    publisher = publisher_for(app, poster)
    plan = await plan_for(app, GENERAL)
    result = await publisher.publish(GENERAL)
    assert result.status == "posted" and describe_result(result, f"<#{GENERAL}>") == (
        f"posted 10 items in {len(plan.messages)} messages to <#{GENERAL}>"
    )
    sent = poster.in_channel(GENERAL)
    assert [m.payload for m in sent] == [m.payload for m in plan.messages]
    assert [m.nonce for m in sent] == [nonce_for(plan.key, n) for n in range(len(sent))]
    assert all(len(m.nonce) <= 25 for m in sent)
    assert result.message_ids == tuple(m.id for m in sent)
    assert poster.lookups == []  # a fresh digest has nothing to look for
    # Each item is published with the id of the message that carries it.
    for position, message in enumerate(plan.messages):
        for item_id in plan.item_ids(message):
            [delivery] = await app.store.deliveries(item_id)
            assert (delivery.channel_id, delivery.message_id) == (GENERAL, sent[position].id)
            assert (await app.store.get(item_id)).status is Status.PUBLISHED
    rest = await publisher.publish(GENERAL)  # the 2 of 12 items the first one had no room for
    assert describe_result(rest, f"<#{GENERAL}>") == f"posted 2 items in 1 message to <#{GENERAL}>"
    again = await publisher.publish(GENERAL)
    assert again.status == "nothing" and describe_result(again, f"<#{GENERAL}>") == (
        f"nothing new for <#{GENERAL}>"
    )
    assert len(poster.messages) == len(sent) + 1


async def test_a_part_posted_but_not_recorded_is_found_in_history_not_posted_again(
    app: App,
) -> None:
    poster = MemoryPoster()
    publisher = publisher_for(app, poster, retries=0)
    plan = await plan_for(app, GENERAL)
    assert len(plan.messages) >= 3
    second = nonce_for(plan.key, 1)
    poster.lose_answer.add((GENERAL, second))
    first = await publisher.publish(GENERAL)
    assert first.status == "retry_later"
    [digest] = await app.store.unfinished_digests()
    assert [m.message_id is not None for m in digest.messages][:2] == [True, False]
    # By the next publish Discord has forgotten the nonce: only the history lookup is left.
    poster.forget_nonces()
    [done] = await publisher.resume_unfinished()
    assert done.status == "posted" and done.digest_id == digest.id
    contents = [m.payload["content"] for m in poster.in_channel(GENERAL)]
    assert contents == [m.payload["content"] for m in plan.messages]
    # Looked for after the part recorded before it: an id Discord gave, no clock involved.
    assert poster.lookups == [(GENERAL, digest.messages[0].message_id)]
    assert await app.store.unfinished_digests() == []
    assert (await statuses(app))[Status.PUBLISHED] == 10


async def test_a_first_part_posted_but_not_recorded_is_looked_for_from_the_digests_creation(
    app: App,
) -> None:
    poster = MemoryPoster()
    publisher = publisher_for(app, poster, retries=0)
    plan = await plan_for(app, GENERAL)
    poster.lose_answer.add((GENERAL, nonce_for(plan.key, 0)))
    assert (await publisher.publish(GENERAL)).status == "retry_later"
    [digest] = await app.store.unfinished_digests()
    poster.forget_nonces()
    [done] = await publisher.resume_unfinished()
    assert done.status == "posted"
    assert poster.lookups == [(GENERAL, digest.created_at - HISTORY_SLACK)]
    contents = [m.payload["content"] for m in poster.in_channel(GENERAL)]
    assert contents == [m.payload["content"] for m in plan.messages]


async def test_resume_unfinished_finishes_digests_of_every_channel(app: App) -> None:
    poster = MemoryPoster()
    publisher = publisher_for(app, poster, retries=0)
    plans = {channel: await plan_for(app, channel) for channel in (GENERAL, SCIENCE)}
    for channel, plan in plans.items():
        poster.failures[(channel, nonce_for(plan.key, 0))] = [
            DeliveryError("502 Bad Gateway", permanent=False, status=502)
        ]
    assert [r.status for r in await publisher.publish_many([GENERAL, SCIENCE])] == [
        "retry_later",
        "retry_later",
    ]
    resumed = await publisher.resume_unfinished()
    assert sorted((r.channel, r.status) for r in resumed) == [
        (GENERAL, "posted"),
        (SCIENCE, "posted"),
    ]
    assert await app.store.unfinished_digests() == []
    # Every part once, in order (the poster would hand back a repeated nonce's message, so
    # this compares what each channel received with what was planned).
    for channel, plan in plans.items():
        received = [m.payload["content"] for m in poster.in_channel(channel)]
        assert received == [m.payload["content"] for m in plan.messages]


async def test_transient_failures_are_retried_with_growing_backoff_on_the_clock(
    app: App,
) -> None:
    clock = app.clock
    assert isinstance(clock, ManualClock)
    poster = MemoryPoster()
    publisher = publisher_for(app, poster, retries=3, backoff=timedelta(seconds=2))
    plan = await plan_for(app, SCIENCE)
    key = (SCIENCE, nonce_for(plan.key, 0))
    poster.failures[key] = [
        DeliveryError("500 Internal Server Error", permanent=False, status=500),
        DeliveryError("connection failed (TimeoutError)", permanent=False),
    ]
    publishing = asyncio.create_task(publisher.publish(SCIENCE))
    deadlines = []
    for _ in range(2):
        await clock.wait_for_sleepers(1)
        deadline = clock.next_deadline
        assert deadline is not None
        deadlines.append(deadline)
        clock.set(deadline)
    result = await publishing
    assert result.status == "posted"
    assert deadlines == [NOW + timedelta(seconds=2), NOW + timedelta(seconds=6)]
    assert poster.attempts.count(key) == 3
    assert len(poster.in_channel(SCIENCE)) == 1


async def test_a_4xx_stops_that_digest_reports_it_and_other_channels_still_publish(
    app: App,
) -> None:
    poster = MemoryPoster()
    publisher = publisher_for(app, poster)
    science = await plan_for(app, SCIENCE)
    poster.failures[(SCIENCE, nonce_for(science.key, 0))] = [forbidden()]
    general, failed = await publisher.publish_many([GENERAL, SCIENCE])
    assert general.status == "posted"
    assert failed.status == "failed" and describe_result(failed, f"<#{SCIENCE}>") == (
        f"<#{SCIENCE}>: failed: 403 Missing Permissions (code 50013)"
    )
    assert poster.attempts.count((SCIENCE, nonce_for(science.key, 0))) == 1  # not retried
    [report] = poster.in_channel(REVIEW)
    assert report.payload == {
        "content": failure_report(SCIENCE, forbidden(), 2),
        "allowed_mentions": {"parse": []},
    }
    assert report.payload["content"] == (
        f"**Digest for <#{SCIENCE}> failed.** Discord answered: 403 Missing Permissions"
        " (code 50013)\n2 items stay approved and will go out with the next digest. To fix:"
        " give the bot Send Messages and Embed Links in that channel."
    )
    # The failed digest is over (not resumed), its items are still there for the next one.
    assert await app.store.unfinished_digests() == []
    again = await plan_for(app, SCIENCE)
    assert [i.id for i in again.items] == [i.id for i in science.items]


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        (50001, "give the bot View Channel in that channel"),
        (50013, "give the bot Send Messages and Embed Links in that channel"),
        (10003, "the channel no longer exists; remove it from `digests` in the config"),
        (50035, "a template produced a message Discord refuses; run `newsbot check-templates`"),
        (None, "check the bot's permissions and the channel id"),
    ],
)
def test_failure_report_names_the_channel_the_answer_and_the_fix(
    code: int | None, fix: str
) -> None:
    exc = DeliveryError("403 Nope", permanent=True, status=403, code=code)
    assert failure_report(42, exc, 1) == (
        "**Digest for <#42> failed.** Discord answered: 403 Nope\n"
        f"1 item stays approved and will go out with the next digest. To fix: {fix}."
    )


@dataclass
class Broken(MemoryPoster):
    """Raises something that is no delivery failure for SCIENCE while ``broken``."""

    broken: bool = True

    async def send(self, channel_id: int, payload: dict[str, Any], nonce: str) -> int:
        if self.broken and channel_id == SCIENCE:
            raise RuntimeError("bug")
        return await super().send(channel_id, payload, nonce)


async def test_one_channels_unexpected_error_does_not_stop_the_others(app: App) -> None:
    poster = Broken()
    general, science = await publisher_for(app, poster).publish_many([GENERAL, SCIENCE])
    assert general.status == "posted"
    assert (science.status, science.error) == ("failed", "RuntimeError: bug")
    # The digest stays in the outbox and goes out once the problem is gone.
    poster.broken = False
    [resumed] = await publisher_for(app, poster).resume_unfinished()
    assert (resumed.channel, resumed.status) == (SCIENCE, "posted")


async def test_published_items_are_not_offered_again_to_the_same_channel(app: App) -> None:
    poster = MemoryPoster()
    publisher = publisher_for(app, poster)
    await publisher.publish(SCIENCE)
    await publisher.publish(SCIENCE)
    ids = [d.article_id for d in await _deliveries(app, SCIENCE)]
    assert len(ids) == len(set(ids)) == 4


async def _deliveries(app: App, channel: int) -> list[Any]:
    items = await app.store.list_items(QueueQuery())
    return [d for i in items for d in await app.store.deliveries(i.id) if d.channel_id == channel]


async def test_resuming_on_start_survives_one_channels_unexpected_error(app: App) -> None:
    poster = Broken(broken=False)
    publisher = publisher_for(app, poster, retries=0)
    for channel in (GENERAL, SCIENCE):
        plan = await plan_for(app, channel)
        poster.failures[(channel, nonce_for(plan.key, 0))] = [
            DeliveryError("504 Gateway Timeout", permanent=False, status=504)
        ]
    await publisher.publish_many([GENERAL, SCIENCE])
    poster.broken = True
    resumed = await publisher.resume_unfinished()
    assert sorted((r.channel, r.status, r.error) for r in resumed) == [
        (GENERAL, "posted", None),
        (SCIENCE, "failed", "RuntimeError: bug"),
    ]
    [left] = await app.store.unfinished_digests()
    assert left.channel_id == SCIENCE


async def test_an_empty_scheduled_run_posts_a_notice_only_when_the_channel_asks(
    tmp_path: Path,
) -> None:
    settings = Settings(
        database=tmp_path / "empty.db",
        digests=(
            DigestChannel(channel=GENERAL, post_empty=True, title="Morning *news*"),
            DigestChannel(channel=SCIENCE),
        ),
    )
    async with open_app(settings, clock=ManualClock(NOW)) as app:
        poster = MemoryPoster()
        publisher = publisher_for(app, poster)
        # On command, or for a channel that did not ask: nothing is posted.
        assert (await publisher.publish(GENERAL)).status == "nothing"
        assert (await publisher.publish(SCIENCE, trigger=Trigger.SCHEDULE)).status == "nothing"
        assert poster.messages == []
        result = await publisher.publish(GENERAL, trigger=Trigger.SCHEDULE)
        assert describe_result(result, f"<#{GENERAL}>") == (
            f"nothing new for <#{GENERAL}>; posted the empty-digest notice"
        )
        [notice] = poster.in_channel(GENERAL)
        assert notice.payload["content"] == r"**Morning \*news\*** · no new stories this time."
        assert notice.payload["allowed_mentions"] == {"parse": []}
        assert await app.store.unfinished_digests() == []


@pytest.mark.parametrize(
    ("result", "line"),
    [
        (
            PublishResult(channel=7, status=PublishStatus.POSTED, messages=1, items=1),
            "posted 1 item in 1 message to here",
        ),
        (
            PublishResult(channel=7, status=PublishStatus.POSTED, messages=1),
            "nothing new for here; posted the empty-digest notice",
        ),
        (PublishResult(channel=7, status=PublishStatus.NOTHING), "nothing new for here"),
        (
            PublishResult(channel=7, status=PublishStatus.RETRY_LATER, error="502 Bad Gateway"),
            "here: Discord is failing (502 Bad Gateway); will retry",
        ),
        (
            PublishResult(channel=7, status=PublishStatus.FAILED, error="403 Missing Access"),
            "here: failed: 403 Missing Access",
        ),
    ],
)
def test_a_result_is_described_with_the_channel_named_by_the_caller(
    result: PublishResult, line: str
) -> None:
    # The core names no channel itself: the adapter passes a mention, the CLI "channel 7".
    assert describe_result(result, "here") == line


async def test_a_thread_digest_starts_one_thread_on_its_first_message(tmp_path: Path) -> None:
    settings = Settings(
        database=tmp_path / "newsbot.db",
        digests=(
            DigestChannel(
                channel=GENERAL,
                thread=True,
                title="Morning *news*",
                timezone="Asia/Tokyo",
                related_limit=3,
                excerpt_length=400,
            ),
        ),
    )
    write_corpus(tmp_path / "corpus", 10)
    async with open_app(settings, clock=ManualClock(NOW)) as app:
        report = await ingest(app.store, [tmp_path / "corpus"])
        for item_id in report.new_ids:
            await moderation.approve(app.store, item_id, actor="test")
        poster = MemoryPoster()
        publisher = publisher_for(app, poster, retries=0)
        # Started, but the answer is lost: the digest waits, its parts recorded.
        poster.lose_thread_answer = True
        first = await publisher.publish(GENERAL)
        assert first.status == "retry_later"
        [digest] = await app.store.unfinished_digests()
        assert all(m.message_id is not None for m in digest.messages)
        assert len(poster.messages) == len(digest.messages) >= 2
        [done] = await publisher.resume_unfinished()
        assert done.status == "posted"
        first_id = poster.messages[0].id
        # 08:00 UTC is 17:00 in Tokyo, the same day; the name is plain text.
        assert poster.threads == {first_id: "Morning *news* · 1 December 2026"}
        assert [a[:2] for a in poster.thread_attempts] == [(GENERAL, first_id)] * 2
        assert len(poster.messages) == len(digest.messages)  # no part posted again
        assert await app.store.unfinished_digests() == []


async def test_a_refused_thread_leaves_the_digest_posted_without_one(app: App) -> None:
    threaded = replace(app.settings.digests[1], thread=True)
    settings = replace(app.settings, digests=(app.settings.digests[0], threaded))
    poster = MemoryPoster(thread_failures=[forbidden()])
    publisher = Publisher(app.store, app.renderer, poster, app.clock, settings, retries=0)
    result = await publisher.publish(SCIENCE)
    assert result.status == "posted" and result.items == 2
    assert poster.threads == {} and len(poster.thread_attempts) == 1
    assert await app.store.unfinished_digests() == []


def test_a_thread_name_fits_discord() -> None:
    long = DigestChannel(channel=1, title="x " * 80)
    name = default_thread_name(long, NOW)
    assert len(name) <= 100 and name.endswith("… · 1 December 2026")
