"""Digests: deliver a channel's next digest (:mod:`bot.plan`) exactly once, through the outbox
(DESIGN §5), by one process at a time (:mod:`bot.leases`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.clock import Clock
from bot.config import Crosspost, DigestChannel, Settings
from bot.errors import DeliveryError, LeaseLost
from bot.leases import LEASE_TTL, ChannelLeases
from bot.limits import NONCE_MAX
from bot.plan import digest_key, plan_digest
from bot.poster import After, ChannelInfo, ChannelKind, Poster
from bot.render import Renderer, allowed_mentions
from bot.render.escape import escape_markdown
from bot.render.renderer import default_thread_name
from bot.store import DigestRecord, DigestStatus, NewMessage, Store, Trigger

log = logging.getLogger(__name__)

# A resumed digest looks for its unrecorded part among the messages after its last recorded
# part (an id Discord gave, so no clock is involved), or, when none is recorded, from this long
# before the digest was created: history's ``after`` excludes the whole millisecond it names,
# and Discord's clock (which dates message ids) is not ours. The part is identified by its exact
# content and embeds (readers see no ref of ours); the window is kept short so that the one
# message a channel may get twice alike, the empty-digest notice, cannot match an earlier one.
HISTORY_SLACK = timedelta(minutes=1)


class PublishStatus(StrEnum):
    """What one publish of one channel came to."""

    POSTED = "posted"
    NOTHING = "nothing"
    """Nothing new for the channel; nothing was posted."""
    FAILED = "failed"
    """Discord refused (a 4xx) or something unexpected broke; the items stay queued."""
    RETRY_LATER = "retry_later"
    """Discord kept failing (5xx, timeouts); the digest stays in the outbox for later."""
    BUSY = "busy"
    """Another newsbot process is publishing the channel (it holds its lease); left to it."""


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What one publish of one channel did, for the command reply, the log and the CLI."""

    channel: int
    status: PublishStatus
    digest_id: int | None = None
    messages: int = 0
    items: int = 0
    message_ids: tuple[int, ...] = ()
    error: str | None = None


def describe_result(result: PublishResult, where: str) -> str:
    """One line saying what a publish did; ``where`` names the channel the way the reader
    sees it (the adapter passes a channel mention, the CLI and the log ``channel 123``)."""
    if result.status is PublishStatus.POSTED and result.items == 0:
        return f"nothing new for {where}; posted the empty-digest notice"
    if result.status is PublishStatus.POSTED:
        return (
            f"posted {result.items} item{'s' if result.items != 1 else ''} in {result.messages}"
            f" message{'s' if result.messages != 1 else ''} to {where}"
        )
    if result.status is PublishStatus.NOTHING:
        return f"nothing new for {where}"
    if result.status is PublishStatus.RETRY_LATER:
        return f"{where}: Discord is failing ({result.error}); will retry"
    if result.status is PublishStatus.BUSY:
        return f"{where}: another newsbot process is publishing it; left to that one"
    return f"{where}: failed: {result.error}"


# A resumed digest that ended so holds the channel: its next digest waits for it.
_BLOCKING = (PublishStatus.FAILED, PublishStatus.RETRY_LATER, PublishStatus.BUSY)


def _unexpected(channel: int, doing: str, exc: Exception) -> PublishResult:
    """A channel's result after an error that is no delivery failure (a bug, the database):
    logged with its traceback; an unfinished digest stays in the outbox for the next run."""
    log.error("%s channel %d failed unexpectedly", doing, channel, exc_info=exc)
    return PublishResult(
        channel=channel, status=PublishStatus.FAILED, error=f"{type(exc).__name__}: {exc}"
    )


def empty_notice(digest: DigestChannel) -> dict[str, Any]:
    """The message a scheduled run posts when nothing is new and the channel has
    ``post_empty: true``."""
    return {
        "content": f"**{escape_markdown(digest.title)}** · no new stories this time.",
        "allowed_mentions": allowed_mentions(),
    }


FORUM_TAGS_MAX = 5


def nonce_for(ref: str, position: int) -> str:
    """One nonce per message, derived from the digest so a re-send reuses it."""
    return f"nb{ref}.{position}"[:NONCE_MAX]


class Publisher:
    """Delivers digests through a Poster, exactly once per item and channel (DESIGN §5).

    One publish per channel runs at a time (a lock per channel); channels publish
    concurrently, so Discord's global limit rather than one channel's paces a fan-out.
    """

    def __init__(
        self,
        store: Store,
        renderer: Renderer,
        poster: Poster,
        clock: Clock,
        settings: Settings,
        *,
        retries: int = 3,
        backoff: timedelta = timedelta(seconds=2),
        on_crosspost_queued: Callable[[], None] | None = None,
        on_result: Callable[[PublishResult], None] | None = None,
        owner: str | None = None,
        lease_ttl: timedelta = LEASE_TTL,
    ) -> None:
        self.store = store
        self.renderer = renderer
        self.poster = poster
        self.clock = clock
        self.settings = settings
        self.retries = retries
        self.backoff = backoff
        self.on_crosspost_queued = on_crosspost_queued
        """Called when a digest queued crossposts (the bot wakes its Crossposter)."""
        self.on_result = on_result
        """Called with what each delivery of a digest came to (the bot counts them)."""
        self.leases = ChannelLeases(store, clock, owner, lease_ttl)
        """Which channels this process publishes now (see ``bot.leases``)."""
        self._locks: dict[int, asyncio.Lock] = {}

    def _lock(self, channel: int) -> asyncio.Lock:
        return self._locks.setdefault(channel, asyncio.Lock())

    def _busy(self, channel: int) -> PublishResult:
        log.info("channel %d: another newsbot process is publishing it", channel)
        return PublishResult(channel=channel, status=PublishStatus.BUSY)

    async def resume_unfinished(self) -> list[PublishResult]:
        """Finish every digest a previous run left half-sent (called on start). As in
        ``publish_many``, one channel's unexpected error is its result, not everyone's."""
        digests = await self.store.unfinished_digests()
        channels = sorted({d.channel_id for d in digests})
        async with self.leases.holding(channels) as leases:
            results = await asyncio.gather(
                *(self._resume_channel(c, leases.get(c)) for c in channels)
            )
        return [r for group in results for r in group]

    async def _resume_channel(self, channel: int, lease: int | None) -> list[PublishResult]:
        if lease is None:
            return [self._busy(channel)]
        try:
            async with self._lock(channel):
                return await self._resume_locked(channel, lease)
        except Exception as exc:
            return [_unexpected(channel, "resuming", exc)]

    async def _resume_locked(self, channel: int, lease: int) -> list[PublishResult]:
        """Deliver the channel's unfinished digests; the caller holds the channel's lock and
        its lease ``lease``."""
        return [
            await self._deliver(digest, resumed=True, lease=lease)
            for digest in await self.store.unfinished_digests(channel)
        ]

    async def publish(
        self,
        channel: int,
        *,
        trigger: Trigger = Trigger.COMMAND,
        scheduled_for: datetime | None = None,
        only: tuple[int, ...] | None = None,
    ) -> PublishResult:
        """Resume anything unfinished for the channel, then post its next digest.

        ``scheduled_for`` is the scheduled run this publish makes (already claimed): the digest
        is linked to it as it is written, so a run is never left claimed without its digest
        (see :meth:`~bot.store.Store.orphaned_runs`)."""
        async with self.leases.holding([channel]) as leases:
            return await self._publish_leased(
                channel, leases.get(channel), trigger, scheduled_for, only
            )

    async def _publish_leased(
        self,
        channel: int,
        lease: int | None,
        trigger: Trigger,
        scheduled_for: datetime | None,
        only: tuple[int, ...] | None,
    ) -> PublishResult:
        if lease is None:
            return self._busy(channel)
        async with self._lock(channel):
            resumed = await self._resume_locked(channel, lease)
            blocked = next((r for r in resumed if r.status in _BLOCKING), None)
            if blocked is not None:
                return blocked
            when = self.clock.now()
            plan = await plan_digest(
                self.store, self.renderer, self.settings.digest_for(channel), when, only=only
            )
            now = when.isoformat(timespec="microseconds")
            if not plan.messages:
                done = [r for r in resumed if r.status is PublishStatus.POSTED]
                if done:
                    return done[-1]
                if trigger is not Trigger.SCHEDULE or not plan.digest.post_empty:
                    return PublishResult(channel=channel, status=PublishStatus.NOTHING)
                # A scheduled run of a channel that asked for it says there was nothing new;
                # through the outbox like any digest, so a crash cannot post it twice.
                ref = digest_key(channel, []) + now[-4:]
                outbox: list[NewMessage] = [(empty_notice(plan.digest), nonce_for(ref, 0), ())]
                key = f"{ref}@{now}"
            else:
                outbox = [
                    (message.payload, nonce_for(plan.key, position), plan.item_ids(message))
                    for position, message in enumerate(plan.messages)
                ]
                key = f"{plan.key}@{now}"
            digest, _ = await self.store.create_digest(
                channel,
                key,
                trigger,
                outbox,
                scheduled_for=scheduled_for,
                thread_name=plan.thread_name,
            )
            log.info(
                "digest %d for channel %d: %d items in %d messages (%s)",
                digest.id,
                channel,
                len(plan.items),
                len(outbox),
                trigger,
            )
            return await self._deliver(digest, resumed=False, lease=lease)

    async def publish_many(
        self, channels: Sequence[int], *, trigger: Trigger = Trigger.COMMAND
    ) -> list[PublishResult]:
        """Publish the channels concurrently, so the global limit rather than one channel's
        paces a fan-out. One channel's unexpected error (a bug, the database) is logged and
        reported as its result; it does not cut the other channels' publishing short."""
        async with self.leases.holding(channels) as leases:
            return list(
                await asyncio.gather(
                    *(self._publish_guarded(c, leases.get(c), trigger) for c in channels)
                )
            )

    async def _publish_guarded(
        self, channel: int, lease: int | None, trigger: Trigger
    ) -> PublishResult:
        try:
            return await self._publish_leased(channel, lease, trigger, None, None)
        except Exception as exc:
            return _unexpected(channel, "publishing", exc)

    async def _deliver(self, digest: DigestRecord, *, resumed: bool, lease: int) -> PublishResult:
        try:
            result = await self._deliver_parts(digest, resumed=resumed, lease=lease)
        except LeaseLost:
            self.leases.lost(digest.channel_id, lease)
            log.warning("digest %d: another newsbot process took it over", digest.id)
            result = PublishResult(
                channel=digest.channel_id, status=PublishStatus.BUSY, digest_id=digest.id
            )
        if self.on_result is not None:
            self.on_result(result)
        return result

    async def _deliver_parts(
        self, digest: DigestRecord, *, resumed: bool, lease: int
    ) -> PublishResult:
        store, channel = self.store, digest.channel_id
        sent_ids = [m.message_id for m in digest.messages if m.message_id is not None]
        unsent = list(digest.unsent)
        target = channel  # where the parts go: the channel, or a forum digest's post
        try:
            info = await self.poster.channel_info(channel)
            poster = await self._poster_for(channel)
            if info.kind is ChannelKind.FORUM:
                await self.leases.renew(channel, lease)
                target, made = await self._forum_post(digest, info, poster, lease)
                if made is not None:
                    sent_ids.insert(0, made)
                    unsent = unsent[1:]
        except DeliveryError as exc:
            return await self._failed(digest, exc)
        crosspost = self._crossposts(channel, info)
        for index, message in enumerate(unsent):
            # Only the first unsent part of a resumed digest can have been sent without being
            # recorded (parts go out one by one): look for it before sending it again, since
            # Discord only honours the nonce for a few minutes.
            if resumed and index == 0:
                after: After = max(sent_ids) if sent_ids else digest.created_at - HISTORY_SLACK
                found = await poster.find_recent(target, message.payload, after)
                if found is not None:
                    log.info(
                        "digest %d part %d was already posted as %d; recorded",
                        digest.id,
                        message.position,
                        found,
                    )
                    await store.record_sent(
                        digest.id,
                        message.position,
                        found,
                        self.clock.now(),
                        crosspost_in=crosspost(message.position),
                        lease=lease,
                    )
                    sent_ids.append(found)
                    continue
            await self.leases.renew(channel, lease)
            try:
                message_id = await self._send(poster, target, message.payload, message.nonce)
            except DeliveryError as exc:
                return await self._failed(digest, exc)
            await store.record_sent(
                digest.id,
                message.position,
                message_id,
                self.clock.now(),
                crosspost_in=crosspost(message.position),
                lease=lease,
            )
            sent_ids.append(message_id)
        if self.on_crosspost_queued is not None and any(
            crosspost(m.position) for m in digest.messages
        ):
            self.on_crosspost_queued()
        threaded = await self._start_thread(digest, sent_ids)
        if threaded is not None:
            return threaded
        await store.finish_digest(digest.id, DigestStatus.DONE)
        items = sum(len(m.item_ids) for m in digest.messages)
        return PublishResult(
            channel=channel,
            status=PublishStatus.POSTED,
            digest_id=digest.id,
            messages=len(digest.messages),
            items=items,
            message_ids=tuple(sent_ids),
        )

    async def _failed(self, digest: DigestRecord, exc: DeliveryError) -> PublishResult:
        """A delivery Discord did not take: left for later (5xx, timeouts), or failed for good
        (4xx) and reported to the moderators; the items stay queued either way."""
        channel = digest.channel_id
        if not exc.permanent:
            log.warning("digest %d for channel %d left for later: %s", digest.id, channel, exc)
            return PublishResult(
                channel=channel,
                status=PublishStatus.RETRY_LATER,
                digest_id=digest.id,
                error=str(exc),
            )
        log.error("digest %d for channel %d failed: %s", digest.id, channel, exc)
        await self.store.finish_digest(digest.id, DigestStatus.FAILED, str(exc))
        await self._report_failure(digest, exc)
        return PublishResult(
            channel=channel, status=PublishStatus.FAILED, digest_id=digest.id, error=str(exc)
        )

    async def _poster_for(self, channel: int) -> Poster:
        """Who posts the channel's digests: the bot, or its webhook under the configured
        ``identity``."""
        wanted = self._configured(channel)
        if wanted is None or wanted.identity is None:
            return self.poster
        return await self.poster.with_identity(channel, wanted.identity)

    def _thread_name(self, digest: DigestRecord) -> str:
        """The name rendered with the digest; for a digest written before names were kept,
        the default one."""
        if digest.thread_name:
            return digest.thread_name
        wanted = self._configured(digest.channel_id) or DigestChannel(channel=digest.channel_id)
        return default_thread_name(wanted, digest.created_at)

    async def _forum_post(
        self, digest: DigestRecord, info: ChannelInfo, poster: Poster, lease: int
    ) -> tuple[int, int | None]:
        """The forum post a digest is: (its id, the id if it was made or found just now).

        A post has no nonce, so the intent is recorded before it is made; a digest whose
        intent is recorded but whose post is not looks for it (open and archived posts, by
        name and starter message) before making it again."""
        first = digest.messages[0]
        if digest.thread_id is not None:
            if first.message_id is not None:
                return digest.thread_id, None
            # Recorded as the digest's post, but the crash came before its starter was.
            await self.store.record_sent(
                digest.id, first.position, digest.thread_id, self.clock.now(), lease=lease
            )
            return digest.thread_id, digest.thread_id
        wanted = self._configured(digest.channel_id) or DigestChannel(channel=digest.channel_id)
        name = self._thread_name(digest)
        post = None
        if digest.post_started_at is not None:
            since = digest.created_at - HISTORY_SLACK
            post = await poster.find_post(digest.channel_id, name, first.payload, since)
            if post is not None:
                log.info("digest %d: its forum post %d was made already; recorded", digest.id, post)
        if post is None:
            tags = await self._forum_tags(digest, wanted, info)
            await self.store.record_post_intent(digest.id, self.clock.now())
            post = await poster.create_post(digest.channel_id, name, first.payload, tags)
        await self.store.record_thread(digest.id, post)
        # The starter message shares the post's id.
        await self.store.record_sent(digest.id, first.position, post, self.clock.now(), lease=lease)
        return post, post

    async def _forum_tags(
        self, digest: DigestRecord, wanted: DigestChannel, info: ChannelInfo
    ) -> list[int]:
        """The post's tags: the configured ``tags``, then the forum's tags named like the
        items' topics; Discord takes at most 5."""
        names = [tag.lower() for tag in wanted.tags]
        for item_id in (i for m in digest.messages for i in m.item_ids):
            item = await self.store.get(item_id, with_related=False)
            names += [topic.lower() for topic in item.article.topics]
        tags: list[int] = []
        for name in names:
            tag = info.tags.get(name)
            if tag is not None and tag not in tags:
                tags.append(tag)
        return tags[:FORUM_TAGS_MAX]

    def _crossposts(self, channel: int, info: ChannelInfo) -> Callable[[int], int | None]:
        """Which parts of the channel's digests are crossposted: by position, the channel
        to crosspost in, or None."""
        wanted = self._configured(channel)
        mode = wanted.crosspost if wanted is not None else Crosspost.OFF
        if info.kind is not ChannelKind.ANNOUNCEMENT or mode is Crosspost.OFF:
            return lambda position: None
        return lambda position: channel if mode is Crosspost.ALL or position == 0 else None

    def _configured(self, channel: int) -> DigestChannel | None:
        return next((d for d in self.settings.digests if d.channel == channel), None)

    async def _start_thread(
        self, digest: DigestRecord, sent_ids: Sequence[int]
    ) -> PublishResult | None:
        """Start the digest's discussion thread if its channel wants one and it has none yet;
        a result only when that has to wait (Discord failing: the digest stays unfinished and
        the next run starts the thread, its parts being recorded already). A refusal is logged
        and leaves the digest without a thread: its news went out."""
        channel = digest.channel_id
        wanted = self._configured(channel)
        if wanted is None or not wanted.thread or digest.thread_id is not None or not sent_ids:
            return None
        name = self._thread_name(digest)
        try:
            thread = await self.poster.start_thread(channel, sent_ids[0], name)
        except DeliveryError as exc:
            if exc.permanent:
                log.error("digest %d: could not start its thread: %s", digest.id, exc)
                return None
            log.warning("digest %d: its thread is left for later: %s", digest.id, exc)
            return PublishResult(
                channel=channel,
                status=PublishStatus.RETRY_LATER,
                digest_id=digest.id,
                error=str(exc),
            )
        await self.store.record_thread(digest.id, thread)
        log.info("digest %d: started thread %d", digest.id, thread)
        return None

    async def _send(self, poster: Poster, channel: int, payload: dict[str, Any], nonce: str) -> int:
        """Send with our own backoff on top of discord.py's retries, for outages longer than
        its ~25 s of 5xx retries."""
        attempt = 0
        while True:
            try:
                return await poster.send(channel, payload, nonce)
            except DeliveryError as exc:
                attempt += 1
                if exc.permanent or attempt > self.retries:
                    raise
                delay = self.backoff * (2 ** (attempt - 1))
                log.warning("channel %d: %s; retrying in %s", channel, exc, delay)
                await self.clock.sleep_until(self.clock.now() + delay)

    async def _report_failure(self, digest: DigestRecord, exc: DeliveryError) -> None:
        """Tell the moderators, in the review channel, what failed and how to fix it."""
        review = self.settings.review_channel
        if review is None or review == digest.channel_id:
            return
        items = sum(len(m.item_ids) for m in digest.unsent)
        content = failure_report(digest.channel_id, exc, items)
        try:
            await self.poster.send(
                review,
                {"content": content, "allowed_mentions": allowed_mentions()},
                f"nbreport{digest.id}",
            )
        except DeliveryError:
            log.exception("could not report the failure of digest %d", digest.id)


_FIXES = {
    50001: "give the bot View Channel in that channel",
    50013: "give the bot Send Messages and Embed Links in that channel",
    10003: "the channel no longer exists; remove it from `digests` in the config",
    50035: "a template produced a message Discord refuses; run `newsbot check-templates`",
}


def failure_report(channel: int, exc: DeliveryError, items: int) -> str:
    fix = exc.fix or _FIXES.get(exc.code or 0, "check the bot's permissions and the channel id")
    return (
        f"**Digest for <#{channel}> failed.** Discord answered: {exc}\n"
        f"{items} item{'s stay' if items != 1 else ' stays'} approved and will go out with the"
        f" next digest. To fix: {fix}."
    )
