"""Faults (issue 7, part 2): the running bot publishes several channels while Discord fails,
rate-limits, drops its gateway and answers slowly, and users keep running slash commands.

What Discord (the loopback double) does, every choice drawn from one seed:

* about 20% of message creates (digests and review posts) answered 500 or 502: most before
  Discord handled them, some after it stored the message (the retry must not post it twice);
  about 8% answered 429 with ``retry_after``; a few connections dropped before Discord
  handled the request, a few after it stored the message (the answer is lost); and, so that
  every kind happens in every run, one of each on the first two parts of the channels' first
  digests;
* the gateway closed several times while digests go out (the bot resumes);
* a slow API: some message creates, interaction callbacks, follow-ups, message edits and
  history reads answered 2 s late;
* users run ``/news queue``, ``/news show``, ``/news approve``, ``/news submit``, ``/digest
  preview`` and a second ``/digest publish`` while the first one is posting.

Every digest must arrive (every approved item in each channel it belongs to, once), no digest
part or review post twice, and every slash command acknowledged within Discord's 3 s (the
double refuses a later first response with 10062; ``/digest publish`` defers).

In the suite the commands and gateway closes are tied to the double's events (the n-th message
create answered), so the run is the same every time; ``bench/soak.py`` runs the long version,
with a gateway close every few seconds and commands at a steady pace for as long as publishing
lasts (more channels, several digests per channel).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app import open_app
from bot.config import DigestChannel, Settings
from bot.store import QueueQuery, Status
from tests.discord_double import DiscordDouble, InteractionHandle, RecordedRequest
from tests.reliability.harness import running_bot, seed_db, seed_files
from tests.reliability.test_crash import (
    SEED,
    Audit,
    ack_ms,
    audit_digests,
    double_settings,
    expected_items,
    newsroom,
    percentile,
    publish_reply_problems,
    user_keys,
)
from tests.test_publish_e2e import approve_articles, write_articles

DEADLINE_MS = 3_000.0
SLOW = 2.0
REVIEW_ID = re.compile(r"^newsbot:review:(?:approve|reject):(\d+)$")


# ---------------------------------------------------------------------------- what fails


def is_message_create(record: RecordedRequest) -> bool:
    parts = record.path.strip("/").split("/")
    return (
        record.method == "POST"
        and len(parts) == 3
        and parts[0] == "channels"
        and parts[2] == "messages"
    )


def _identity(record: RecordedRequest) -> str:
    """What makes two message creates the same message: a digest part's nonce, else the
    content (discord.py gives other sends a random nonce of its own)."""
    body = record.json if isinstance(record.json, dict) else {}
    nonce = str(body.get("nonce") or "")
    return nonce if nonce.startswith("nb") else str(body.get("content") or "")[:200]


class CreateFaults:
    """Seeded failures of message creates: each attempt at a message (the same channel and
    nonce, or content when there is no nonce) draws once, so a retry draws again and the
    outcome does not depend on the order concurrent channels' requests arrive in."""

    KINDS: tuple[tuple[int, bool], ...] = ((500, False), (502, False), (500, True), (429, False))
    DROP = (599, False)
    """The connection closes before Discord handled the request."""
    LOST = (599, True)
    """Discord stored the message; the connection closes before the answer."""

    def __init__(
        self,
        double: DiscordDouble,
        seed: int,
        *,
        error_rate: float = 0.20,
        stored_share: float = 0.3,
        rate_limit_rate: float = 0.08,
        drop_rate: float = 0.03,
        lost_rate: float = 0.03,
        forced: Mapping[tuple[int, int], tuple[int, bool]] | None = None,
    ) -> None:
        self.double = double
        self.seed = seed
        self.error_rate = error_rate
        self.stored_share = stored_share
        self.rate_limit_rate = rate_limit_rate
        self.drop_rate = drop_rate
        self.lost_rate = lost_rate
        self._forced = dict(forced or {})
        self._decided: dict[int, tuple[int, bool] | None] = {}
        self.drawn: Counter[tuple[int, bool] | None] = Counter()

    def install(self) -> None:
        for status, after in self.KINDS:
            self.double.fail_next(
                10**9,
                status,
                lambda r, kind=(status, after): self.decide(r) == kind,
                after_handling=after,
                retry_after=0.3,
            )
        self.double.drop_next(10**9, lambda r: self.decide(r) == self.DROP)

    def decide(self, record: RecordedRequest) -> tuple[int, bool] | None:
        key = id(record)  # records stay in double.requests, so ids are not reused
        if key not in self._decided:
            self._decided[key] = self._draw(record)
            self.drawn[self._decided[key]] += 1
        return self._decided[key]

    def _draw(self, record: RecordedRequest) -> tuple[int, bool] | None:
        if not is_message_create(record):
            return None
        identity = _identity(record)
        attempt = 0
        for earlier in self.double.requests:
            if earlier is record:
                break
            attempt += earlier.path == record.path and _identity(earlier) == identity
        if attempt == 0 and identity.startswith("nb") and "." in identity:
            # A fault chosen for the first attempt at part N of a channel's first digest.
            channel, position = int(record.path.split("/")[2]), int(identity.rsplit(".")[1])
            forced = self._forced.pop((channel, position), None)
            if forced is not None:
                return forced
        draw = random.Random(f"{self.seed}:{record.path}:{identity}:{attempt}").random()
        errors = self.error_rate
        if draw < errors * (1 - self.stored_share) * 0.55:
            return (500, False)
        if draw < errors * (1 - self.stored_share):
            return (502, False)
        if draw < errors:
            return (500, True)
        if draw < errors + self.rate_limit_rate:
            return (429, False)
        draw -= errors + self.rate_limit_rate
        if draw < self.drop_rate:
            return self.DROP
        if draw < self.drop_rate + self.lost_rate:
            return self.LOST
        return None

    async def lose_answers(self) -> None:
        """Hold the answer of every create drawn ``LOST`` and close its connection (run as a
        task for as long as the faults last)."""
        while True:
            hold = self.double.hold(
                lambda r: self.decide(r) == self.LOST, count=1, after_handling=True
            )
            await hold.wait(timeout=10**6)
            hold.drop()

    @property
    def stored(self) -> int:
        """Creates Discord handled whose answer never carried rate-limit headers."""
        return self.drawn[(500, True)] + self.drawn[self.LOST]


def slow_api(double: DiscordDouble, *, creates: int, callbacks: int, other: int) -> None:
    """Answer the first matching requests of several routes 2 s late."""
    double.delay(SLOW, is_message_create, count=creates)
    double.delay(SLOW, "POST /interactions/*", count=callbacks)
    double.delay(SLOW, "POST /webhooks/*", count=other)
    double.delay(SLOW, "PATCH /channels/*/messages/*", count=other)
    double.delay(SLOW, "GET /channels/*/messages", count=other)


# ---------------------------------------------------------------------------- users


@dataclass
class Users:
    """Who runs which command; each choice from the scenario's random generator."""

    double: DiscordDouble
    rng: random.Random
    moderators: list[str]
    members: list[str]
    items: list[int]
    pending: list[int]
    channels: list[str]
    handles: list[tuple[str, InteractionHandle]] = field(default_factory=list)
    submitted: int = 0
    approved: list[int] = field(default_factory=list)

    async def run(self, command: str, options: dict[str, Any], user: str) -> InteractionHandle:
        channel = "review" if user in self.moderators else "general"
        handle = await self.double.send_slash_command(command, options, user=user, channel=channel)
        self.handles.append((command, handle))
        return handle

    async def any_command(self) -> InteractionHandle:
        rng = self.rng
        moderator, member = rng.choice(self.moderators), rng.choice(self.members)
        kind = rng.choices(
            ["queue", "queue-status", "show", "approve", "submit", "preview", "refused"],
            weights=[3, 2, 3, 2, 3, 1, 1],
        )[0]
        if kind == "approve" and self.pending:
            item = self.pending.pop(rng.randrange(len(self.pending)))
            self.approved.append(item)
            return await self.run("news approve", {"item": item}, moderator)
        if kind == "queue-status":
            status = rng.choice(["pending", "approved", "published"])
            return await self.run("news queue", {"status": status}, moderator)
        if kind == "show":
            return await self.run("news show", {"item": rng.choice(self.items)}, moderator)
        if kind == "submit":
            self.submitted += 1
            n = self.submitted
            options = {"url": f"https://reader.example/tip/{n:05d}", "title": f"Reader tip {n}"}
            return await self.run("news submit", options, member)
        if kind == "preview":
            return await self.run(
                "digest preview", {"channel": rng.choice(self.channels)}, moderator
            )
        if kind == "refused":
            return await self.run("news queue", {}, member)
        return await self.run("news queue", {}, moderator)


# ---------------------------------------------------------------------------- the scenario


@dataclass(frozen=True)
class FaultScale:
    topics: tuple[str, ...] = ("AI", "Climate")
    """One digest channel per topic, plus one channel taking every topic (``d0``)."""
    items_per_topic: int = 6
    pending: int = 3
    moderators: int = 2
    members: int = 4
    commands_per_event: int = 2
    """Suite: commands sent after each of the first digest message creates is answered."""
    events: int = 7
    close_at: tuple[int, ...] = (2, 5)
    """Suite: the gateway is closed after these digest message creates were answered."""
    soak_seconds: float | None = None
    """Soak: run this long at least, closing the gateway every ``close_every`` seconds and
    sending a command every ``command_every`` seconds, until publishing is done."""
    close_every: float = 3.0
    command_every: float = 0.5
    slow_creates: int = 3
    slow_callbacks: int = 2
    slow_other: int = 2


@dataclass
class FaultReport:
    audit: Audit
    review_duplicates: int
    review_missing: int
    acks: list[float]
    commands: int
    unanswered: list[str]
    late: list[str]
    refused_callbacks: int
    creates: int
    injected_5xx: int
    injected_429: int
    total_429: int
    extra_429: list[str]
    stored_faults: int
    dropped: int
    lost_answers: int
    gateway_closes: int
    resumes: int
    identifies: int
    publish_rounds: int
    publish_replies: list[str]
    seconds: float

    def figures(self, prefix: str = "faults") -> dict[str, str]:
        audit = self.audit
        return {
            f"{prefix}: digests": (
                f"{len(audit.lost)} items lost of {audit.expected},"
                f" {audit.duplicate_parts} parts and {audit.duplicate_items} items duplicated"
                f" ({audit.messages} digest messages, {self.publish_rounds} /digest publish)"
            ),
            f"{prefix}: review posts": (
                f"{self.review_duplicates} duplicated, {self.review_missing} missing"
            ),
            f"{prefix}: faults": (
                f"{self.creates} message creates: {self.injected_5xx} answered 5xx,"
                f" {self.injected_429} answered 429 (injected), {self.dropped} connections"
                f" dropped before and {self.lost_answers} after Discord stored the message;"
                f" {self.gateway_closes} gateway closes ({self.resumes} resumes,"
                f" {self.identifies - 1} re-identifies)"
            ),
            f"{prefix}: 429s": (
                f"{self.total_429} in all, {self.total_429 - self.injected_429}"
                " beyond the injected ones"
                f" (allowed: 1 per answer without headers, {self.stored_faults})"
            ),
            f"{prefix}: slash command acks": (
                f"{self.commands} commands, {len(self.unanswered)} unanswered,"
                f" {len(self.late)} over 3 s; p50 {percentile(self.acks, 50):.0f} ms,"
                f" p99 {percentile(self.acks, 99):.0f} ms, max {max(self.acks, default=0):.0f} ms"
            ),
            f"{prefix}: wall time": f"{self.seconds:.1f} s",
        }

    def failures(self) -> list[str]:
        problems = []
        if not self.audit.clean:
            problems.append(f"digests: {self.audit.summary()}")
        if self.review_duplicates or self.review_missing:
            problems.append(
                f"review posts: {self.review_duplicates} duplicated, {self.review_missing} missing"
            )
        if self.unanswered or self.late or self.refused_callbacks:
            problems.append(
                f"commands: unanswered {self.unanswered}, late {self.late},"
                f" {self.refused_callbacks} refused callbacks"
            )
        # A request Discord counted but answered without rate-limit headers (a 5xx after
        # handling, a lost answer) leaves discord.py one request behind on that bucket, so it
        # may meet one 429 it could not foresee (and waits it out). More than that is pacing.
        if self.total_429 - self.injected_429 > self.stored_faults:
            problems.append(
                f"{self.total_429 - self.injected_429} 429s beyond the injected ones:"
                f" {self.extra_429}"
            )
        bad = publish_reply_problems(self.publish_replies)
        if bad:
            problems.append(f"/digest publish replied {bad}")
        return problems


async def prepare(folder: Path, settings: Settings, scale: FaultScale) -> list[int]:
    """Approved items for every topic (long excerpts: several messages per digest) and
    ``scale.pending`` pending items about the first topic; the pending items' ids."""
    for topic in scale.topics:
        write_articles(folder / topic, scale.items_per_topic, topic=topic, words=60)
        await approve_articles(settings, folder / topic)
    write_articles(folder / "pending", scale.pending, topic="Pending")
    async with open_app(settings) as app:
        from bot.ingest import ingest

        report = await ingest(app.store, [folder / "pending"])
    return list(report.new_ids)


class Gateway:
    """Closes the bot's gateway and waits until it is back; commands wait for that."""

    def __init__(self, double: DiscordDouble, rng: random.Random) -> None:
        self.double = double
        self.rng = rng
        self.open = asyncio.Lock()
        self.closes = 0

    async def close(self, *, allow_invalidate: bool = False) -> None:
        async with self.open:
            double = self.double
            resumed, ready = double.gateway.count("resumed"), double.gateway.count("ready")
            invalidate = allow_invalidate and self.rng.random() < 0.2
            code = self.rng.choice([4000, 1001, 4008]) if not invalidate else 4009
            await double.close_gateway(code, invalidate=invalidate)
            self.closes += 1
            # discord.py resumes; after an invalidated session it identifies again.
            await double.wait_until(
                lambda: (
                    double.gateway.count("resumed") > resumed
                    or double.gateway.count("ready") > ready
                ),
                timeout=30,
                what="the bot back on the gateway",
            )

    async def command(self, users: Users) -> InteractionHandle:
        async with self.open:
            return await users.any_command()


async def run_faults(
    folder: Path, seed: int = SEED, scale: FaultScale | None = None
) -> FaultReport:
    """The fault scenario; ``scale`` says how long (the suite's default is short)."""
    scale = scale or FaultScale()
    rng = random.Random(f"faults:{seed}")
    started = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    channels = 1 + len(scale.topics)
    async with DiscordDouble(
        guild=newsroom(channels, moderators=scale.moderators, members=scale.members)
    ) as double:
        # Whole excerpts (not a digest's usual sentence or two): several messages per digest.
        whole = 10_000
        digests = [DigestChannel(channel=double.channel("d0").id, excerpt_length=whole)] + [
            DigestChannel(
                channel=double.channel(f"d{n + 1}").id, topics=(topic,), excerpt_length=whole
            )
            for n, topic in enumerate(scale.topics)
        ]
        settings = double_settings(double, folder / "newsbot.db", digests)
        pending = await prepare(folder / "articles", settings, scale)
        async with open_app(settings) as app:
            items = [i.id for i in await app.store.list_items(QueueQuery())]
        users = Users(
            double,
            rng,
            moderators=user_keys("mod", scale.moderators),
            members=user_keys("m", scale.members),
            items=items,
            pending=list(pending),
            channels=[f"d{n}" for n in range(channels)],
        )
        d0, d1, d2 = (double.channel(f"d{n}").id for n in range(3))
        forced = {
            (d0, 0): (500, False),
            (d0, 1): (429, False),
            (d1, 0): CreateFaults.DROP,
            (d1, 1): (502, False),
            (d2, 0): (500, True),
            (d2, 1): CreateFaults.LOST,
        }
        faults = CreateFaults(double, seed, forced=forced)
        faults.install()
        losing = asyncio.create_task(faults.lose_answers())
        try:
            return await _run_faults(double, settings, scale, rng, users, faults, started)
        finally:
            losing.cancel()
            await asyncio.gather(losing, return_exceptions=True)


async def _run_faults(
    double: DiscordDouble,
    settings: Settings,
    scale: FaultScale,
    rng: random.Random,
    users: Users,
    faults: CreateFaults,
    started: float,
) -> FaultReport:
    slow_api(
        double,
        creates=scale.slow_creates,
        callbacks=scale.slow_callbacks,
        other=scale.slow_other,
    )
    gateway = Gateway(double, rng)
    replies: list[str] = []
    concurrent: list[InteractionHandle] = []
    rounds = 0
    async with running_bot(settings, double):
        digest_ids = {d.channel for d in settings.digests}

        def digest_create(record: RecordedRequest) -> bool:
            return is_message_create(record) and int(record.path.split("/")[2]) in digest_ids

        async def publish_until_done() -> None:
            nonlocal rounds
            while True:
                rounds += 1
                handle = await gateway_command(
                    lambda: users.run("digest publish", {}, users.moderators[0])
                )
                [reply] = await handle.wait_for_followups(1, timeout=300)
                lines = str(reply["content"]).splitlines()
                replies.extend(lines)
                if all(line.startswith("nothing new") for line in lines) or rounds >= 30:
                    return

        async def gateway_command(
            send: Callable[[], Any],
        ) -> InteractionHandle:
            async with gateway.open:
                handle: InteractionHandle = await send()
                return handle

        if scale.soak_seconds is None:
            publishing = asyncio.create_task(publish_until_done())
            for event in range(1, scale.events + 1):
                await double.wait_for_request(digest_create, count=event, timeout=120)
                if event in scale.close_at:
                    await gateway.close()
                    continue
                for _ in range(scale.commands_per_event):
                    await gateway.command(users)
                if event == 3:  # a second publish while the first is posting
                    concurrent.append(
                        await gateway_command(
                            lambda: users.run("digest publish", {"channel": "d1"}, "mod1")
                        )
                    )
            await publishing
            # Whatever was approved by command after the last round goes out too.
            await publish_until_done()
        else:
            deadline = time.monotonic() + scale.soak_seconds
            publishing = asyncio.create_task(publish_until_done())

            async def closer() -> None:
                while not publishing.done() or time.monotonic() < deadline:
                    await asyncio.sleep(scale.close_every)
                    await gateway.close(allow_invalidate=True)

            async def commander() -> None:
                while not publishing.done() or time.monotonic() < deadline:
                    await gateway.command(users)
                    await asyncio.sleep(scale.command_every)

            await asyncio.gather(publishing, closer(), commander())
            # Whatever was approved by command after the last round goes out too.
            await publish_until_done()
        for handle in concurrent:
            [reply] = await handle.wait_for_followups(1, timeout=300)
            replies.extend(str(reply["content"]).splitlines())
        # Every command must have had its first answer (the double refuses late ones).
        for _, handle in users.handles:
            await double.wait_until(
                lambda h=handle: h.ack is not None or h.rejections,
                timeout=30,
                what=f"an answer to interaction {handle.id}",
            )
        review_wanted = await _pending_items(settings)
        await double.wait_until(
            lambda: _reviewed(double) >= review_wanted,
            timeout=60,
            what="every pending item in the review channel",
        )
    audit = await audit_digests(settings, double, await expected_items(settings))
    review = Counter(_review_ids(double))
    acks: list[float] = []
    unanswered, late = [], []
    for command, handle in users.handles:
        latency = ack_ms(handle)
        if latency is None:
            unanswered.append(command)
        else:
            acks.append(latency)
            if latency > DEADLINE_MS:
                late.append(f"{command}: {latency:.0f} ms")
    creates = [r for r in double.requests if is_message_create(r)]
    extra_429 = [
        f"{r.method} {r.path} at {r.at:.3f} after "
        + str([(o.status, round(o.at, 3)) for o in double.requests if o.path == r.path][-8:])
        for r in double.requests
        if r.status == 429 and faults.decide(r) != (429, False)
    ]
    return FaultReport(
        audit=audit,
        review_duplicates=sum(n - 1 for n in review.values()),
        review_missing=len(review_wanted - set(review)),
        acks=acks,
        commands=len(users.handles),
        unanswered=unanswered,
        late=late,
        refused_callbacks=sum(len(h.rejections) for _, h in users.handles),
        creates=len(creates),
        # Counted from what the double answered, not from what was drawn: a fault drawn but
        # never sent (a broken injection) must not count.
        injected_5xx=sum(1 for r in creates if r.status is not None and 500 <= r.status < 599),
        injected_429=sum(
            1 for r in creates if r.status == 429 and faults.decide(r) == (429, False)
        ),
        total_429=double.count_429,
        extra_429=extra_429,
        stored_faults=faults.stored,
        dropped=sum(1 for r in creates if r.status == 599 and faults.decide(r) == faults.DROP),
        lost_answers=sum(1 for r in creates if r.status == 599 and faults.decide(r) == faults.LOST),
        gateway_closes=gateway.closes,
        resumes=double.gateway.count("resumed"),
        identifies=double.gateway.count("ready"),
        publish_rounds=rounds,
        publish_replies=replies,
        seconds=time.monotonic() - started,
    )


async def _pending_items(settings: Settings) -> set[int]:
    """Items that must have a review message: the ones still pending (an item approved
    before the review feed reached it needs none)."""
    async with open_app(settings) as app:
        items = await app.store.list_items(QueueQuery(statuses=(Status.PENDING,)))
    return {item.id for item in items}


def _review_ids(double: DiscordDouble) -> list[int]:
    """The item of every review message in the review channel (one per message)."""
    found = []
    for message in double.messages("review"):
        ids = {
            int(match[1])
            for row in message.get("components") or []
            for component in row.get("components") or []
            if (match := REVIEW_ID.match(str(component.get("custom_id", ""))))
        }
        if not ids:  # decided: the buttons are gone, the text names the item
            head = re.match(r"\*\*#(\d+)\*\*", str(message.get("content", "")))
            ids = {int(head[1])} if head else set()
        found.extend(ids)
    return found


def _reviewed(double: DiscordDouble) -> set[int]:
    return set(_review_ids(double))


async def test_publishing_under_5xx_429_gateway_closes_and_a_slow_api_delivers_everything_once(
    tmp_path: Path, restore_endpoints: None, figures: dict[str, Any]
) -> None:
    report = await run_faults(tmp_path)
    figures.update(report.figures())
    assert report.failures() == []
    # Every approved item was expected in d0 and in its topic's channel (so an item lost
    # from the queue itself cannot shrink what the audit checks).
    scale = FaultScale()
    assert report.audit.expected >= 2 * len(scale.topics) * scale.items_per_topic
    # The faults did happen: at least the one of each kind chosen for the first digests.
    assert report.injected_5xx >= 3 and report.injected_429 >= 1
    assert report.dropped >= 1 and report.lost_answers >= 1
    assert report.gateway_closes == 2 and report.resumes >= 2
    assert max(report.acks) >= 1_000 * SLOW  # some acknowledgements went through the slow API
    assert report.commands >= 10


async def test_a_review_post_whose_answer_was_lost_is_not_posted_again(
    tmp_path: Path, restore_endpoints: None
) -> None:
    # Discord stores the first review post but the connection closes before its answer: the
    # review feed fails that round and tries again. With the item's own nonce the retry gets
    # the stored message back (found by the fault run above: it was posted twice).
    async with DiscordDouble(guild=newsroom(1)) as double:
        settings = double_settings(
            double, tmp_path / "newsbot.db", [DigestChannel(channel=double.channel("d0").id)]
        )
        first, second = await seed_db(settings.database, seed_files(2))
        route = f"POST /channels/{double.channel('review').id}/messages"
        lost = double.hold(route, after_handling=True)
        async with running_bot(settings, double):
            await lost.wait(timeout=10)
            lost.drop()
            # The retry, then the other item's post: the feed posts (and records) in order,
            # highest quality first.
            await double.wait_for_request(route, count=3, timeout=30)
        posts = double.requests_to(route)
        assert [p.status for p in posts] == [599, 200, 200]
        nonce = posts[0].json["nonce"]
        assert nonce in {f"nbrv{first}", f"nbrv{second}"} and posts[1].json["nonce"] == nonce
        held = int(nonce.removeprefix("nbrv"))
        other = second if held == first else first
        assert _review_ids(double) == [held, other]
        async with open_app(settings) as app:
            post = await app.store.review_post(held)
        assert post is not None
        assert post.message_id == int(double.messages("review")[0]["id"])
