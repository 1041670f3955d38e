"""Text forms of core records for the terminal (``newsbot show``, ``newsbot preview``).

The core returns records; the CLI's edge turns them into lines here, kept apart from
``bot.cli`` so the command module stays about arguments and calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: `newsbot --help` need not load the store
    from bot.store import AuditEntry, Delivery, QueueItem


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def embed_text(embed: dict[str, Any]) -> str:
    """A plain-text rendering of an embed for the terminal."""
    lines = ["┌─ embed"]
    if "author" in embed:
        lines.append(f"│ {embed['author'].get('name', '')}")
    if "title" in embed:
        lines.append(f"│ {embed['title']}" + (f"  <{embed['url']}>" if "url" in embed else ""))
    for line in embed.get("description", "").splitlines():
        lines.append(f"│ {line}")
    for item in embed.get("fields", []):
        lines.append(f"│ {item['name']}:")
        lines.extend(f"│   {line}" for line in item["value"].splitlines())
    if "thumbnail" in embed:
        lines.append(f"│ thumbnail: {embed['thumbnail'].get('url', '')}")
    if "footer" in embed:
        lines.append(f"│ {embed['footer'].get('text', '')}")
    if "timestamp" in embed:
        lines.append(f"│ {embed['timestamp']}")
    lines.append("└─")
    return "\n".join(lines)


def history_lines(audit: Sequence[AuditEntry], deliveries: Sequence[Delivery]) -> list[str]:
    """The item's life in time order: each audited change, and each channel it went to."""
    events: list[tuple[datetime, int, str]] = []
    for entry in audit:
        change = ""
        if entry.to_status:
            change = f"{entry.from_status + ' ' if entry.from_status else ''}-> {entry.to_status}"
        line = f"{when(entry.at)}  {entry.action:<10} {entry.actor:<24} {change}".rstrip()
        if entry.reason:
            line += f"  ({entry.reason})"
        events.append((entry.at, 0, line))
    for delivery in deliveries:
        digest = f", digest {delivery.digest_id}" if delivery.digest_id is not None else ""
        where = f"channel {delivery.channel_id}, message {delivery.message_id}{digest}"
        events.append(
            (delivery.delivered_at, 1, f"{when(delivery.delivered_at)}  delivered  {where}")
        )
    return [line for _, _, line in sorted(events, key=lambda e: (e[0], e[1]))]


def show_lines(
    item: QueueItem,
    payload: dict[str, Any],
    audit: Sequence[AuditEntry],
    deliveries: Sequence[Delivery],
    *,
    template: str,
) -> list[str]:
    """``newsbot show``: the item's state and fields, the message it renders to with
    ``template`` (which digest's), and its history."""
    article = item.article
    state = item.status.value
    if item.decided_by:
        state += f" by {item.decided_by} at {when(item.decided_at)}"
    if item.reason:
        state += f": {item.reason}"
    fields = [
        ("title", article.title),
        ("url", article.web_url),
        ("provider", article.provider.name if article.provider else ""),
        ("published", article.published_at.isoformat() if article.published_at else ""),
        ("topics", ", ".join(article.topics)),
        ("quality", "" if article.quality is None else str(article.quality)),
        ("heat", "" if article.heat is None else str(article.heat)),
        ("suggested by", item.submitted_by or ""),
        (
            "retracted",
            f"{when(item.retracted_at)}: {item.retraction_reason}" if item.retracted else "",
        ),
        ("corrected", when(item.corrected_at) if item.corrected_at else ""),
    ]
    lines = [f"#{item.id} · {state}"]
    lines.extend(f"{name + ':':<14}{value}" for name, value in fields if value)
    content = str(payload.get("content") or "")
    lines.append(f"\n===== as {template} shows it ({len(content):,} characters) =====")
    if content:
        lines.append(content)
    lines.extend(embed_text(embed) for embed in payload.get("embeds", []))
    lines.append("\n===== history =====")
    lines.extend(history_lines(audit, deliveries))
    return lines


def show_json(
    item: dict[str, Any],
    payload: dict[str, Any],
    audit: Sequence[AuditEntry],
    deliveries: Sequence[Delivery],
) -> dict[str, Any]:
    """``newsbot show --json``: the item as ``queue --json`` gives it, with the message
    payload it renders to, its audit history and its deliveries."""
    return {
        **item,
        "payload": payload,
        "history": [
            {
                "at": e.at.isoformat(),
                "action": e.action,
                "actor": e.actor,
                "from": e.from_status,
                "to": e.to_status,
                "reason": e.reason,
            }
            for e in audit
        ],
        "deliveries": deliveries_json(deliveries),
    }


def deliveries_json(deliveries: Sequence[Delivery]) -> list[dict[str, Any]]:
    """Where an item was published, for ``queue --json`` and ``show --json``."""
    return [
        {
            "channel": d.channel_id,
            "message": d.message_id,
            "digest": d.digest_id,
            "at": d.delivered_at.isoformat(),
        }
        for d in deliveries
    ]
