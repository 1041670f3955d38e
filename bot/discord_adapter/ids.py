"""The names newsbot gives Discord: custom ids of its components, nonces, audit actors.

They outlive a process (a button posted last week is clicked today, a nonce is compared with
one sent before a crash), so each format is written once, here.
"""

from __future__ import annotations

import re

import discord

from bot.render.pack import NOTIFY_BUTTON_ID

__all__ = ["NOTIFY_BUTTON_ID"]  # the digest's notify buttons; the core builds their payload

REVIEW_BUTTON_ID = r"newsbot:review:(?P<action>approve|reject):(?P<id>[0-9]{1,19})"
"""The custom id of a review message's Approve and Reject buttons (a DynamicItem template)."""
_REVIEW_BUTTON = re.compile(REVIEW_BUTTON_ID)


def review_button_id(action: str, item_id: int) -> str:
    return f"newsbot:review:{action}:{item_id}"


def review_button_item(custom_id: str | None) -> int | None:
    """The item a review button acts on; None for any other component."""
    match = _REVIEW_BUTTON.fullmatch(custom_id or "")
    return int(match["id"]) if match else None


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
