"""The review channel: the feed that posts each pending item there once, and the Approve /
Reject buttons (with the modal asking for a reject reason) on those posts.

The buttons are ``DynamicItem``s with ids like ``newsbot:review:approve:42``: discord.py
matches them by pattern, so buttons posted before a restart keep working and their state
comes from the store, not from memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from datetime import datetime, timedelta
from typing import Any

import discord
from discord.ext import commands

from bot import moderation
from bot.clock import Clock
from bot.config import Settings
from bot.discord_adapter.ids import (
    REVIEW_BUTTON_ID,
    STANDING_NONCE,
    actor_of,
    reject_reason_id,
    review_button_id,
    review_button_item,
    review_nonce,
)
from bot.discord_adapter.payloads import NO_MENTIONS, message_kwargs
from bot.discord_adapter.permissions import require_moderator
from bot.discord_adapter.tree import handle_interaction_error
from bot.moderation import MAX_REASON
from bot.render import Renderer
from bot.review import STANDING_MARK, review_payload, standing_text
from bot.store import QueueItem, Status, Store

log = logging.getLogger(__name__)

REVIEW_BATCH = 20
REVIEW_HISTORY = 50
"""Messages of the review channel read at start for posts whose record was lost."""
HOUR = timedelta(hours=1)
STANDING = "review-standing"
"""The store's name for the review channel's standing message."""


async def decide(
    store: Store, item_id: int, action: str, user: discord.abc.User, reason: str | None = None
) -> QueueItem:
    """Approve or reject on behalf of a Discord user (commands and buttons alike)."""
    actor = actor_of(user)
    if action == "approve":
        item = await moderation.approve(store, item_id, actor=actor)
    else:
        item = await moderation.reject(store, item_id, actor=actor, reason=reason)
    log.info("item %d %s by %s", item_id, item.status.value, actor)
    return item


class ReviewFeed(commands.Cog):
    """Posts each new pending item to the review channel once, whoever queued it (ingest in
    another process, /news submit, or items found at start), and keeps those posts current.

    Its task starts with the cog but waits for ``serving``: the bot sets it once its start-up
    checks passed and unfinished digests were resumed, so a REST-only client (``newsbot
    publish``) never posts reviews. Without ``serving`` (a gateway or a worker), nothing starts
    it but :meth:`run`: a worker runs it while it holds the review duty.
    """

    def __init__(
        self,
        client: discord.Client,
        settings: Settings,
        store: Store,
        renderer: Renderer,
        clock: Clock,
        *,
        serving: asyncio.Event | None,
        poll: timedelta = timedelta(seconds=10),
    ) -> None:
        self.client = client
        self.settings = settings
        self.store = store
        self.renderer = renderer
        self.clock = clock
        self.serving = serving
        self.poll = poll
        self._wakeup = asyncio.Event()
        self._history_read = False
        self._standing_text: str | None = None  # as last posted or edited by this process
        self._task: asyncio.Task[None] | None = None

    @property
    def posts(self) -> bool:
        """Whether the settings ask for review posts at all."""
        return self.settings.review_channel is not None and self.settings.review_feed == "items"

    async def cog_load(self) -> None:
        if self.posts and self.serving is not None:
            self._task = asyncio.create_task(self._run(), name="review feed")

    async def cog_unload(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Post new pending items now instead of at the next poll."""
        self._wakeup.set()

    async def _run(self) -> None:
        assert self.serving is not None
        await self.serving.wait()
        await self.run()

    async def run(self) -> None:
        """Post and keep posts current until cancelled. The bot starts it (with ``serving``),
        or a worker while it holds the review duty (``serving`` None)."""
        while True:
            refill: datetime | None = None
            try:
                refill = await self.post_pending()
            except Exception:
                log.exception("review feed iteration failed; will retry")
            self._wakeup.clear()
            await self._wait(refill)

    async def _wait(self, refill: datetime | None) -> None:
        """Until a wake-up, the next poll (items queued by another process), or, when this
        hour's posts are used up, the injected clock's time at which one is free again."""
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._wakeup.wait())]
        if refill is not None:
            waits.append(asyncio.ensure_future(self.clock.sleep_until(refill)))
        try:
            await asyncio.wait(
                waits, timeout=self.poll.total_seconds(), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def post_pending(self) -> datetime | None:
        """Post pending items not yet posted, highest quality first, at most
        ``review_feed_max`` in any hour; keep the standing message current. Returns when the
        next post is allowed if the hour's posts are used up (None otherwise)."""
        channel_id = self.settings.review_channel
        if channel_id is None or self.settings.review_feed != "items":
            return None
        per_hour = self.settings.review_feed_max
        while True:
            recent = await self.store.review_posts_since(self.clock.now() - HOUR)
            room = per_hour - len(recent)
            if room <= 0:
                await self._update_standing(channel_id)
                return recent[-per_hour] + HOUR  # when the oldest post counted leaves the hour
            items = await self.store.unreviewed_pending(min(REVIEW_BATCH, room))
            if not items:
                await self._update_standing(channel_id)
                return None
            if not self._history_read:
                # Set once it worked: a dropped connection or a database error ends this pass
                # (the feed retries it), and posting without the look would post again.
                items = await self._adopt_posts(channel_id, items)
                self._history_read = True
            channel = self.client.get_partial_messageable(channel_id)
            for item in items:
                # A nonce of the item's own (with discord.py's enforce_nonce): when the answer
                # to a post is lost (a dropped connection after Discord stored it), the next
                # iteration's retry gets the stored message back instead of posting it twice.
                message = await channel.send(
                    view=review_view(item),
                    nonce=review_nonce(item.id),
                    **message_kwargs(await self.payload(item)),
                )
                await self.store.record_review_post(item.id, channel_id, message.id)

    async def _update_standing(self, channel_id: int) -> None:
        """Post the standing message once, then edit it when its count changes."""
        waiting = await self.store.count_unreviewed_pending()
        text = standing_text(waiting, self.settings.review_feed_max)
        if text == self._standing_text:
            return
        channel = self.client.get_partial_messageable(channel_id)
        record = await self.store.bot_message(STANDING)
        mine = record is not None and record.channel_id == channel_id
        if not mine and not waiting:
            return  # nothing waits beyond the posts: no message needed yet
        if record is not None and mine:
            try:
                await channel.get_partial_message(record.message_id).edit(
                    content=text, allowed_mentions=NO_MENTIONS
                )
                self._standing_text = text
                return
            except discord.NotFound:
                log.info("the review channel's standing message was deleted; posting it again")
        elif (found := await self._find_standing(channel)) is not None:
            # Posted before a restart whose record was lost: adopt it, never post a second one.
            await self.store.set_bot_message(STANDING, channel_id, found)
            self._standing_text = None
            return await self._update_standing(channel_id)
        message = await channel.send(
            content=text, nonce=STANDING_NONCE, allowed_mentions=NO_MENTIONS
        )
        await self.store.set_bot_message(STANDING, channel_id, message.id)
        self._standing_text = text

    async def _find_standing(self, channel: discord.PartialMessageable) -> int | None:
        me = self.client.user.id if self.client.user else None
        try:
            async for message in channel.history(limit=REVIEW_HISTORY):
                if message.author.id == me and message.content.startswith(STANDING_MARK):
                    return message.id
        except discord.HTTPException as exc:
            log.warning("could not look for the review channel's standing message (%s)", exc)
        return None

    async def _adopt_posts(self, channel_id: int, items: list[QueueItem]) -> list[QueueItem]:
        """``items`` without those already posted: a post whose record was lost (newsbot
        stopped between posting and recording it) is found in the channel's recent history and
        recorded instead. The post's nonce covers this only for a few minutes; a restart can
        come later."""
        wanted = {item.id for item in items}
        found: dict[int, int] = {}
        channel = self.client.get_partial_messageable(channel_id)
        me = self.client.user.id if self.client.user else None
        try:
            async for message in channel.history(limit=REVIEW_HISTORY):
                if message.author.id != me:
                    continue
                for row in message.components:
                    for child in getattr(row, "children", ()):
                        item_id = review_button_item(getattr(child, "custom_id", None))
                        if item_id in wanted:
                            found.setdefault(item_id, message.id)
        except discord.HTTPException as exc:
            log.warning(
                "could not read the review channel's history (%s); a review post whose record"
                " was lost before a restart may be posted again",
                exc,
            )
            return items
        for item_id, message_id in found.items():
            await self.store.record_review_post(item_id, channel_id, message_id)
            log.info(
                "item %d: its review post %d was already made; recorded it", item_id, message_id
            )
        return [item for item in items if item.id not in found]

    async def payload(self, item: QueueItem, *, lead: str = "") -> dict[str, Any]:
        """The item's review message in its current state (also what ``/news show`` and the
        review deck show, the deck with its ``lead`` line)."""
        # Off the event loop: an operator's template may take its whole time budget.
        return await asyncio.to_thread(
            review_payload,
            self.renderer,
            item,
            self.settings.digest_for(None),
            now=self.clock.now(),
            lead=lead,
        )

    async def refresh(self, item: QueueItem) -> None:
        """Edit the item's review message (if any) to show its new state."""
        post = await self.store.review_post(item.id)
        if post is None:
            return
        channel = self.client.get_partial_messageable(post.channel_id)
        message = channel.get_partial_message(post.message_id)
        view = review_view(item) if item.status is Status.PENDING else None
        try:
            await message.edit(view=view, **message_kwargs(await self.payload(item)))
        except discord.HTTPException as exc:
            log.warning("could not update review message %d: %s", post.message_id, exc)


def review_feed(interaction: discord.Interaction[Any]) -> ReviewFeed:
    """The bot's review feed: discord.py rebuilds a clicked button from its custom id alone,
    so what it acts through is found in the client's cog registry."""
    client = interaction.client
    feed = client.get_cog(ReviewFeed.__cog_name__) if isinstance(client, commands.Bot) else None
    if not isinstance(feed, ReviewFeed):
        raise RuntimeError("a review button was clicked but the review feed is not loaded")
    return feed


class ReviewButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=REVIEW_BUTTON_ID,
):
    def __init__(self, action: str, item_id: int) -> None:
        approve = action == "approve"
        super().__init__(
            discord.ui.Button(
                label="Approve" if approve else "Reject",
                style=discord.ButtonStyle.success if approve else discord.ButtonStyle.danger,
                custom_id=review_button_id(action, item_id),
            )
        )
        self.action = action
        self.item_id = item_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> ReviewButton:
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            feed = review_feed(interaction)
            verb = "approve items" if self.action == "approve" else "reject items"
            require_moderator(interaction, feed.settings, verb)
            if self.action == "reject":
                await interaction.response.send_modal(RejectModal(feed, self.item_id))
                return
            item = await decide(feed.store, self.item_id, "approve", interaction.user)
            await interaction.response.edit_message(
                view=None, **message_kwargs(await feed.payload(item))
            )
        except Exception as exc:  # one error path for every interaction
            await handle_interaction_error(interaction, exc)


def reason_input() -> discord.ui.TextInput[Any]:
    """The reject-reason field of the review and deck modals."""
    return discord.ui.TextInput(
        label="Reason (kept in the audit log)",
        style=discord.TextStyle.paragraph,
        max_length=MAX_REASON,
        required=False,
    )


class RejectModal(discord.ui.Modal, title="Reject item"):
    reason: discord.ui.TextInput[RejectModal] = reason_input()

    def __init__(self, feed: ReviewFeed, item_id: int) -> None:
        super().__init__(custom_id=reject_reason_id(item_id))
        self.feed = feed
        self.item_id = item_id

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        feed = self.feed
        require_moderator(interaction, feed.settings, "reject items")
        item = await decide(feed.store, self.item_id, "reject", interaction.user, self.reason.value)
        if interaction.message is not None:
            await interaction.response.edit_message(
                view=None, **message_kwargs(await feed.payload(item))
            )
        else:
            await interaction.response.send_message(f"Rejected item {item.id}.", ephemeral=True)
            await feed.refresh(item)

    # Modal's own on_error narrows BaseView's signature; matching Modal's is what discord.py calls.
    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[Any], error: Exception
    ) -> None:
        await handle_interaction_error(interaction, error)


def review_view(item: QueueItem) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ReviewButton("approve", item.id))
    view.add_item(ReviewButton("reject", item.id))
    return view
