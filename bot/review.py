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
    renderer: Renderer, item: QueueItem, digest: DigestChannel, *, now: datetime
) -> dict[str, Any]:
    """The review message for ``item`` in its current state, within Discord's limits."""
    header = f"**#{item.id}** · {_OUTCOME[item.status]}"
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
