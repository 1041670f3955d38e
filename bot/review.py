"""What moderators see in the review channel: the item as it would be posted, who suggested
it, and, once decided, the outcome and who decided."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.config import DigestChannel
from bot.limits import CONTENT_MAX, length
from bot.render import Renderer, allowed_mentions
from bot.render.escape import escape_markdown
from bot.store import QueueItem, Status

_OUTCOME = {
    Status.PENDING: "⏳ waiting for review",
    Status.APPROVED: "✅ approved",
    Status.REJECTED: "❌ rejected",
    Status.PUBLISHED: "📰 published",
}


def display_actor(actor: str | None) -> str:
    """``discord:ID:name`` → a user mention (shown, never pinged); anything else escaped."""
    if not actor:
        return "someone"
    if actor.startswith("discord:"):
        user_id = actor.split(":")[1]
        if user_id.isdigit():
            return f"<@{user_id}>"
    return escape_markdown(actor)


def review_payload(
    renderer: Renderer,
    item: QueueItem,
    digest: DigestChannel,
    *,
    now: datetime,
    lead: str = "",
) -> dict[str, Any]:
    """The review message for ``item`` in its current state, within Discord's limits;
    ``lead`` is a first line above it (the deck's position and filters)."""
    header = f"{lead}\n" if lead else ""
    header += f"**#{item.id}** · {_OUTCOME[item.status]}"
    if item.status is not Status.PENDING and item.decided_by:
        header += f" by {display_actor(item.decided_by)}"
    if item.status is Status.REJECTED and item.reason:
        header += f": {escape_markdown(item.reason)}"
    if item.submitted_by:
        header += f" · suggested by {display_actor(item.submitted_by)}"
    payload = dict(renderer.render_item(item.article, digest, now=now))
    body = str(payload.get("content") or "")
    room = CONTENT_MAX - length(header) - 2
    while length(body) > room:
        # Drop whole trailing lines (never half a link) until the header fits.
        cut = body.rfind("\n", 0, min(len(body) - 1, room))
        body = body[: max(cut, 0)].rstrip() + "\n…" if cut > 0 else ""
    payload["content"] = f"{header}\n{body}".rstrip()
    payload["allowed_mentions"] = allowed_mentions()
    return payload


DECK_COUNT_CAP = 1_000
"""The deck counts what is left up to this ("1,000+"): exact counts of a topic over a million
rows would cost each step its time budget."""


def deck_lead(remaining: int, topic: str | None, feed: str | None, note: str | None = None) -> str:
    """The deck's first line: how many pending items match, the filters, what just happened."""
    count = f"{DECK_COUNT_CAP:,}+" if remaining >= DECK_COUNT_CAP else f"{remaining:,}"
    parts = [f"🗂️ **Review deck** · {count} pending"]
    if topic:
        parts.append(f"topic {escape_markdown(topic)}")
    if feed:
        parts.append(f"feed {escape_markdown(feed)}")
    line = " · ".join(parts)
    return f"{line}\n{note}" if note else line


def deck_end(
    topic: str | None, after: int, note: str | None = None, feed: str | None = None
) -> str:
    """The deck's last card: nothing pending after the item last shown."""
    which = f" with topic {escape_markdown(topic)}" if topic else ""
    if feed:
        which += f" from feed {escape_markdown(feed)}"
    text = (
        f"✅ No more pending items{which} after #{after}."
        if after
        else (f"✅ No pending items{which}.")
    )
    return f"{note}\n{text}" if note else text


STANDING_MARK = "📥"
"""The review channel's standing message starts with this (found again after a restart)."""


def standing_text(waiting: int, per_hour: int) -> str:
    """The review channel's standing message: how many pending items were not posted here."""
    if waiting <= 0:
        return f"{STANDING_MARK} Every pending item has been posted here for review."
    items = "item waits" if waiting == 1 else "items wait"
    return (
        f"{STANDING_MARK} **{waiting:,}** more pending {items} beyond the {per_hour} posted here"
        " each hour (highest quality first). Go through them with `/news review`."
    )
