"""Publishing exactly once, end to end: the real discord.py client against the loopback double.

The crash tests run ``newsbot publish`` as a real subprocess and kill it with SIGKILL while
the double holds one of its requests, so the kill lands at an exact point of the digest (before
Discord saw a part, or after Discord stored it but before the bot learnt its id); the restarted
process must finish the digest with every part in the channel once (DESIGN §5). The other
tests run the bot in the test's event loop: faults during ``/digest publish``, a 403 on one
channel, and the pace of a fan-out under Discord's real limits.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import moderation
from bot.app import open_app
from bot.cli import publish_report
from bot.config import DigestChannel, Secret, Settings
from bot.discord_adapter.runner import publish_once
from bot.ingest import ingest
from bot.plan import plan_digest
from bot.poster import message_shape
from bot.store import QueueQuery, Status
from tests.discord_double import (
    BOT_ROLE_PERMISSIONS,
    BucketSpec,
    DiscordDouble,
    DoubleFactory,
    GuildBuilder,
    ManualClock,
    Permission,
    RateLimitConfig,
    RecordedRequest,
    SnowflakeGenerator,
    User,
)
from tests.factory import write_corpus
from tests.test_bot_e2e import running_bot

ROOT = Path(__file__).resolve().parent.parent
POSTS = "POST /channels/*/messages"
HISTORY = "GET /channels/*/messages"
# What readers must never see: newsbot's own ids or part counters (issue 14).
MACHINERY = re.compile(r"newsbot ·|part \d+/\d+|\bref [0-9a-f]+")

# The digest these tests were written around: ten generated items in three parts (whole
# excerpts, three related links), so a kill can land before, between and after parts.
THREE_PARTS: dict[str, Any] = {"related_limit": 3, "excerpt_length": 400}

# Crash tests post a handful of messages: a roomy bucket keeps them from waiting on Discord's
# 5 per 5 s (the pace test below uses the real limits).
ROOMY = RateLimitConfig(message_create=BucketSpec(50, 5.0))


# ---------------------------------------------------------------------------- helpers


async def approve_articles(settings: Settings, folder: Path) -> list[int]:
    """Ingest the article files in ``folder`` and approve them all; their ids."""
    async with open_app(settings) as app:
        report = await ingest(app.store, [folder])
        for item_id in report.new_ids:
            await moderation.approve(app.store, item_id, actor="test")
    return list(report.new_ids)


async def approve_corpus(settings: Settings, folder: Path, count: int) -> list[int]:
    """``count`` generated articles (10 of them make a 3-part digest), all approved."""
    write_corpus(folder, count)
    return await approve_articles(settings, folder)


def settings_for(double: DiscordDouble, tmp_path: Path, *digests: DigestChannel) -> Settings:
    return Settings(
        database=tmp_path / "newsbot.db",
        guild=double.guild.id,
        moderator_roles=("Moderator",),
        review_channel=double.channel("review").id,
        digests=digests,
        token=Secret(double.token),
        api_base=double.api_base,
        gateway=double.gateway_url,
        source="test.yaml",
    )


def write_config(settings: Settings, path: Path) -> Path:
    """The YAML file ``newsbot publish --config`` reads for ``settings``."""
    data = {
        "database": str(settings.database),
        "guild": settings.guild,
        "review_channel": settings.review_channel,
        "digests": [
            {
                "channel": d.channel,
                "max_items": d.max_items,
                "related_limit": d.related_limit,
                "excerpt_length": d.excerpt_length,
                "thread": d.thread,
                "title": d.title,
                "tags": list(d.tags),
                **(
                    {"identity": {"name": d.identity.name, "avatar_url": d.identity.avatar_url}}
                    if d.identity is not None
                    else {}
                ),
            }
            for d in settings.digests
        ],
    }
    if settings.templates is not None:
        data["templates"] = str(settings.templates)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


Launcher = Callable[[DiscordDouble, Settings, Path, int], Awaitable[asyncio.subprocess.Process]]


@pytest.fixture
async def start_publish() -> AsyncIterator[Launcher]:
    """Start ``python -m bot publish --channel ID`` as a real process pointed at the double;
    any process a failed test leaves running is killed afterwards."""
    started: list[asyncio.subprocess.Process] = []

    async def start(
        double: DiscordDouble, settings: Settings, config: Path, channel: int
    ) -> asyncio.subprocess.Process:
        process = await launch_publish(double, settings, config, channel)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.returncode is None:
            await kill(process)


async def launch_publish(
    double: DiscordDouble, settings: Settings, config: Path, channel: int
) -> asyncio.subprocess.Process:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    environ["PYTHONPATH"] = str(ROOT)
    environ.update(double.env())
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "publish",
        "--channel",
        str(channel),
        "--config",
        str(config),
        "--db",
        str(settings.database),
        cwd=config.parent,
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def kill(process: asyncio.subprocess.Process) -> None:
    process.kill()  # SIGKILL: no cleanup, no final commit, the connection just vanishes
    await asyncio.wait_for(process.communicate(), 30)


def part_of(request: RecordedRequest, position: int) -> bool:
    """The message-create request carrying outbox position ``position`` (its nonce)."""
    body = request.json if isinstance(request.json, dict) else {}
    return request.method == "POST" and str(body.get("nonce", "")).endswith(f".{position}")


def parts(messages: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    """How often each message (its exact content and embeds) occurs in the channel: every
    part of a digest carries different items, so a count above one is a part posted twice."""
    found: Counter[tuple[Any, ...]] = Counter()
    for message in messages:
        assert not MACHINERY.search(str(message.get("content") or "")), message["content"]
        found[message_shape(message)] += 1
    return found


async def assert_published_once(settings: Settings, double: DiscordDouble, key: str) -> None:
    """Every part of every digest once in the channel, every item published once, with the id
    of a message that is in the channel, and no digest left unfinished."""
    channel = settings.digests[0].channel
    assert channel is not None
    messages = double.messages(channel)
    counted = parts(messages)
    assert set(counted.values()) == {1}, f"a part was posted twice: {counted}"
    ids = {int(m["id"]) for m in messages}
    async with open_app(settings) as app:
        assert await app.store.unfinished_digests() == []
        items = await app.store.list_items(QueueQuery())
        assert {i.status for i in items} == {Status.PUBLISHED}, key
        for item in items:
            deliveries = await app.store.deliveries(item.id)
            assert [d.channel_id for d in deliveries] == [channel]
            assert deliveries[0].message_id in ids


# ---------------------------------------------------------------------------- crash


@dataclass(frozen=True)
class Kill:
    """Where one run is killed: while message ``position`` is held before Discord handles it
    (Discord never saw it) or after (Discord stored it; the bot never got the id)."""

    position: int
    after_handling: bool
    label: str


BEFORE_FIRST_SEND = Kill(0, after_handling=False, label="before the first send")
BETWEEN_PARTS = Kill(1, after_handling=False, label="after part 1 was recorded")
FIRST_UNRECORDED = Kill(0, after_handling=True, label="part 1 accepted, not recorded")
MIDDLE_UNRECORDED = Kill(1, after_handling=True, label="part 2 accepted, not recorded")
LAST_UNRECORDED = Kill(2, after_handling=True, label="last part accepted, not recorded")


@dataclass(frozen=True)
class Crash:
    kills: list[Kill]
    past_nonce_window: bool = False
    """The restart comes after Discord forgot the nonces: only the history lookup is left."""
    discord_clock_behind_ms: int = 0
    """Discord dates message ids by its own clock; here it runs behind the bot's host."""


@pytest.mark.parametrize(
    "crash",
    [
        pytest.param(Crash([BEFORE_FIRST_SEND]), id="before-first-send"),
        pytest.param(Crash([BETWEEN_PARTS]), id="between-parts"),
        pytest.param(Crash([FIRST_UNRECORDED]), id="first-accepted-unrecorded"),
        pytest.param(Crash([LAST_UNRECORDED]), id="last-accepted-unrecorded"),
        pytest.param(
            Crash([MIDDLE_UNRECORDED], past_nonce_window=True),
            id="accepted-unrecorded-past-nonce-window",
        ),
        pytest.param(
            Crash([LAST_UNRECORDED], past_nonce_window=True, discord_clock_behind_ms=3_000),
            id="past-nonce-window-discord-clock-behind",
        ),
        pytest.param(
            Crash([FIRST_UNRECORDED, MIDDLE_UNRECORDED], past_nonce_window=True),
            id="killed-again-while-resuming",
        ),
    ],
)
async def test_publish_killed_and_restarted_posts_every_part_once(
    discord_double_factory: DoubleFactory, tmp_path: Path, start_publish: Launcher, crash: Crash
) -> None:
    clock = ManualClock()
    behind = crash.discord_clock_behind_ms
    double = await discord_double_factory(
        rate_limits=ROOMY,
        clock=clock,
        nonce_ttl=120.0,
        ids=SnowflakeGenerator(lambda: int(time.time() * 1000) - behind),
    )
    channel = double.channel("digest-general").id
    settings = settings_for(
        double, tmp_path, DigestChannel(channel=channel, max_items=10, **THREE_PARTS)
    )
    config = write_config(settings, tmp_path / "newsbot.yaml")
    await approve_corpus(settings, tmp_path / "corpus", 10)
    async with open_app(settings) as app:
        total = len(
            (
                await plan_digest(
                    app.store, app.renderer, app.settings.digest_for(channel), app.clock.now()
                )
            ).messages
        )
    assert total == 3  # the kill points below name parts 1 to 3

    for kill_at in crash.kills:
        hold = double.hold(
            lambda r, p=kill_at.position: part_of(r, p), after_handling=kill_at.after_handling
        )
        process = await start_publish(double, settings, config, channel)
        [held] = await hold.wait(timeout=30)
        async with open_app(settings) as app:
            [digest] = await app.store.unfinished_digests()
        # The outbox holds the whole digest before anything is sent, and the bot is exactly
        # where the hold put it: every earlier part recorded, this one not.
        assert len(digest.messages) == total, kill_at.label
        recorded = [m.message_id is not None for m in digest.messages]
        assert recorded == [p < kill_at.position for p in range(total)], kill_at.label
        assert held.json["nonce"] == digest.messages[kill_at.position].nonce
        assert held.json["enforce_nonce"] is True
        assert held.json["allowed_mentions"] == {"parse": []}
        await kill(process)
        hold.drop()
        stored = [m for m in double.messages(channel) if m.get("nonce") == held.json["nonce"]]
        assert len(stored) == (1 if kill_at.after_handling else 0), kill_at.label
        if crash.past_nonce_window:
            clock.advance(double.store.nonce_ttl + 1)

    process = await start_publish(double, settings, config, channel)
    code, out, err = await finish(process)
    assert code == 0, err
    assert out.splitlines() == [
        f"resumed: posted 10 items in 3 messages to channel {channel}",
        f"nothing new for channel {channel}",
    ]
    await assert_published_once(settings, double, crash.kills[-1].label)
    assert len(double.messages(channel)) == total
    # A part Discord had accepted was found in the channel's history, not sent again.
    for kill_at in crash.kills:
        if kill_at.after_handling:
            posts = [r for r in double.requests_to(POSTS) if part_of(r, kill_at.position)]
            assert len(posts) == 1, kill_at.label
    if any(k.after_handling for k in crash.kills):
        assert double.requests_to(HISTORY), "the resumed digest never looked at the history"


# ---------------------------------------------------------------------------- faults


FILLER = ("grid", "battery", "model", "launch", "orbit", "policy", "court", "study", "chip")


def write_articles(folder: Path, count: int, *, topic: str, words: int = 40) -> None:
    """``count`` articles about ``topic`` with excerpts of ``words`` words."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        excerpt = " ".join(FILLER[(n + i) % len(FILLER)] for i in range(words))
        (folder / f"{topic.lower()}-{n:03d}.md").write_text(
            "---\n"
            f'title: "{topic} story {n}"\n'
            f'excerpt: "{excerpt}"\n'
            f"publishedDateTime: 2026-11-{1 + n % 25:02d}T08:00:00Z\n"
            f'webUrl: "https://example.org/{topic.lower()}/{n}"\n'
            f"quality: {90 - n % 50}\n"
            "published: false\n"
            "provider:\n  name: Example\n  domain: example.org\n"
            f"topics:\n  - {topic}\n"
            "---\n",
            encoding="utf-8",
        )


async def followup(double: DiscordDouble, command: str, options: dict[str, Any]) -> str:
    """Run a moderator's slash command that defers, and return its one follow-up's text."""
    handle = await double.send_slash_command(command, options, user="moderator")
    assert (await handle.response()).type == 5
    [reply] = await handle.wait_for_followups(1, timeout=60)
    return str(reply["content"])


async def test_5xx_bursts_and_lost_connections_during_publish_deliver_every_part_once(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(rate_limits=ROOMY)
    general = double.channel("digest-general").id
    settings = settings_for(
        double, tmp_path, DigestChannel(channel=general, max_items=10, **THREE_PARTS)
    )
    await approve_corpus(settings, tmp_path / "corpus", 10)
    # Part 1: a burst of 500 and 502 before Discord handles it (discord.py retries after 1 s
    # and 3 s). Part 2: the connection drops before Discord sees it (the publisher retries).
    # Part 3: Discord stores it, then the connection drops before the answer; the retry
    # carries the same nonce, so Discord answers with the stored message.
    double.fail_next(1, 500, lambda r: part_of(r, 0))
    double.fail_next(1, 502, lambda r: part_of(r, 0))
    double.drop_next(1, lambda r: part_of(r, 1))
    lost_answer = double.hold(lambda r: part_of(r, 2), after_handling=True)
    async with running_bot(settings, double):
        reply = asyncio.create_task(followup(double, "digest publish", {"channel": general}))
        await lost_answer.wait(timeout=30)
        lost_answer.drop()
        assert await reply == f"posted 10 items in 3 messages to <#{general}>"
    statuses = [[r.status for r in double.requests_to(POSTS) if part_of(r, p)] for p in range(3)]
    assert statuses == [[500, 502, 200], [599, 200], [599, 200]]
    assert len(double.messages(general)) == 3
    await assert_published_once(settings, double, "faults")


async def test_a_5xx_after_discord_stored_the_part_is_retried_without_a_duplicate(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(rate_limits=ROOMY)
    general = double.channel("digest-general").id
    settings = settings_for(
        double, tmp_path, DigestChannel(channel=general, max_items=10, **THREE_PARTS)
    )
    await approve_corpus(settings, tmp_path / "corpus", 10)
    double.fail_next(1, 500, lambda r: part_of(r, 1), after_handling=True)
    async with running_bot(settings, double):
        reply = await followup(double, "digest publish", {"channel": general})
    assert reply == f"posted 10 items in 3 messages to <#{general}>"
    assert [r.status for r in double.requests_to(POSTS) if part_of(r, 1)] == [500, 200]
    await assert_published_once(settings, double, "5xx after handling")


async def test_a_gateway_close_during_digest_publish_delivers_every_part_once(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(rate_limits=ROOMY)
    general = double.channel("digest-general").id
    settings = settings_for(
        double, tmp_path, DigestChannel(channel=general, max_items=10, **THREE_PARTS)
    )
    await approve_corpus(settings, tmp_path / "corpus", 10)
    second = double.hold(lambda r: part_of(r, 1))
    async with running_bot(settings, double):
        reply = asyncio.create_task(followup(double, "digest publish", {"channel": general}))
        await second.wait(timeout=30)
        await double.close_gateway(4000)
        await double.wait_for_resume(timeout=15)
        second.release()
        assert await reply == f"posted 10 items in 3 messages to <#{general}>"
    assert len(double.requests_to(POSTS)) == 3
    await assert_published_once(settings, double, "gateway close")


# ---------------------------------------------------------------------------- 403


def report_text(channel: int, answer: str, items: int, fix: str) -> str:
    return (
        f"**Digest for <#{channel}> failed.** Discord answered: {answer}\n"
        f"{items} items stay approved and will go out with the next digest. To fix: {fix}."
    )


async def test_a_403_on_one_channel_is_reported_while_another_channel_gets_its_digest(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(rate_limits=ROOMY)
    general, ai = double.channel("digest-general").id, double.channel("digest-ai").id
    settings = settings_for(
        double,
        tmp_path,
        DigestChannel(channel=general, topics=("Climate",)),
        DigestChannel(channel=ai, topics=("AI",)),
    )
    write_articles(tmp_path / "climate", 3, topic="Climate")
    write_articles(tmp_path / "ai", 4, topic="AI")
    climate_ids = await approve_articles(settings, tmp_path / "climate")
    ai_ids = await approve_articles(settings, tmp_path / "ai")
    async with running_bot(settings, double):
        # Someone takes Send Messages away from the bot in #digest-ai after start-up.
        await double.set_overwrite("digest-ai", "bot-role", deny=Permission.SEND_MESSAGES)
        reply = await followup(double, "digest publish", {})
        assert reply.splitlines() == [
            f"posted 3 items in 1 message to <#{general}>",
            f"<#{ai}>: failed: 403 Missing Permissions (code 50013)",
        ]
        [report] = await double.wait_for_messages("review", 1)
        assert report["content"] == report_text(
            ai,
            "403 Missing Permissions (code 50013)",
            4,
            "give the bot Send Messages and Embed Links in that channel",
        )
        [sent] = double.requests_to(f"POST /channels/{double.channel('review').id}/messages")
        assert sent.json["allowed_mentions"] == {"parse": []}
        assert double.messages(ai) == []
        async with open_app(settings) as app:
            assert {(await app.store.get(i)).status for i in climate_ids} == {Status.PUBLISHED}
            assert {(await app.store.get(i)).status for i in ai_ids} == {Status.APPROVED}
        # Fixed: the items that stayed approved go out with the next publish.
        allow = Permission.SEND_MESSAGES | Permission.EMBED_LINKS
        await double.set_overwrite("digest-ai", "bot-role", allow=allow)
        reply = await followup(double, "digest publish", {"channel": ai})
        assert reply == f"posted 4 items in 1 message to <#{ai}>"
    async with open_app(settings) as app:
        assert {(await app.store.get(i)).status for i in ai_ids} == {Status.PUBLISHED}
    assert len(double.messages("review")) == 1


@pytest.mark.parametrize(
    ("key", "answer", "fix"),
    [
        (
            "read-only",
            "403 Missing Permissions (code 50013)",
            "give the bot Send Messages and Embed Links in that channel",
        ),
        ("hidden", "403 Missing Access (code 50001)", "give the bot View Channel in that channel"),
    ],
)
async def test_newsbot_publish_reports_a_refused_channel_and_publishes_the_others(
    discord_double_factory: DoubleFactory,
    tmp_path: Path,
    restore_endpoints: None,
    key: str,
    answer: str,
    fix: str,
) -> None:
    double = await discord_double_factory(rate_limits=ROOMY)
    general, refused = double.channel("digest-general").id, double.channel(key).id
    settings = settings_for(
        double,
        tmp_path,
        DigestChannel(channel=refused, topics=("AI",)),
        DigestChannel(channel=general, topics=("Climate",)),
    )
    write_articles(tmp_path / "climate", 2, topic="Climate")
    write_articles(tmp_path / "ai", 3, topic="AI")
    await approve_articles(settings, tmp_path / "climate")
    ai_ids = await approve_articles(settings, tmp_path / "ai")
    run = await publish_once(settings, None)
    assert run.failed  # newsbot publish exits 1
    assert publish_report(run) == [
        f"channel {refused}: failed: {answer}",
        f"posted 2 items in 1 message to channel {general}",
    ]
    [report] = double.messages("review")
    assert report["content"] == report_text(refused, answer, 3, fix)
    assert len(double.messages(general)) == 1
    async with open_app(settings) as app:
        assert {(await app.store.get(i)).status for i in ai_ids} == {Status.APPROVED}
        assert await app.store.unfinished_digests() == []


async def test_newsbot_publish_posts_no_reviews_and_leaves_no_task_behind(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    # The review feed belongs to the running bot: the REST-only client of newsbot publish
    # loads it with the cogs but must not post the pending items, and stops it on close.
    double = await discord_double_factory(rate_limits=ROOMY)
    general = double.channel("digest-general").id
    settings = settings_for(double, tmp_path, DigestChannel(channel=general))
    write_articles(tmp_path / "approved", 1, topic="Climate")
    await approve_articles(settings, tmp_path / "approved")
    write_articles(tmp_path / "pending", 2, topic="AI")
    async with open_app(settings) as app:
        pending = (await ingest(app.store, [tmp_path / "pending"])).new_ids
    run = await publish_once(settings, None)
    assert publish_report(run) == [f"posted 1 item in 1 message to channel {general}"]
    assert len(pending) == 2 and double.messages("review") == []
    assert asyncio.all_tasks() == {asyncio.current_task()}


# ---------------------------------------------------------------------------- pace

FAN_OUT = 50


def newsroom_with(channels: int) -> Callable[[User, SnowflakeGenerator], Any]:
    """A guild with a review channel, ``busy`` and ``channels`` digest channels ``d0``..."""

    def build(bot: User, ids: SnowflakeGenerator) -> Any:
        b = GuildBuilder("Big newsroom", ids=ids)
        moderator = b.role("Moderator", position=2)
        bot_role = b.role("newsbot", BOT_ROLE_PERMISSIONS, key="bot-role", position=1)
        b.member("owner", owner=True)
        b.member("moderator", roles=[moderator])
        b.add_user(bot, roles=[bot_role], key="bot")
        b.text_channel("review")
        b.text_channel("busy")
        for n in range(channels):
            b.text_channel(f"d{n}")
        return b.build()

    return build


def one_item_per_message(folder: Path) -> Path:
    """A template folder whose items are too long to share a message."""
    folder.mkdir(parents=True)
    (folder / "_item.md.j2").write_text(
        "**{{ item.number }}. {{ item.title|link(item.url) }}**\n{{ item.excerpt }}\n",
        encoding="utf-8",
    )
    return folder


async def test_ten_messages_to_one_channel_cause_no_429(
    discord_double_factory: DoubleFactory,
    tmp_path: Path,
    restore_endpoints: None,
) -> None:
    # Discord's real limits: 5 per 5 s per channel, 50 per second in all.
    double = await discord_double_factory(guild=newsroom_with(0))
    busy = double.channel("busy").id
    settings = replace(
        settings_for(
            double, tmp_path, DigestChannel(channel=busy, max_items=10, excerpt_length=10_000)
        ),
        templates=one_item_per_message(tmp_path / "templates"),
    )
    write_articles(tmp_path / "long", 10, topic="Energy", words=180)
    await approve_articles(settings, tmp_path / "long")
    run = await publish_once(settings, busy)
    finished = double.clock()  # the clock the double stamps its requests with
    assert not run.failed
    assert publish_report(run) == [f"posted 10 items in 10 messages to channel {busy}"]
    assert len(double.messages("busy")) == 10
    assert double.count_429 == 0
    times = [r.at for r in double.requests_to(POSTS)]
    # The 10th message uses the window's last token, and discord.py holds that call until the
    # window resets; the poster takes the id from Discord's answer and does not wait the
    # window's 5 s after it.
    assert finished - times[-1] < 4.0
    assert times[5] - times[0] >= 5.0  # the 6th waited for the channel's window


async def test_one_message_to_each_of_fifty_channels_right_after_login_causes_no_429(
    discord_double_factory: DoubleFactory,
    tmp_path: Path,
    restore_endpoints: None,
) -> None:
    double = await discord_double_factory(guild=newsroom_with(FAN_OUT))
    channels = [double.channel(f"d{n}").id for n in range(FAN_OUT)]
    settings = settings_for(
        double,
        tmp_path,
        *(
            DigestChannel(channel=c, topics=(f"topic{n}",), max_items=1)
            for n, c in enumerate(channels)
        ),
    )
    for n in range(FAN_OUT):
        write_articles(tmp_path / "fan" / str(n), 1, topic=f"topic{n}")
    await approve_articles(settings, tmp_path / "fan")
    # Login's two requests and the 50 posts: more than the 50 per second Discord allows.
    run = await publish_once(settings, None)
    assert not run.failed
    assert publish_report(run) == [f"posted 1 item in 1 message to channel {c}" for c in channels]
    assert all(len(double.messages(c)) == 1 for c in channels)
    assert double.count_429 == 0
    # Login's two, one for the kinds of all the guild's channels (a forum posts differently),
    # and the posts.
    assert len(double.requests) == 2 + 1 + FAN_OUT
