"""The review deck (``/news review``): one ephemeral message that shows the next pending item
as it would post, with Approve, Reject (a reason modal), Skip and Trust outlet. Each click
edits the same message to the next item.

The buttons are ``DynamicItem``s whose custom id carries the whole deck (the action, the item
on show and the filters, see ``bot.discord_adapter.ids.DeckState``), so a deck opened before a
restart keeps working, and every step reads the store afresh: two moderators on one queue
never act on a stale card, and the one who comes second is told what happened.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot import moderation
from bot.discord_adapter.ids import (
    DECK_BUTTON_ID,
    DeckState,
    actor_of,
    deck_button_id,
    deck_reject_id,
    deck_state,
)
from bot.discord_adapter.payloads import NO_MENTIONS, message_kwargs
from bot.discord_adapter.permissions import require_moderator
from bot.discord_adapter.review import ReviewFeed, decide, reason_input, review_feed
from bot.discord_adapter.tree import handle_interaction_error
from bot.errors import InvalidTransition, NotFound
from bot.feeds.registry import all_feeds
from bot.review import DECK_COUNT_CAP, deck_end, deck_lead
from bot.store import QueueItem

log = logging.getLogger(__name__)

_LABELS = {
    "approve": ("Approve", discord.ButtonStyle.success),
    "reject": ("Reject", discord.ButtonStyle.danger),
    "skip": ("Skip", discord.ButtonStyle.secondary),
    "trust": ("Trust outlet", discord.ButtonStyle.primary),
    "restart": ("Start over", discord.ButtonStyle.secondary),
}
_VERBS = {
    "approve": "approve items",
    "reject": "reject items",
    "skip": "review items",
    "trust": "trust outlets",
    "restart": "review items",
}


async def deck_message(
    feed: ReviewFeed, state: DeckState, note: str | None = None
) -> dict[str, Any]:
    """The deck's message after ``state.item_id``: the next pending item matching the
    filters, or the end card. Keyword arguments for ``send_message``/``edit_message``."""
    store = feed.store
    origins = await feed_origins(feed, state.feed)
    item = await store.next_pending(after=state.item_id, topic=state.topic, origins=origins)
    if item is None:
        left = await store.count_pending(topic=state.topic, origins=origins, limit=1)
        view: discord.ui.View | None = None
        if left and state.item_id:
            # Skipped items are still pending, before the cursor: offer to go round again.
            view = discord.ui.View(timeout=None)
            view.add_item(DeckButton("restart", DeckState(0, state.topic, state.feed)))
        return {
            "content": deck_end(state.topic, state.item_id, note, state.feed),
            "embeds": [],
            "allowed_mentions": NO_MENTIONS,
            "view": view,
        }
    remaining = await store.count_pending(topic=state.topic, origins=origins, limit=DECK_COUNT_CAP)
    lead = deck_lead(remaining, state.topic, state.feed, note)
    payload = await feed.payload(item, lead=lead)
    return {**message_kwargs(payload), "view": deck_view(item, state)}


async def feed_origins(feed: ReviewFeed, text: str | None) -> tuple[str, ...] | None:
    """The feeds a deck's ``feed`` filter names: every feed (config or added) whose address
    contains the text, case-insensitively (``reuters.com`` or a whole URL); None: no filter."""
    if not text:
        return None
    wanted = text.lower()
    feeds = await all_feeds(feed.settings, feed.store)
    return tuple(f.url for f in feeds if wanted in f.url.lower())


def deck_view(item: QueueItem, state: DeckState) -> discord.ui.View:
    here = DeckState(item.id, state.topic, state.feed)
    view = discord.ui.View(timeout=None)
    for action in ("approve", "reject", "skip", "trust"):
        button = DeckButton(action, here)
        if action == "trust" and moderation.outlet_of(item) is None:
            button.item.disabled = True
        view.add_item(button)
    return view


class DeckButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=DECK_BUTTON_ID):
    def __init__(self, action: str, state: DeckState) -> None:
        label, style = _LABELS[action]
        super().__init__(
            discord.ui.Button(label=label, style=style, custom_id=deck_button_id(action, state))
        )
        self.action = action
        self.state = state

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> DeckButton:
        return cls(match["action"], deck_state(match))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            feed = review_feed(interaction)
            require_moderator(interaction, feed.settings, _VERBS[self.action])
            if self.action == "reject":
                await interaction.response.send_modal(DeckRejectModal(feed, self.state))
                return
            note, decided = await self._act(feed, interaction.user)
            after = 0 if self.action == "restart" else self.state.item_id
            message = await deck_message(feed, DeckState(after, *self._filters), note)
            await interaction.response.edit_message(**message)
            if decided is not None:
                await feed.refresh(decided)
        except Exception as exc:  # one error path for every interaction
            await handle_interaction_error(interaction, exc)

    @property
    def _filters(self) -> tuple[str | None, str | None]:
        return self.state.topic, self.state.feed

    async def _act(
        self, feed: ReviewFeed, user: discord.abc.User
    ) -> tuple[str | None, QueueItem | None]:
        """Do the click's decision; the note the next card shows, and the item decided."""
        item_id = self.state.item_id
        try:
            if self.action == "approve":
                return f"✅ Approved #{item_id}.", await decide(
                    feed.store, item_id, "approve", user
                )
            if self.action == "trust":
                item, outlet, added = await moderation.trust_outlet(
                    feed.store, item_id, actor=actor_of(user)
                )
                log.info("outlet %s trusted by %s", outlet, actor_of(user))
                known = "now trusted" if added else "was already trusted"
                return f"🤝 {outlet} {known}: its new items are approved as they arrive." + (
                    f" Approved #{item_id}."
                ), item
        except InvalidTransition as exc:
            # Another moderator (or the policy) got there first: say so and move on.
            return f"ℹ️ #{item_id} was already {exc.current}; nothing changed.", None
        except NotFound:
            return f"ℹ️ #{item_id} no longer exists.", None
        if self.action == "skip":
            return f"⏭️ Skipped #{item_id}.", None
        return None, None


class DeckRejectModal(discord.ui.Modal, title="Reject item"):
    reason: discord.ui.TextInput[DeckRejectModal] = reason_input()

    def __init__(self, feed: ReviewFeed, state: DeckState) -> None:
        super().__init__(custom_id=deck_reject_id(state))
        self.feed = feed
        self.state = state

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        feed, item_id = self.feed, self.state.item_id
        require_moderator(interaction, feed.settings, "reject items")
        decided: QueueItem | None = None
        try:
            decided = await decide(
                feed.store, item_id, "reject", interaction.user, self.reason.value
            )
            note = f"❌ Rejected #{item_id}."
        except InvalidTransition as exc:
            note = f"ℹ️ #{item_id} was already {exc.current}; nothing changed."
        message = await deck_message(feed, self.state, note)
        if interaction.message is not None:
            await interaction.response.edit_message(**message)
        else:
            await interaction.response.send_message(ephemeral=True, **message)
        if decided is not None:
            await feed.refresh(decided)

    # Modal's own on_error narrows BaseView's signature; matching Modal's is what discord.py calls.
    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[Any], error: Exception
    ) -> None:
        await handle_interaction_error(interaction, error)
