"""Corrections and retractions: editing digests already posted when an item in them changes.

The store queues an edit of every posted message carrying an item in the same transaction that
changes the item (re-ingested, an updated feed entry, a moderator's ``/news edit``, coverage
clustered into it, a retraction), so a crash loses none (DESIGN §5). The :class:`Editor` works
that outbox, in ``newsbot run`` (resumed at start, like unfinished digests) and in each
``newsbot publish``:

- it renders the message again as it was made, with the same template and its own items only
  (:meth:`~bot.render.Renderer.render_part`), a retracted item struck through
  (``retraction: strike``) or taken out (``remove``; struck through where that would leave the
  message without items), and records the payload before it sends it;
- an edit is a PATCH of the whole payload, so sending one twice (a crash between the PATCH and
  its record) shows the same message; every edit allows no mentions;
- a correction is not sent for a channel with ``corrections: off``, nor for a message posted
  longer than ``correction_window`` before the change (a retraction ignores ``corrections``);
- Discord refusing for now (30046: too many edits of a message older than an hour; 50083: its
  thread is archived) holds that message's edit, still queued, for an hour (or until the next
  start or ``newsbot publish``); it is reported once in the review channel. Other messages'
  edits go on.

Forum digests' parts live in the post's thread, so they are edited there. Messages posted
under an ``identity`` are edited through the channel's webhook, whose messages only it may edit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.config import Corrections, DigestChannel, Retraction, Settings
from bot.errors import DeliveryError, NotFound, TemplateProblem
from bot.poster import ChannelKind, Poster
from bot.render import Renderer, allowed_mentions
from bot.store import EditOutcome, EditWhy, PendingEdit, QueueItem, Store

log = logging.getLogger(__name__)

BATCH = 50
# With nothing queued, look at the outbox again this often (the CLI and feeds queue too).
POLL = timedelta(minutes=1)
# A held edit (30046, 50083) is tried again this long after it was held back, or at the start.
HOLD_RETRY = timedelta(hours=1)
TOO_MANY_OLD_EDITS = 30046
THREAD_ARCHIVED = 50083
HELD = (TOO_MANY_OLD_EDITS, THREAD_ARCHIVED)
_SHOWN = ("content", "embeds", "components")


@dataclass(frozen=True, slots=True)
class EditRound:
    """What one pass over the edits outbox did."""

    edited: int = 0
    unchanged: int = 0
    skipped: int = 0
    refused: int = 0
    held: int = 0
    """Held after Discord's 30046 or 50083 (until the next start)."""
    waiting: int = 0
    """Left for the next pass: Discord failing (5xx, timeouts)."""

    @property
    def summary(self) -> str:
        counts = (
            ("edited", self.edited),
            ("already up to date", self.unchanged),
            ("not edited by policy", self.skipped),
            ("refused", self.refused),
            ("held", self.held),
            ("waiting", self.waiting),
        )
        return ", ".join(f"{n} {what}" for what, n in counts if n) or "nothing to edit"


def split_key(key: str, fallback: datetime) -> tuple[str, datetime]:
    """A digest's ``ref`` and the time it was rendered at, from its outbox key
    (``ref@time``, see :meth:`bot.publish.Publisher.publish`)."""
    ref, _, when = key.partition("@")
    try:
        return ref, datetime.fromisoformat(when)
    except ValueError:
        return ref, fallback


def edit_report(edit: PendingEdit, exc: DeliveryError) -> str:
    """The review channel's one message about an edit Discord holds back."""
    if exc.code == THREAD_ARCHIVED:
        fix = "its thread is archived; unarchive it and the edit goes out within the hour"
    else:
        fix = (
            "Discord limits edits of messages older than an hour; newsbot tries again within"
            " the hour (and at each start or `newsbot publish`)"
        )
    return (
        f"**Could not correct a digest message in <#{edit.channel_id}>**"
        f" (message {edit.message_id}). Discord answered: {exc}\n"
        f"The edit stays queued: {fix}. Nothing else is held up."
    )


class Editor:
    """Works the edits outbox: one pass with :meth:`resume` (``newsbot publish``), or for as
    long as the bot runs with :meth:`run`."""

    def __init__(
        self,
        store: Store,
        renderer: Renderer,
        poster: Poster,
        clock: Clock,
        settings: Settings,
        *,
        poll: timedelta = POLL,
    ) -> None:
        self.poll = poll
        self.store = store
        self.renderer = renderer
        self.poster = poster
        self.clock = clock
        self.settings = settings
        self._wake = asyncio.Event()
        self._stopped = False
        self._unblocked_at: datetime | None = None

    def wake(self) -> None:
        """Something was queued (a retraction, a moderator's edit): look now."""
        self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    async def resume(self) -> EditRound:
        """Try the held edits again (on start, and hourly), then one pass."""
        self._unblocked_at = self.clock.now()
        held = await self.store.unblock_edits()
        if held:
            log.info("trying %d held edit%s again", held, "s" if held != 1 else "")
        return await self.run_once()

    async def run_once(self) -> EditRound:
        counts = dict.fromkeys(("edited", "unchanged", "skipped", "refused", "held", "waiting"), 0)
        items: dict[int, QueueItem] = {}
        pending = await self.store.pending_edits(BATCH)
        for edit in pending:
            if edit.blocked_code is not None:
                counts["held"] += 1
                continue
            outcome = await self._edit(edit, items)
            counts[outcome] += 1
        result = EditRound(**counts)
        done = result.edited + result.unchanged + result.skipped + result.refused
        if len(pending) == BATCH and done:
            self._wake.set()  # more after this batch: the next pass follows at once
        if result != EditRound():
            log.info("edits: %s", result.summary)
        return result

    async def run(self) -> None:
        """Work the outbox until stopped, held edits tried again first and then hourly; a
        failing pass is logged and the next one follows."""
        while not self._stopped:
            last = self._unblocked_at
            try:
                due = last is None or self.clock.now() - last >= HOLD_RETRY
                await (self.resume() if due else self.run_once())
            except Exception:
                log.exception("edit pass failed; will retry")
            # Until woken, or the next poll: edits queued by another process (``newsbot
            # ingest``, ``retract``) have no one to wake this one. Polling for another
            # process's writes is real time, as the review feed's; nothing here is scheduled.
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait((woken,), timeout=self.poll.total_seconds())
            finally:
                woken.cancel()
                await asyncio.gather(woken, return_exceptions=True)
            self._wake.clear()

    async def _edit(self, edit: PendingEdit, items: dict[int, QueueItem]) -> str:
        """One queued edit; the name of its count in :class:`EditRound`."""
        digest = next((d for d in self.settings.digests if d.channel == edit.channel_id), None)
        if digest is None or self._by_policy(edit, digest):
            why = "its channel is not configured" if digest is None else "by policy"
            log.info(
                "message %d of digest %d: not edited (%s)", edit.message_id, edit.digest_id, why
            )
            return await self._finish(edit, EditOutcome.SKIPPED, "skipped")
        try:
            payload = await self._render(edit, digest, items)
        except (TemplateProblem, NotFound) as exc:
            log.error(
                "message %d of digest %d: cannot render it again: %s",
                edit.message_id,
                edit.digest_id,
                exc,
            )
            return await self._finish(edit, EditOutcome.REFUSED, "refused")
        if all(payload.get(k) == edit.payload.get(k) for k in _SHOWN):
            return await self._finish(edit, EditOutcome.UNCHANGED, "unchanged")
        await self.store.record_edit_attempt(
            edit.digest_id, edit.position, payload, self.clock.now()
        )
        try:
            info = await self.poster.channel_info(edit.channel_id)
            forum = info.kind is ChannelKind.FORUM and edit.thread_id is not None
            where = edit.thread_id if forum and edit.thread_id is not None else edit.channel_id
            poster = self.poster
            if digest.identity is not None:  # posted through the channel's webhook
                poster = await self.poster.with_identity(edit.channel_id, digest.identity)
            await poster.edit(where, edit.message_id, payload)
        except DeliveryError as exc:
            return await self._failed(edit, exc)
        log.info("message %d of digest %d edited (%s)", edit.message_id, edit.digest_id, edit.why)
        return await self._finish(edit, EditOutcome.EDITED, "edited", payload)

    def _by_policy(self, edit: PendingEdit, digest: DigestChannel) -> bool:
        """Whether policy says not to send it: a correction in a channel with ``corrections:
        off``, or a message posted longer than ``correction_window`` before the change."""
        if edit.why is EditWhy.CORRECTION and digest.corrections is Corrections.OFF:
            return True
        return edit.sent_at < edit.queued_at - self.settings.correction_window

    async def _finish(
        self,
        edit: PendingEdit,
        outcome: EditOutcome,
        count: str,
        payload: dict[str, Any] | None = None,
    ) -> str:
        await self.store.finish_edit(
            edit.digest_id,
            edit.position,
            outcome,
            queued_at=edit.queued_at,
            at=self.clock.now(),
            payload=payload,
        )
        return count

    async def _failed(self, edit: PendingEdit, exc: DeliveryError) -> str:
        if exc.code in HELD:
            log.warning("message %d: edit held: %s", edit.message_id, exc)
            if await self.store.block_edit(edit.digest_id, edit.position, exc.code):
                await self._report(edit, exc)
            return "held"
        if not exc.permanent:
            log.warning("message %d: edit left for later: %s", edit.message_id, exc)
            return "waiting"
        log.error("message %d: edit refused: %s", edit.message_id, exc)
        return await self._finish(edit, EditOutcome.REFUSED, "refused")

    async def _report(self, edit: PendingEdit, exc: DeliveryError) -> None:
        review = self.settings.review_channel
        if review is None:
            return
        payload = {"content": edit_report(edit, exc), "allowed_mentions": allowed_mentions()}
        try:
            await self.poster.send(review, payload, f"nbedit{edit.digest_id}.{edit.position}")
        except DeliveryError:
            log.exception("could not report the held edit of message %d", edit.message_id)

    async def _render(
        self, edit: PendingEdit, digest: DigestChannel, items: dict[int, QueueItem]
    ) -> dict[str, Any]:
        """The message as it reads now: its own items, as its digest was rendered."""
        for item_id in edit.item_ids:
            if item_id not in items:
                items[item_id] = await self.store.get(item_id)
        queue = [items[item_id] for item_id in edit.item_ids]
        retracted: Mapping[int, str] = {
            index: item.retraction_reason or ""
            for index, item in enumerate(queue)
            if item.retracted
        }
        indices = [edit.item_ids.index(item_id) for item_id in edit.message_items[edit.position]]
        if digest.retraction is Retraction.REMOVE:
            kept = [index for index in indices if index not in retracted]
            indices = kept or indices  # a message is never left without its items
        ref, now = split_key(edit.key, edit.created_at)
        return await asyncio.to_thread(
            self.renderer.render_part,
            [item.article for item in queue],
            digest,
            now=now,
            ref=ref,
            indices=indices,
            first=edit.position == 0,
            last=edit.position == len(edit.message_items) - 1,
            retracted=retracted,
            current=edit.payload,
        )
