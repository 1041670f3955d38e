"""The ``newsbot`` command: parse argv, open the app, call the core, print the result.

Every command accepts ``--config`` and ``--db``. Errors the operator can fix are printed as one
line (``newsbot: error: ...``) with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import shutil
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot import __version__
from bot.config import Settings, load_settings
from bot.errors import NewsbotError

if TYPE_CHECKING:
    from bot.discord_adapter.runner import PublishRun
    from bot.store import QueueItem

log = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


def setup_logging(verbosity: int) -> None:
    """One logging setup for the whole process, called from the entry point only."""
    level = logging.WARNING - 10 * min(verbosity, 2)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # discord.py is chatty at INFO; keep it at WARNING unless asked for debug output.
    logging.getLogger("discord").setLevel(max(level, logging.WARNING if verbosity < 2 else 0))


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _item_id(text: str) -> int:
    try:
        return _positive(text.lstrip("#"))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"not an item id: {text!r}") from None


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

    bar = _ProgressBar(sys.stderr)
    async with open_app(settings) as app:
        report = await ingest(
            app.store,
            args.paths,
            actor=_actor(),
            auto_approve_min_quality=settings.auto_approve_min_quality,
            stdin=sys.stdin.buffer,
            progress=bar,
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
        "decided_by": item.decided_by,
        "reason": item.reason,
        "submitted_by": item.submitted_by,
        "source": article.origin or None,
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
    )
    async with open_app(settings) as app:
        items = await app.store.list_items(query)
    if args.json:
        json.dump([_item_json(item) for item in items], sys.stdout, ensure_ascii=False, indent=2)
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


# --- feeds --------------------------------------------------------------------------------------
async def cmd_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_app
    from bot.feeds.poll import fetch_feeds

    async with open_app(settings) as app:
        report = await fetch_feeds(settings, app.store, app.clock, only=args.feed)
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


# --- export -------------------------------------------------------------------------------------
async def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_app
    from bot.articles.export import write_export
    from bot.store import QueueQuery, Status

    query = QueueQuery(statuses=(Status(args.status),) if args.status else ())
    async with open_app(settings) as app:
        items = await app.store.list_items(query)
    folder = Path(args.path)
    await asyncio.to_thread(write_export, folder, items)
    print(f"exported {len(items)} item{'s' if len(items) != 1 else ''} to {folder}")
    return 0


# --- digests ------------------------------------------------------------------------------------
async def cmd_preview(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_app
    from bot.publish import plan_digest

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
            print(_embed_text(embed))
    return 0


def _embed_text(embed: dict[str, Any]) -> str:
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


async def cmd_check_templates(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ingest import find_files, parse_sources, read_sources
    from bot.render import Renderer

    articles, errors, _, _ = parse_sources(read_sources(list(find_files(args.seeds))), set())
    for error in errors:
        print(f"skipped: {error}", file=sys.stderr)
    if not articles:
        print(f"newsbot check-templates: error: no articles found in {args.seeds}", file=sys.stderr)
        return 2
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


# --- argument parsing ---------------------------------------------------------------------------
def _common_options(defaults: bool) -> argparse.ArgumentParser:
    """``--config``, ``--db`` and ``-v``, accepted before and after the command. The copies
    after it have no defaults, so they never overwrite what was given before it."""
    common = argparse.ArgumentParser(add_help=False)
    given: dict[str, Any] = {} if defaults else {"default": argparse.SUPPRESS}
    common.add_argument(
        "--config", help="config file (default: $NEWSBOT_CONFIG or ./newsbot.yaml)", **given
    )
    common.add_argument(
        "--db", help="SQLite database file (default: $NEWSBOT_DB or newsbot.db)", **given
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        help="more logging (-vv for debug)",
        **({"default": 0} if defaults else given),
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(defaults=False)

    parser = argparse.ArgumentParser(
        prog="newsbot",
        description="A Discord newsletter publisher: a moderated queue of news articles, "
        "posted as digests on command or on a schedule.",
        parents=[_common_options(defaults=True)],
    )
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    statuses = ["pending", "approved", "rejected", "published"]

    p = add("ingest", cmd_ingest, "Store article files (front-matter documents) in the queue.")
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="files or folders (recursive); - for stdin"
    )

    p = add("queue", cmd_queue, "List the items in the queue.")
    p.add_argument("--status", choices=statuses, help="only items in this state")
    p.add_argument("--topic", help="only items with this topic")
    p.add_argument("--limit", type=_positive, help="at most this many items")
    p.add_argument("--json", action="store_true", help="print a JSON array")

    p = add("fetch", cmd_fetch, "Poll every feed once and store new articles (e.g. from cron).")
    p.add_argument("--feed", metavar="URL", help="only this feed")

    p = add("feeds", cmd_feeds, "List every feed with its state (last and next fetch, failures).")
    p.add_argument("--json", action="store_true", help="print a JSON array")

    p = add("approve", cmd_approve, "Approve pending items for the next digests.")
    p.add_argument("ids", nargs="*", type=_item_id, metavar="ID", help="item ids")
    p.add_argument("--all", action="store_true", help="approve every pending item")

    p = add("reject", cmd_reject, "Reject items so they are never posted.")
    p.add_argument("ids", nargs="+", type=_item_id, metavar="ID", help="item ids")
    p.add_argument("--reason", help="why (kept in the audit log)")

    p = add("export", cmd_export, "Write the queue back as front-matter files.")
    p.add_argument(
        "path",
        nargs="?",
        default="export",
        metavar="PATH",
        help="folder to write to (default: ./export)",
    )
    p.add_argument("--status", choices=statuses, help="only items in this state")

    p = add("preview", cmd_preview, "Print exactly the messages the next digest would post.")
    p.add_argument("--channel", type=_positive, help="a configured digest channel id")
    p.add_argument("--limit", type=_positive, help="at most this many items")
    p.add_argument("--template", help="render with this template instead of the channel's")
    p.add_argument("--json", action="store_true", help="print channel, items and payloads as JSON")

    p = add(
        "check-templates",
        cmd_check_templates,
        "Render every template against sample articles and report problems.",
    )
    p.add_argument(
        "--seeds",
        nargs="+",
        default=["seeds"],
        metavar="PATH",
        help="articles to render (default: ./seeds)",
    )

    _add_discord_commands(add)
    return parser


def publish_report(run: PublishRun) -> list[str]:
    """What ``newsbot publish`` prints: one line per channel, plain ``channel 123`` for the
    channel. What a crashed earlier run left half-sent and this run finished is reported too,
    so the operator sees it went out (the channel's own line then says what this run found
    new)."""
    from bot.publish import describe_result

    return [
        *(f"resumed: {describe_result(r, f'channel {r.channel}')}" for r in run.resumed),
        *(describe_result(r, f"channel {r.channel}") for r in run.results),
    ]


def _add_discord_commands(add: Callable[[str, Handler, str], argparse.ArgumentParser]) -> None:
    """Commands that talk to Discord; their modules import discord.py only when run."""

    async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
        from bot.discord_adapter.runner import run_bot

        await run_bot(settings)
        return 0

    async def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
        from bot.discord_adapter.runner import publish_once

        run = await publish_once(settings, args.channel)
        for line in publish_report(run):
            print(line)
        return 1 if run.failed else 0

    async def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
        from bot.discord_adapter.runner import sync_commands

        synced = await sync_commands(settings, globally=args.globally)
        where = (
            "globally (may take up to an hour to appear)"
            if args.globally
            else f"to guild {settings.guild}"
        )
        print(f"synced {synced} commands {where}")
        return 0

    async def cmd_schedules(args: argparse.Namespace, settings: Settings) -> int:
        from bot.app import open_app
        from bot.schedule.effective import describe_schedules

        async with open_app(settings) as app:
            for line in await describe_schedules(app.settings, app.store, app.clock.now()):
                print(line)
        return 0

    add("run", cmd_run, "Run the bot: gateway, slash commands, review channel and schedules.")
    p = add(
        "publish",
        cmd_publish,
        "Post the digest to a channel now over the REST API (no gateway), e.g. from cron.",
    )
    p.add_argument("--channel", type=_positive, help="digest channel id (default: all configured)")
    p = add("sync-commands", cmd_sync, "Register the slash commands with Discord.")
    p.add_argument(
        "--global",
        dest="globally",
        action="store_true",
        help="register globally (takes up to an hour) instead of in the configured guild",
    )
    add("schedules", cmd_schedules, "List each digest channel's schedule and next run.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = load_settings(args.config, args.db)
        code: int = asyncio.run(args.handler(args, settings))
        return code
    except NewsbotError as exc:
        # One write, so that a log line from a thread still winding down (aiosqlite's, with
        # -vv) cannot land between the message and its newline.
        sys.stderr.write(f"newsbot: error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
