"""What each ``newsbot`` command does: open the app, call the core, print the result.

``bot.cli`` parses the arguments and calls these; all printing of results happens here, on
standard output (errors are raised, and ``bot.cli.main`` prints them as one line).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import shutil
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.cli_text import deliveries_json, embed_text, show_json, show_lines
from bot.config import Settings
from bot.errors import NewsbotError, PathError

if TYPE_CHECKING:
    from bot.store import QueueItem

log = logging.getLogger(__name__)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


# --- ingest -------------------------------------------------------------------------------------
class _ProgressBar:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if total < 1_000 or not self.stream.isatty():
            return
        width = 30
        filled = width * done // total
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} files")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")


async def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_app
    from bot.ingest import ingest

    if "-" in args.paths and sys.stdin is None:  # started with <&-
        raise PathError("-", "standard input is closed; nothing was read")
    bar = _ProgressBar(sys.stderr)
    async with open_app(settings) as app:
        report = await ingest(
            app.store,
            args.paths,
            actor=_actor(),
            auto_approve=settings.auto_approve,
            stdin=sys.stdin.buffer if sys.stdin is not None else None,
            progress=bar,
            cluster=app.clusterer if args.cluster or settings.clustering.files else None,
        )
    bar.close()
    for line in report.errors + report.warnings:
        print(line, file=sys.stderr)
    print(report.summary)
    return 1 if report.rejected else 0


# --- queue --------------------------------------------------------------------------------------
def _item_json(item: Any) -> dict[str, Any]:
    article = item.article
    return {
        "id": item.id,
        "status": item.status.value,
        "title": article.title,
        "url": article.web_url,
        "provider": article.provider.name if article.provider else None,
        "quality": article.quality,
        "heat": article.heat,
        "topics": list(article.topics),
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "excerpt": article.excerpt,
        "related": [
            {
                "url": r.url,
                "title": r.title,
                "outlet": r.provider.name or r.provider.domain if r.provider else None,
            }
            for r in article.related
        ],
        "decided_by": item.decided_by,
        "reason": item.reason,
        "submitted_by": item.submitted_by,
        "source": article.origin or None,
        "corrected": item.corrected_at is not None,
        "corrected_at": item.corrected_at.isoformat() if item.corrected_at else None,
        "retracted": item.retracted,
        "retracted_at": item.retracted_at.isoformat() if item.retracted_at else None,
        "retraction_reason": item.retraction_reason,
    }


def _table(rows: Sequence[Sequence[str]], right: set[int], width: int) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    fixed = sum(widths[:-1]) + 2 * (len(widths) - 1)
    widths[-1] = max(20, min(widths[-1], width - fixed))
    lines = []
    for row in rows:
        cells = []
        for index, cell in enumerate(row):
            if index == len(row) - 1 and len(cell) > widths[index]:
                cell = cell[: widths[index] - 1] + "…"
            cells.append(cell.rjust(widths[index]) if index in right else cell.ljust(widths[index]))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


async def cmd_queue(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_app
    from bot.store import QueueQuery, Status

    query = QueueQuery(
        statuses=(Status(args.status),) if args.status else (),
        topic=args.topic,
        limit=args.limit,
        related=args.json,
    )
    async with open_app(settings) as app:
        items = await app.store.list_items(query)
        posted = await app.store.deliveries_of([item.id for item in items]) if args.json else {}
    if args.json:
        shown = [
            {**_item_json(item), "deliveries": deliveries_json(posted.get(item.id, []))}
            for item in items
        ]
        json.dump(shown, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not items:
        print("The queue is empty." if not args.status else f"No {args.status} items.")
        return 0
    rows = [["ID", "STATUS", "QUALITY", "HEAT", "PROVIDER", "TITLE"]]
    for item in items:
        article = item.article
        rows.append(
            [
                str(item.id),
                item.status.value,
                "" if article.quality is None else str(article.quality),
                "" if article.heat is None else str(article.heat),
                (article.provider.name if article.provider else "")[:24],
                article.title,
            ]
        )
    print(_table(rows, {0, 2, 3}, shutil.get_terminal_size((120, 24)).columns))
    return 0


# --- show ---------------------------------------------------------------------------------------
async def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_app

    digest = settings.digest_for(None)  # the template /news show renders with
    async with open_app(settings) as app:
        item = await app.store.get(args.id)
        audit = await app.store.audit(item.id)
        deliveries = await app.store.deliveries(item.id)
        # Off the event loop, as /news show does: an operator's template may take its budget.
        payload = await asyncio.to_thread(
            app.renderer.render_item, item.article, digest, now=app.clock.now()
        )
    if args.json:
        shown = show_json(_item_json(item), payload, audit, deliveries)
        json.dump(shown, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    template = f"channel {digest.channel}" if digest.channel else "the default digest"
    for line in show_lines(item, payload, audit, deliveries, template=template):
        print(line)
    return 0


# --- feeds --------------------------------------------------------------------------------------
async def cmd_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_app
    from bot.feeds.poll import fetch_feeds

    async with open_app(settings) as app:
        report = await fetch_feeds(
            settings, app.store, app.clock, cluster=app.clusterer, only=args.feed
        )
    for line in report.problems:
        print(line, file=sys.stderr)
    print(report.summary)
    return 1 if report.failed else 0


async def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_app
    from bot.feeds.registry import feed_statuses

    async with open_app(settings) as app:
        rows = [status.as_json() for status in await feed_statuses(settings, app.store)]
    if args.json:
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not rows:
        print("No feeds: add some under feeds: in the config, or with /feed add.")
        return 0
    table = [["FAILS", "ENTRIES", "LAST FETCH", "NEXT FETCH", "LAST STATUS", "URL"]]
    for row in rows:
        last, following = row["last_fetch"] or "never", row["next_fetch"] or "soon"
        status = (row["last_status"] or "")[:40]
        table.append([str(row["failures"]), str(row["entries"]), last[:16], following[:16]])
        table[-1] += [status, row["url"]]
    print(_table(table, {0, 1}, shutil.get_terminal_size((120, 24)).columns))
    return 0


# --- moderation ---------------------------------------------------------------------------------
async def _decide_each(
    command: str, ids: Sequence[int], decide: Callable[[int], Awaitable[QueueItem]]
) -> int:
    """Apply one decision to each id; a failing id is reported and the rest still proceed."""
    failures = 0
    for item_id in ids:
        try:
            item = await decide(item_id)
        except NewsbotError as exc:
            print(f"newsbot {command}: {exc}", file=sys.stderr)
            failures += 1
        else:
            print(f"{item.status.value} {item.id}: {item.article.title}")
    return failures


async def cmd_approve(args: argparse.Namespace, settings: Settings) -> int:
    from bot import moderation
    from bot.app import open_app

    if not args.ids and not args.all:
        print("newsbot approve: error: give item ids or --all", file=sys.stderr)
        return 2
    actor = _actor()
    async with open_app(settings) as app:
        if args.all:
            ids = await moderation.approve_all(app.store, actor=actor)
            print(f"approved {len(ids)} item{'s' if len(ids) != 1 else ''}")
        failures = await _decide_each(
            "approve", args.ids, lambda i: moderation.approve(app.store, i, actor=actor)
        )
    return 1 if failures else 0


async def cmd_reject(args: argparse.Namespace, settings: Settings) -> int:
    from bot import moderation
    from bot.app import open_app

    actor = _actor()
    async with open_app(settings) as app:
        failures = await _decide_each(
            "reject",
            args.ids,
            lambda i: moderation.reject(app.store, i, actor=actor, reason=args.reason),
        )
    return 1 if failures else 0


def _edits_note(count: int) -> str:
    """Where a change to a posted item goes: into the edits outbox, sent by the running bot
    (``newsbot run``) or the next ``newsbot publish``."""
    if not count:
        return "not posted anywhere: nothing to edit"
    return (
        f"{count} posted message{'s' if count != 1 else ''} queued for editing (sent by the"
        " running bot, or by the next `newsbot publish`)"
    )


async def cmd_retract(args: argparse.Namespace, settings: Settings) -> int:
    from bot import moderation
    from bot.app import open_app

    async with open_app(settings) as app:
        item = await moderation.retract(app.store, args.id, actor=_actor(), reason=args.reason)
        posted = len(await app.store.deliveries(item.id))
    print(f"retracted {item.id}: {item.article.title}; {_edits_note(posted)}")
    return 0


async def cmd_edit(args: argparse.Namespace, settings: Settings) -> int:
    from bot import moderation
    from bot.app import open_app

    async with open_app(settings) as app:
        item = await moderation.edit(
            app.store, args.id, actor=_actor(), title=args.title, excerpt=args.excerpt
        )
        posted = len(await app.store.deliveries(item.id))
    print(f"edited {item.id}: {item.article.title}; {_edits_note(posted)}")
    return 0


async def cmd_split(args: argparse.Namespace, settings: Settings) -> int:
    from bot import moderation
    from bot.app import open_app

    async with open_app(settings) as app:
        item = await moderation.split(app.store, args.id, args.url, actor=_actor())
    print(f"split {args.url} from item {args.id}: it is item {item.id} ({item.status.value})")
    return 0


# --- export -------------------------------------------------------------------------------------
async def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_app
    from bot.articles.export import check_export_folder, write_export
    from bot.store import QueueQuery, Status

    folder = Path(args.path)
    check_export_folder(folder)  # a file given as the folder: refused before the database opens
    query = QueueQuery(statuses=(Status(args.status),) if args.status else ())
    async with open_app(settings) as app:
        items = await app.store.list_items(query)
    await asyncio.to_thread(write_export, folder, items)
    print(f"exported {len(items)} item{'s' if len(items) != 1 else ''} to {folder}")
    return 0


# --- digests ------------------------------------------------------------------------------------
async def cmd_preview(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_app
    from bot.plan import plan_digest

    digest = settings.digest_for(args.channel)
    if args.template:
        digest = replace(digest, template=args.template)
    async with open_app(settings) as app:
        plan = await plan_digest(app.store, app.renderer, digest, app.clock.now(), limit=args.limit)
    if args.json:
        payload = {
            "channel": plan.channel,
            "items": [item.id for item in plan.items],
            "messages": [message.payload for message in plan.messages],
        }
        json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not plan.messages:
        print("Nothing to post: no approved items match this digest.")
        return 0
    total = len(plan.messages)
    target = f"channel {plan.channel}" if plan.channel else "the default digest"
    print(f"Digest for {target}: {len(plan.items)} items in {total} message(s)")
    for number, message in enumerate(plan.messages, 1):
        content = message.payload.get("content", "")
        embeds = message.payload.get("embeds", [])
        detail = f"{len(content):,} characters"
        if embeds:
            detail += f", {len(embeds)} embed{'s' if len(embeds) != 1 else ''}"
        print(f"\n===== message {number}/{total} ({detail}) =====")
        if content:
            print(content)
        for embed in embeds:
            print(embed_text(embed))
    return 0


async def cmd_check_templates(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ingest import find_files, parse_sources, read_sources
    from bot.render import Renderer

    articles, errors, _, _ = parse_sources(read_sources(list(find_files(args.seeds))), set())
    if not articles:
        # One line, naming the paths and the first reason (not a 'skipped:' line per file).
        why = f" ({errors[0]}{f'; {len(errors) - 1} more' if len(errors) > 1 else ''})"
        print(
            f"newsbot check-templates: error: no articles found in {' '.join(args.seeds)}"
            + (why if errors else ""),
            file=sys.stderr,
        )
        return 2
    for error in errors:
        print(f"skipped: {error}", file=sys.stderr)
    # Templates only: no database is opened (nor created) for this.
    digests = settings.digests or (settings.digest_for(None),)
    problems = Renderer(settings.templates).check(articles, list(digests), now=datetime.now(UTC))
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''}", file=sys.stderr)
        return 1
    print(f"all templates render {len(articles)} articles within Discord's limits")
    return 0
