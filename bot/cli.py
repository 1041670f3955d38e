"""The ``newsbot`` command: parse argv, open the app, call the core, print the result.

Every command accepts ``--config`` and ``--db``. Errors the operator can fix are printed as one
line (``newsbot: error: ...``) with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from bot import __version__
from bot.cli_commands import (
    cmd_approve,
    cmd_check_templates,
    cmd_edit,
    cmd_export,
    cmd_feeds,
    cmd_fetch,
    cmd_ingest,
    cmd_preview,
    cmd_queue,
    cmd_reject,
    cmd_retract,
    cmd_show,
    cmd_split,
)
from bot.cli_output import (
    PIPE_CLOSED_STATUS,
    NoVoiceWarnings,
    OutputFailed,
    discard_output,
    guarded_stdout,
    write_stderr,
)
from bot.config import Settings, load_settings
from bot.errors import NewsbotError, StartupError

if TYPE_CHECKING:
    from bot.discord_adapter.runner import PublishRun

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


# --- argument parsing ---------------------------------------------------------------------------
def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def shard_range(text: str) -> range:
    """``--shard-ids``: ``A-B`` (both included) or one id ``A``."""
    first, dash, last = text.partition("-")
    try:
        ids = range(int(first), int(last if dash else first) + 1)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected shard ids as A-B (like 0-3) or one id, got {text!r}"
        ) from None
    if ids.start < 0 or not ids:
        raise argparse.ArgumentTypeError(f"expected A-B with 0 <= A <= B, got {text!r}")
    return ids


def item_id_arg(text: str) -> int:
    try:
        return positive_int(text.lstrip("#"))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"not an item id: {text!r}") from None


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
        "--db",
        help="SQLite database file or postgresql:// URL (default: $NEWSBOT_DB or newsbot.db)",
        **given,
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
    p.add_argument("--limit", type=positive_int, help="at most this many items")
    p.add_argument("--json", action="store_true", help="print a JSON array")

    p = add("show", cmd_show, "Show one item as it would be posted, with its state and history.")
    p.add_argument("id", type=item_id_arg, metavar="ID", help="item id")
    p.add_argument("--json", action="store_true", help="print the item, payload and history")

    p = add("fetch", cmd_fetch, "Poll every feed once and store new articles (e.g. from cron).")
    p.add_argument("--feed", metavar="URL", help="only this feed")

    p = add("feeds", cmd_feeds, "List every feed with its state (last and next fetch, failures).")
    p.add_argument("--json", action="store_true", help="print a JSON array")

    p = add("approve", cmd_approve, "Approve pending items for the next digests.")
    p.add_argument("ids", nargs="*", type=item_id_arg, metavar="ID", help="item ids")
    p.add_argument("--all", action="store_true", help="approve every pending item")

    p = add("reject", cmd_reject, "Reject items so they are never posted.")
    p.add_argument("ids", nargs="+", type=item_id_arg, metavar="ID", help="item ids")
    p.add_argument("--reason", help="why (kept in the audit log)")

    p = add(
        "retract",
        cmd_retract,
        "Retract a published item: its messages show it struck through, with the reason.",
    )
    p.add_argument("id", type=item_id_arg, metavar="ID", help="item id")
    p.add_argument("--reason", required=True, help="why (shown to readers and audited)")

    p = add("edit", cmd_edit, "Correct an item's title or excerpt; its messages are edited.")
    p.add_argument("id", type=item_id_arg, metavar="ID", help="item id")
    p.add_argument("--title", help="the new title")
    p.add_argument("--excerpt", help="the new excerpt")

    p = add(
        "split",
        cmd_split,
        "Make an article that clustering merged into an item its own pending item again.",
    )
    p.add_argument("id", type=item_id_arg, metavar="ID", help="the item it was merged into")
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
    p.add_argument("--channel", type=positive_int, help="a configured digest channel id")
    p.add_argument("--limit", type=positive_int, help="at most this many items")
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
    from bot.publish import PublishStatus, describe_result

    lines = [
        *(
            f"resumed: {describe_result(r, f'channel {r.channel}')}"
            for r in run.resumed
            if r.status is not PublishStatus.BUSY  # the channel's own line says so
        ),
        *(describe_result(r, f"channel {r.channel}") for r in run.results),
    ]
    if run.edits.summary != "nothing to edit":
        lines.append(f"edits: {run.edits.summary}")
    return lines


def _add_discord_commands(add: Callable[[str, Handler, str], argparse.ArgumentParser]) -> None:
    """Commands that talk to Discord; their modules import discord.py only when run."""

    async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
        from bot.discord_adapter.runner import run_bot

        await run_bot(settings)
        return 0

    async def cmd_gateway(args: argparse.Namespace, settings: Settings) -> int:
        from bot.discord_adapter.runner import run_gateway

        ids: range | None = args.shard_ids
        count: int | None = args.shard_count
        if ids is not None and count is None:
            raise StartupError("--shard-ids needs --shard-count (the bot's shards in all)")
        if ids is not None and count is not None and ids.stop > count:
            raise StartupError(
                f"--shard-ids {ids.start}-{ids.stop - 1}: shard ids go from 0 to"
                f" {count - 1} with --shard-count {count}"
            )
        await run_gateway(settings, ids, count)
        return 0

    async def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
        from bot.discord_adapter.runner import run_worker

        await run_worker(settings)
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
        "gateway",
        cmd_gateway,
        "Hold the gateway (slash commands, buttons) and leave the work to newsbot worker.",
    )
    p.add_argument(
        "--shard-ids",
        type=shard_range,
        metavar="A-B",
        help="only these shards (both ends included), for several gateway processes",
    )
    p.add_argument("--shard-count", type=positive_int, metavar="N", help="the bot's shards in all")
    add(
        "worker",
        cmd_worker,
        "Run schedules, publishing, review posts, feeds and edits over REST (no gateway);"
        " run any number of them on one PostgreSQL database.",
    )
    p = add(
        "publish",
        cmd_publish,
        "Post the digest to a channel now over the REST API (no gateway), e.g. from cron.",
    )
    p.add_argument(
        "--channel", type=positive_int, help="digest channel id (default: all configured)"
    )
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
