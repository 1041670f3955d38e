"""The names newsbot gives Discord: custom ids of its components, nonces, audit actors.

They outlive a process (a button posted last week is clicked today, a nonce is compared with
one sent before a crash), so each format is written once, here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

import discord

from bot.errors import OptionTooLong
from bot.render.pack import NOTIFY_BUTTON_ID

__all__ = ["NOTIFY_BUTTON_ID"]  # the digest notify buttons; the core builds their payload

REVIEW_BUTTON_ID = r"newsbot:review:(?P<action>approve|reject):(?P<id>[0-9]{1,19})"
"""The custom id of a review message's Approve and Reject buttons (a DynamicItem template)."""
_REVIEW_BUTTON = re.compile(REVIEW_BUTTON_ID)


def review_button_id(action: str, item_id: int) -> str:
    return f"newsbot:review:{action}:{item_id}"


def review_button_item(custom_id: str | None) -> int | None:
    """The item a review button acts on; None for any other component."""
    match = _REVIEW_BUTTON.fullmatch(custom_id or "")
    return int(match["id"]) if match else None


DRAFT_BUTTON_ID = (
    r"newsbot:draft:(?P<action>approve|skip|refresh):(?P<id>[0-9]{1,19}):(?P<version>[0-9]{1,9})"
)
"""A draft digest's buttons: the action, the draft and the version it was shown at, so a click
on an outdated control is told rather than applied."""
DRAFT_SELECT_ID = r"newsbot:draft:drop:(?P<id>[0-9]{1,19}):(?P<version>[0-9]{1,9})"
"""A draft digest's drop menu (its own template: discord.py keys dynamic items by it)."""


def draft_control_id(action: str, draft_id: int, version: int) -> str:
    return f"newsbot:draft:{action}:{draft_id}:{version}"


def draft_nonce(draft_id: int, version: int) -> str:
    """The nonce of a draft's control message: showing it twice within Discord's nonce window
    (a restart between posting and recording) gives one message."""
    return f"draft-{draft_id}-{version}"


DECK_ACTIONS = ("approve", "reject", "skip", "trust", "restart")
DECK_BUTTON_ID = (
    r"newsbot:deck:(?P<action>approve|reject|skip|trust|restart):(?P<id>[0-9]{1,19})"
    r":(?P<topic>[^:]*):(?P<feed>[^:]*)"
)
"""The review deck's buttons: the action, the item shown (or the last one passed, for
``restart`` 0) and the deck's filters, so a click after a restart knows the whole deck."""
_DECK_BUTTON = re.compile(DECK_BUTTON_ID)
CUSTOM_ID_MAX = 100


@dataclass(frozen=True, slots=True)
class DeckState:
    """Where a review deck stands: its filters and the item on show (0: before the first)."""

    item_id: int = 0
    topic: str | None = None
    feed: str | None = None


def deck_button_id(action: str, state: DeckState) -> str:
    """The custom id of a deck button; filters are percent-encoded (no ``:`` inside)."""
    topic = quote(state.topic or "", safe="")
    feed = quote(state.feed or "", safe="")
    custom_id = f"newsbot:deck:{action}:{state.item_id}:{topic}:{feed}"
    if len(custom_id) > CUSTOM_ID_MAX:
        room = CUSTOM_ID_MAX - len(f"newsbot:deck:{action}:{state.item_id}::")
        raise OptionTooLong(
            f"topic and feed are too long for the deck's buttons ({len(topic) + len(feed)}"
            f" characters once encoded; at most {room})"
        )
    return custom_id


def check_deck_filters(topic: str | None, feed: str | None) -> None:
    """Raise OptionTooLong unless these filters fit every deck button, whatever its item."""
    deck_button_id("restart", DeckState(10**19 - 1, topic, feed))


def parse_deck_button(custom_id: str) -> tuple[str, DeckState] | None:
    """A deck button's action and deck; None for any other component."""
    match = _DECK_BUTTON.fullmatch(custom_id)
    if match is None:
        return None
    return match["action"], deck_state(match)


def deck_state(match: re.Match[str]) -> DeckState:
    return DeckState(
        item_id=int(match["id"]),
        topic=unquote(match["topic"]) or None,
        feed=unquote(match["feed"]) or None,
    )


def deck_reject_id(state: DeckState) -> str:
    """The custom id of the deck's reject-reason modal."""
    return f"newsbot:deck-reject:{state.item_id}"


STANDING_NONCE = "nbrvstanding"
"""The nonce of the review channel's standing message ("N more wait")."""


def reject_reason_id(item_id: int) -> str:
    """The custom id of the modal that asks why an item is rejected."""
    return f"newsbot:reject-reason:{item_id}"


def review_nonce(item_id: int) -> str:
    """The nonce of an item's review post (at most 25 characters; digest parts use
    ``nb<ref>.<n>``, which always has a dot)."""
    return f"nbrv{item_id}"


def actor_of(user: discord.abc.User) -> str:
    """How a Discord user is recorded in the audit log (``bot.review.display_actor`` reads it
    back)."""
    return f"discord:{user.id}:{user.name}"
