"""The ``newsbot`` command: parse argv, open the app, call the core, print the result.

Every command accepts ``--config`` and ``--db``. Errors the operator can fix are printed as one
line (``newsbot: error: ...``) with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import shutil
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from bot import __version__
from bot.cli_output import (
    PIPE_CLOSED_STATUS,
    NoVoiceWarnings,
    OutputFailed,
    discard_output,
    guarded_stdout,
    write_stderr,
)
from bot.cli_text import embed_text, show_json, show_lines
from bot.config import Settings, load_settings
from bot.errors import NewsbotError, PathError

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
    logging.getLogger("discord.client").addFilter(NoVoiceWarnings())


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


# --- argument parsing ---------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse, with a bad argument reported in one line (the usage is one ``--help`` away)
    like every other error of newsbot's; the subcommands' parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _common_options(defaults: bool) -> _Parser:
    """``--config``, ``--db`` and ``-v``, accepted before and after the command. The copies
    after it have no defaults, so they never overwrite what was given before it."""
    common = _Parser(add_help=False)
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

    parser = _Parser(
        prog="newsbot",
        description="A Discord newsletter publisher: a moderated queue of news articles, "
        "posted as digests on command or on a schedule.",
        parents=[_common_options(defaults=True)],
    )
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        command: argparse.ArgumentParser = sub.add_parser(
            name,
            parents=[common],
            help=help_text,
            description=help_text,
        )
        command.set_defaults(handler=handler)
        return command

    statuses = ["pending", "approved", "rejected", "published"]

    p = add("ingest", cmd_ingest, "Store article files (front-matter documents) in the queue.")
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="files or folders (recursive); - for stdin"
    )
    p.add_argument(
        "--cluster",
        action="store_true",
        help="an article on a story another outlet's item reports becomes its related coverage"
        " (default: clustering.files in the config)",
    )

    p = add("queue", cmd_queue, "List the items in the queue.")
    p.add_argument("--status", choices=statuses, help="only items in this state")
    p.add_argument("--topic", help="only items with this topic")
    p.add_argument("--limit", type=_positive, help="at most this many items")
    p.add_argument("--json", action="store_true", help="print a JSON array")

    p = add("show", cmd_show, "Show one item as it would be posted, with its state and history.")
    p.add_argument("id", type=_item_id, metavar="ID", help="item id")
    p.add_argument("--json", action="store_true", help="print the item, payload and history")

    p = add("approve", cmd_approve, "Approve pending items for the next digests.")
    p.add_argument("ids", nargs="*", type=_item_id, metavar="ID", help="item ids")
    p.add_argument("--all", action="store_true", help="approve every pending item")

    p = add("reject", cmd_reject, "Reject items so they are never posted.")
    p.add_argument("ids", nargs="+", type=_item_id, metavar="ID", help="item ids")
    p.add_argument("--reason", help="why (kept in the audit log)")

    p = add(
        "split",
        cmd_split,
        "Make an article that clustering merged into an item its own pending item again.",
    )
    p.add_argument("id", type=_item_id, metavar="ID", help="the item it was merged into")
    p.add_argument("url", metavar="URL", help="the merged article's link")

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

    async def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
        from bot.app import open_app
        from bot.status import gather_status, status_json, status_lines

        async with open_app(settings) as app:
            report = await gather_status(app.settings, app.store, app.clock.now())
        if args.json:
            print(json.dumps(status_json(report), indent=2, ensure_ascii=False))
        else:
            for line in status_lines(report, lambda channel: f"channel {channel}"):
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
    p = add(
        "status",
        cmd_status,
        "Show counts by state, each digest channel's last digest and next run, and errors.",
    )
    p.add_argument("--json", action="store_true", help="print the status as a JSON object")


def main(argv: Sequence[str] | None = None) -> int:
    """The entry point: every way a command can end becomes an exit status here, with at most
    one line on stderr and never a traceback for something the operator did or closed."""
    if sys.stdout is None:
        # Started with stdout closed (>&-): refuse before anything is opened, or the first
        # file opened (the database) would be given fd 1.
        write_stderr("newsbot: error: standard output is closed; nothing was done")
        return 1
    real = sys.stdout
    try:
        with contextlib.ExitStack() as stack:
            if sys.stderr is None:
                # Started with stderr closed (2>&-): print(file=None) would put the error
                # lines into stdout, among the output a script reads.
                devnull = stack.enter_context(open(os.devnull, "w", encoding="utf-8"))
                stack.enter_context(contextlib.redirect_stderr(devnull))
            stack.enter_context(guarded_stdout())
            return _run(argv)
    except OutputFailed as exc:
        discard_output(real)
        if exc.reader_gone:
            return PIPE_CLOSED_STATUS  # | head, a pager quit: stop quietly, as git does
        write_stderr(f"newsbot: error: cannot write the output: {exc}")
        return 1


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = load_settings(args.config, args.db)
        code: int = asyncio.run(args.handler(args, settings))
        return code
    except NewsbotError as exc:
        write_stderr(f"newsbot: error: {exc}")
        return 1
    except KeyboardInterrupt:
        # asyncio.run has cancelled the command and let it close the database; what a store
        # call had begun was rolled back, what was committed before stays.
        write_stderr("newsbot: interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
