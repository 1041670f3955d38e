"""Crash (issue 7, part 1): SIGKILL the publishing process at a random moment of a
multi-channel publish, restart it, and count what was lost and what was posted twice.

Each trial gets its own loopback Discord, its own copy of one database (12 approved items for
three digest channels: 7 message creates in all) and one seeded ``random.Random``, which picks:

* the process: ``newsbot publish`` (REST only, what cron runs; restarted the same way) or
  ``newsbot run`` (the bot, publishing on ``/digest publish``; restarted, it resumes on start
  and a moderator publishes again);
* one or two kills; each at the k-th request the process makes about the digest channels
  (message creates, and the history look-ups a resumed digest makes), held by the double
  before Discord handles it (Discord never saw it) or after (Discord stored the message, the
  answer never arrived), while the other channels go on concurrently;
* whether the restart comes after Discord forgot the nonces (only the history look-up is then
  left to recognise a part that was posted but not recorded).

The kill lands while the double holds that request, so no timing is involved. The last run
must end cleanly (``newsbot publish`` exits 0; ``newsbot run`` replies ``posted``/``nothing
new`` and exits 0 on SIGTERM, as under a service manager). Afterwards every approved item must
be in each channel it belongs to exactly once, no digest part twice, the outbox empty and every
delivery recorded with a message that is in the channel.

``NEWSBOT_CRASH_TRIALS`` sets the number of trials (10 here, 50 in ``bench/soak.py``),
``NEWSBOT_RELIABILITY_SEED`` the seed and ``NEWSBOT_CRASH_JOBS`` how many trials run at once.

The module also holds what the fault and load tests share: a newsroom guild with many users,
the audit of digest channels (items lost, parts and items posted twice) and percentiles.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import re
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.app import open_app
from bot.config import DigestChannel, Secret, Settings
from bot.plan import plan_digest
from bot.poster import message_shape
from bot.store import QueueQuery, Status
from tests.discord_double import (
    BOT_ROLE_PERMISSIONS,
    MODERATOR_PERMISSIONS,
    DiscordDouble,
    GuildBuilder,
    GuildFactory,
    InteractionHandle,
    ManualClock,
    Permission,
    RecordedRequest,
    SnowflakeGenerator,
    User,
)
from tests.reliability.harness import cli_env
from tests.test_publish_e2e import MACHINERY, ROOMY, approve_articles, write_articles

SEED = int(os.environ.get("NEWSBOT_RELIABILITY_SEED", "20261126"))
CRASH_TRIALS = int(os.environ.get("NEWSBOT_CRASH_TRIALS", "10"))
CRASH_JOBS = int(os.environ.get("NEWSBOT_CRASH_JOBS", "2"))

LINK = re.compile(r"\]\(<(https?://[^>\s]+)>\)")
"""An item's link in a text digest: ``[title](<url>)``."""

NONCE_TTL = 120.0
# Advancing the double's clock past a rate-limit window between runs, but not past the nonces.
BETWEEN_RUNS = 6.0


# ---------------------------------------------------------------------------- shared helpers


def newsroom(digests: int, *, moderators: int = 1, members: int = 1) -> GuildFactory:
    """A guild with ``review``, ``general`` and ``digests`` digest channels ``d0``...; members
    ``owner``, ``mod0``... (Moderator role) and ``m0``... (no role). ``moderator`` and
    ``member`` are keys for the first of each."""

    def build(bot: User, ids: SnowflakeGenerator) -> Any:
        b = GuildBuilder("Newsroom", ids=ids)
        moderator = b.role("Moderator", MODERATOR_PERMISSIONS, position=2)
        bot_role = b.role("newsbot", BOT_ROLE_PERMISSIONS, key="bot-role", position=1)
        b.member("owner", owner=True)
        for n in range(moderators):
            b.member(f"mod{n}", roles=[moderator], key="moderator" if n == 0 else None)
        for n in range(members):
            b.member(f"m{n}", key="member" if n == 0 else None)
        b.add_user(bot, roles=[bot_role], key="bot")
        everyone = b.everyone
        view, send = Permission.VIEW_CHANNEL, Permission.SEND_MESSAGES
        b.text_channel(
            "review",
            overwrites=[
                b.overwrite(everyone, deny=view),
                b.overwrite(moderator, allow=view | send),
                b.overwrite(bot_role, allow=view | send | Permission.EMBED_LINKS),
            ],
        )
        b.text_channel("general")
        for n in range(digests):
            b.text_channel(
                f"d{n}",
                overwrites=[
                    b.overwrite(everyone, deny=send),
                    b.overwrite(bot_role, allow=send | Permission.EMBED_LINKS),
                ],
            )
        return b.build()

    return build


def user_keys(prefix: str, count: int) -> list[str]:
    """The keys ``newsroom`` gives: ``user_keys("mod", 2) == ["mod0", "mod1"]``."""
    return [f"{prefix}{n}" for n in range(count)]


def double_settings(
    double: DiscordDouble, database: Path, digests: Sequence[DigestChannel]
) -> Settings:
    """Settings for a ``newsroom`` guild of ``double``."""
    return Settings(
        database=database,
        guild=double.guild.id,
        moderator_roles=("Moderator",),
        review_channel=double.channel("review").id,
        digests=tuple(digests),
        token=Secret(double.token),
        api_base=double.api_base,
        gateway=double.gateway_url,
        source="newsbot.yaml",
    )


def write_config(settings: Settings, path: Path) -> Path:
    """The YAML a ``newsbot`` process reads for ``settings`` (token and endpoints come from
    the environment, as in production)."""
    data = {
        "database": str(settings.database),
        "guild": settings.guild,
        "moderator_roles": list(settings.moderator_roles),
        "review_channel": settings.review_channel,
        "digests": [
            {"channel": d.channel, "max_items": d.max_items, "topics": list(d.topics)}
            for d in settings.digests
        ],
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (``q`` in 0..100) of ``values``; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ack_ms(handle: InteractionHandle) -> float | None:
    """Milliseconds from the double dispatching the interaction to the bot's accepted first
    response (the double's clock), or None if it was never accepted."""
    if handle.ack is None:
        return None
    return (handle.ack.at - handle.created_at) * 1000


def _matches(topics: Sequence[str], digest: DigestChannel) -> bool:
    wanted = {t.lower() for t in digest.topics}
    return not wanted or bool(wanted & {t.lower() for t in topics})


async def expected_items(settings: Settings) -> dict[int, dict[int, str]]:
    """Per digest channel, the items it must receive: every approved (or published) item
    that matches the channel's topics, by id, with the URL its digest links to."""
    async with open_app(settings) as app:
        items = await app.store.list_items(QueueQuery(statuses=(Status.APPROVED, Status.PUBLISHED)))
    expected: dict[int, dict[int, str]] = {}
    for digest in settings.digests:
        assert digest.channel is not None and digest.min_quality is None
        expected[digest.channel] = {
            i.id: i.article.url for i in items if _matches(i.article.topics, digest)
        }
    return expected


@dataclass
class Audit:
    """What a run left in the digest channels, compared with what they had to receive."""

    expected: int = 0
    """(channel, item) pairs that had to be delivered."""
    lost: list[tuple[int, int]] = field(default_factory=list)
    """(channel, item) pairs missing from the channel or not recorded as delivered there."""
    duplicate_parts: int = 0
    """Digest parts (same digest ref and part number) posted more than once in a channel."""
    duplicate_items: int = 0
    """Extra copies of an item in a channel (in any digest)."""
    messages: int = 0
    problems: list[str] = field(default_factory=list)
    """Anything else wrong: unfinished digests, deliveries naming a message not in the channel,
    items posted where they do not belong."""

    @property
    def duplicates(self) -> int:
        return self.duplicate_parts + self.duplicate_items

    @property
    def clean(self) -> bool:
        """Nothing lost, nothing twice, nothing else wrong."""
        return not (self.lost or self.duplicates or self.problems)

    def add(self, other: Audit) -> None:
        self.expected += other.expected
        self.lost += other.lost
        self.duplicate_parts += other.duplicate_parts
        self.duplicate_items += other.duplicate_items
        self.messages += other.messages
        self.problems += other.problems

    def summary(self) -> str:
        return (
            f"{len(self.lost)} lost of {self.expected}, {self.duplicate_parts} parts and"
            f" {self.duplicate_items} items duplicated, {len(self.problems)} other problems"
            + (f": {self.problems[:5]}" if self.problems else "")
        )


async def audit_digests(
    settings: Settings, double: DiscordDouble, expected: Mapping[int, Mapping[int, str]]
) -> Audit:
    """Count items lost and messages duplicated in every digest channel (the channels'
    contents as Discord has them, and the database's record of them)."""
    audit = Audit()
    async with open_app(settings) as app:
        unfinished = await app.store.unfinished_digests()
        if unfinished:
            audit.problems.append(f"{len(unfinished)} digests left unfinished")
        for channel, wanted in expected.items():
            messages = double.messages(channel)
            audit.messages += len(messages)
            audit.expected += len(wanted)
            ids = {int(m["id"]) for m in messages}
            part_counts: Counter[tuple[Any, ...]] = Counter()
            url_counts: Counter[str] = Counter()
            for message in messages:
                content = str(message.get("content") or "")
                if MACHINERY.search(content):
                    audit.problems.append(f"channel {channel}: newsbot's machinery shown")
                # Each part carries different items: the same message twice is a duplicate.
                part_counts[message_shape(message)] += 1
                url_counts.update(LINK.findall(content))
            audit.duplicate_parts += sum(n - 1 for n in part_counts.values())
            strays = set(url_counts) - set(wanted.values())
            if strays:
                audit.problems.append(
                    f"channel {channel}: {len(strays)} items that match no filter"
                )
            for item_id, url in wanted.items():
                copies = url_counts[url]
                audit.duplicate_items += max(0, copies - 1)
                deliveries = [
                    d for d in await app.store.deliveries(item_id) if d.channel_id == channel
                ]
                if copies == 0 or not deliveries:
                    audit.lost.append((channel, item_id))
                elif len(deliveries) > 1 or deliveries[0].message_id not in ids:
                    audit.problems.append(
                        f"item {item_id} in channel {channel}: deliveries {deliveries}"
                        " do not name one message of the channel"
                    )
    return audit


def publish_reply_problems(lines: Sequence[str]) -> list[str]:
    """``/digest publish`` reply lines that are neither ``posted`` nor ``nothing new``."""
    return [line for line in lines if not line.startswith(("posted", "nothing new"))]


async def race(main: Awaitable[Any], *others: Awaitable[Any]) -> bool:
    """Wait for ``main`` or any of ``others``, whichever ends first; True if ``main`` did.
    The rest are cancelled; an exception of the one that ended is raised."""
    first = asyncio.ensure_future(main)
    rest = [asyncio.ensure_future(o) for o in others]
    try:
        done, _ = await asyncio.wait([first, *rest], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in [first, *rest]:
            task.cancel()
        await asyncio.gather(first, *rest, return_exceptions=True)
    for task in done:
        task.result()
    return first in done


# ---------------------------------------------------------------------------- processes


class Newsbot:
    """One ``python -m bot COMMAND`` process pointed at the double, its output in files."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log

    @classmethod
    async def start(cls, double: DiscordDouble, config: Path, command: str, log: Path) -> Newsbot:
        with log.open("ab") as out:
            out.write(f"==== newsbot {command}\n".encode())
            out.flush()
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                command,
                "-v",
                "--config",
                str(config),
                cwd=config.parent,
                env=cli_env(double.env()),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        return cls(process, log)

    async def wait(self, timeout: float = 60) -> int:  # noqa: ASYNC109 - bounds a child process
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            await self.kill()
            raise AssertionError(
                f"newsbot did not end within {timeout:g}s: {self.tail()}"
            ) from None

    async def kill(self) -> None:
        """SIGKILL: no cleanup, no last commit; its connections just vanish."""
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()

    async def terminate(self) -> int:
        """SIGTERM, as a service manager stops the bot: it must close and exit 0."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await self.wait(30)

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------------------- crash trials

CHANNELS = 3  # d0: every topic, d1: AI, d2: Climate
ITEMS_PER_TOPIC = 6


def crash_digests(double: DiscordDouble) -> list[DigestChannel]:
    d0, d1, d2 = (double.channel(f"d{n}").id for n in range(CHANNELS))
    return [
        DigestChannel(channel=d0, max_items=2 * ITEMS_PER_TOPIC),
        DigestChannel(channel=d1, topics=("AI",)),
        DigestChannel(channel=d2, topics=("Climate",)),
    ]


async def crash_template(folder: Path) -> Path:
    """The database every trial starts from: 6 AI and 6 Climate items, approved (long
    excerpts, so the digests take 3, 2 and 2 messages)."""
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "template.db"
    settings = Settings(database=database)
    for topic in ("AI", "Climate"):
        write_articles(folder / topic, ITEMS_PER_TOPIC, topic=topic, words=60)
        await approve_articles(settings, folder / topic)
    return database


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a (closed) SQLite database."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


@dataclass(frozen=True)
class KillPoint:
    index: int
    """The run's k-th request about a digest channel (message create or history look-up)."""
    after_handling: bool
    """Discord handled it (stored the message) and the answer is what never arrives."""
    past_nonce_window: bool
    """The restart comes after Discord stopped deduplicating the nonces."""

    def describe(self, request: RecordedRequest | None) -> str:
        what = "not reached" if request is None else f"{request.method} #{self.index}"
        when = "after handling" if self.after_handling else "before handling"
        later = ", restart past the nonce window" if self.past_nonce_window else ""
        return f"{what} {when}{later}"


@dataclass
class TrialResult:
    number: int
    mode: str
    kills: list[str]
    audit: Audit
    processes: int
    seconds: float


def digest_request(channels: set[int]) -> Callable[[RecordedRequest], bool]:
    """Message creates and history reads in the digest channels."""

    def matches(record: RecordedRequest) -> bool:
        parts = record.path.strip("/").split("/")
        return (
            len(parts) == 3
            and parts[0] == "channels"
            and parts[2] == "messages"
            and record.method in ("POST", "GET")
            and int(parts[1]) in channels
        )

    return matches


def nth_request(
    double: DiscordDouble, wanted: Callable[[RecordedRequest], bool], since: int, index: int
) -> Callable[[RecordedRequest], bool]:
    """A route filter matching the ``index``-th (from 0) ``wanted`` request to arrive after
    ``double.requests[since]``."""

    def matches(record: RecordedRequest) -> bool:
        if not wanted(record):
            return False
        arrived = [r for r in double.requests[since:] if wanted(r)]
        return next(n for n, r in enumerate(arrived) if r is record) == index

    return matches


async def requests_left(settings: Settings, double: DiscordDouble, parts: Mapping[int, int]) -> int:
    """How many digest-channel requests a restarted run makes: a create for every part not in
    its channel yet, and one history look-up per digest it resumes."""
    creates = sum(max(0, n - len(double.messages(c))) for c, n in parts.items())
    async with open_app(settings) as app:
        lookups = sum(1 for d in await app.store.unfinished_digests() if d.unsent)
    return creates + lookups


class PublishRunner:
    """``newsbot publish`` (all channels), as cron runs it."""

    mode = "publish"

    def __init__(self, double: DiscordDouble, config: Path, log: Path) -> None:
        self.double, self.config, self.log = double, config, log
        self.process: Newsbot | None = None
        self.started = 0

    async def start(self) -> None:
        self.process = await Newsbot.start(self.double, self.config, "publish", self.log)
        self.started += 1

    async def until_done(self) -> None:
        assert self.process is not None
        await self.process.wait()

    async def kill(self) -> None:
        assert self.process is not None
        await self.process.kill()

    async def finish(self) -> None:
        assert self.process is not None
        code = await self.process.wait()
        assert code == 0, self.process.tail()


class BotRunner:
    """``newsbot run``: a moderator runs ``/digest publish``; a restarted bot resumes on
    start and the moderator publishes again; SIGTERM stops it."""

    mode = "run"

    def __init__(self, double: DiscordDouble, config: Path, log: Path) -> None:
        self.double, self.config, self.log = double, config, log
        self.process: Newsbot | None = None
        self.command: InteractionHandle | None = None
        self.started = 0

    async def start(self) -> None:
        ready = self.double.gateway.count("ready")
        self.process = await Newsbot.start(self.double, self.config, "run", self.log)
        self.started += 1
        exited = self.process.wait(60)
        if not await race(self.double.wait_for_ready(timeout=60, count=ready + 1), exited):
            raise AssertionError(f"newsbot run ended before it was ready: {self.process.tail()}")
        self.command = await self.double.send_slash_command(
            "digest publish", user="moderator", channel="review"
        )

    async def until_done(self) -> None:
        assert self.command is not None
        await self.command.wait_for_followups(1, timeout=60)

    async def kill(self) -> None:
        assert self.process is not None
        await self.process.kill()

    async def finish(self) -> None:
        assert self.process is not None and self.command is not None
        assert (await self.command.response(timeout=10)).type == 5
        [reply] = await self.command.wait_for_followups(1, timeout=60)
        lines = str(reply["content"]).splitlines()
        assert all(line.startswith(("posted ", "nothing new")) for line in lines), lines
        code = await self.process.terminate()
        assert code == 0, self.process.tail()


async def crash_trial(number: int, seed: int, folder: Path, template: Path) -> TrialResult:
    """One trial (see the module docstring); the random choices come from ``seed``."""
    rng = random.Random(f"crash:{seed}:{number}")
    started = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    clock = ManualClock()
    async with DiscordDouble(
        guild=newsroom(CHANNELS), rate_limits=ROOMY, clock=clock, nonce_ttl=NONCE_TTL
    ) as double:
        settings = double_settings(double, folder / "newsbot.db", crash_digests(double))
        copy_database(template, settings.database)
        config = write_config(settings, folder / "newsbot.yaml")
        expected = await expected_items(settings)
        async with open_app(settings) as app:
            parts = {
                c: len(
                    (
                        await plan_digest(
                            app.store, app.renderer, app.settings.digest_for(c), app.clock.now()
                        )
                    ).messages
                )
                for c in (d.channel for d in settings.digests)
                if c is not None
            }
        runner_cls = rng.choice([PublishRunner, BotRunner])
        runner = runner_cls(double, config, folder / "newsbot.log")
        wanted = digest_request(set(parts))
        kills: list[str] = []
        for _ in range(2 if rng.random() < 0.3 else 1):
            left = await requests_left(settings, double, parts)
            point = KillPoint(
                index=rng.randrange(left),
                after_handling=rng.random() < 0.5,
                past_nonce_window=rng.random() < 0.3,
            )
            hold = double.hold(
                nth_request(double, wanted, len(double.requests), point.index),
                after_handling=point.after_handling,
            )
            await runner.start()
            if not await race(hold.wait(timeout=60), runner.until_done()):
                hold.release()
                kills.append(point.describe(None))
                break
            await runner.kill()
            hold.drop()
            kills.append(point.describe(hold.held[0]))
            clock.advance(NONCE_TTL + 1 if point.past_nonce_window else BETWEEN_RUNS)
        else:
            await runner.start()
        await runner.finish()
        audit = await audit_digests(settings, double, expected)
    return TrialResult(
        number=number,
        mode=runner.mode,
        kills=kills,
        audit=audit,
        processes=runner.started,
        seconds=time.monotonic() - started,
    )


@dataclass
class CrashReport:
    trials: list[TrialResult]
    seconds: float

    @property
    def audit(self) -> Audit:
        total = Audit()
        for trial in self.trials:
            total.add(trial.audit)
        return total

    def figures(self) -> dict[str, str]:
        audit = self.audit
        kills = sum(len(t.kills) for t in self.trials)
        modes = Counter(t.mode for t in self.trials)
        per_trial = [t.seconds for t in self.trials]
        return {
            "crash: trials": (
                f"{len(self.trials)} ({modes['publish']} newsbot publish, {modes['run']}"
                f" newsbot run), {kills} SIGKILLs, {sum(t.processes for t in self.trials)}"
                " processes"
            ),
            "crash: items lost": f"{len(audit.lost)} of {audit.expected} deliveries",
            "crash: messages duplicated": (
                f"{audit.duplicate_parts} parts, {audit.duplicate_items} items"
                f" ({audit.messages} messages posted)"
            ),
            "crash: wall time": (
                f"{self.seconds:.1f} s (per trial p50 {percentile(per_trial, 50):.1f} s,"
                f" max {max(per_trial, default=0):.1f} s)"
            ),
        }


async def run_crash_trials(
    trials: int, seed: int, folder: Path, *, jobs: int = CRASH_JOBS
) -> CrashReport:
    """Run ``trials`` crash trials, ``jobs`` at a time."""
    started = time.monotonic()
    template = await crash_template(folder / "template")
    slots = asyncio.Semaphore(jobs)

    async def one(number: int) -> TrialResult:
        async with slots:
            return await crash_trial(number, seed, folder / f"trial-{number:03d}", template)

    results = await asyncio.gather(*(one(n) for n in range(trials)))
    return CrashReport(list(results), time.monotonic() - started)


def describe_failures(report: CrashReport) -> str:
    return "\n".join(
        f"trial {t.number} ({t.mode}, kills: {t.kills}): {t.audit.summary()}"
        for t in report.trials
        if not t.audit.clean
    )


async def test_sigkill_at_random_moments_of_a_multichannel_publish_loses_and_duplicates_nothing(
    tmp_path: Path, figures: dict[str, Any]
) -> None:
    report = await run_crash_trials(CRASH_TRIALS, SEED, tmp_path)
    figures.update(report.figures())
    audit = report.audit
    assert (len(audit.lost), audit.duplicates, audit.problems) == (0, 0, []), describe_failures(
        report
    )
    assert audit.expected == CRASH_TRIALS * 4 * ITEMS_PER_TOPIC
    # The trials did kill: at the chosen points, both sides of Discord handling the request.
    kills = [k for t in report.trials for k in t.kills if not k.startswith("not reached")]
    assert len(kills) >= CRASH_TRIALS
