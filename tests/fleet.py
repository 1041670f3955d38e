"""A fleet of ``newsbot worker`` processes on one database, against the Discord double: the
harness of the many-workers test and of ``bench/scale.py``.

Every digest channel has a stored schedule of every minute, set as if 90 seconds ago, so a
worker starting now finds the current minute's run due at once (a missed run within
``catch_up_grace``). Each channel has two approved items whose excerpts are too long to share
a message: each digest is two messages.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.app import open_app
from bot.clock import ManualClock
from bot.config import Settings
from bot.ingest import ingest
from bot.processes import STALE
from bot.store import Status
from bot.store.dsn import DatabaseUrl
from tests.discord_double import (
    BOT_ROLE_PERMISSIONS,
    DiscordDouble,
    GuildBuilder,
    SnowflakeGenerator,
    User,
)

ROOT = Path(__file__).resolve().parent.parent
PARTS = 2
"""Messages of each channel's digest."""
WORDS = 170
"""An excerpt's words: two of them do not fit one message."""
ITEM_TEMPLATE = "**{{ item.number }}. {{ item.title|link(item.url) }}**\n{{ item.excerpt }}\n"


def newsroom(channels: int) -> Callable[[User, SnowflakeGenerator], Any]:
    def build(bot: User, ids: SnowflakeGenerator) -> Any:
        b = GuildBuilder("Fleet newsroom", ids=ids)
        bot_role = b.role("newsbot", BOT_ROLE_PERMISSIONS, key="bot-role", position=1)
        b.member("owner", owner=True)
        b.add_user(bot, roles=[bot_role], key="bot")
        b.text_channel("review")
        for n in range(channels):
            b.text_channel(f"d{n}")
        return b.build()

    return build


def _article(folder: Path, name: str, topic: str, n: int) -> None:
    words = ["grid", "battery", "model", "launch", "orbit", "policy", "court", "study", "port"]
    excerpt = " ".join(words[(i + n) % len(words)] for i in range(WORDS))
    (folder / f"{name}.md").write_text(
        "---\n"
        f'title: "{topic} story {name}"\n'
        f'excerpt: "{excerpt}"\n'
        "publishedDateTime: 2026-11-20T08:00:00Z\n"
        f'webUrl: "https://example.org/{name}"\n'
        "quality: 50\n"
        "published: false\n"
        "provider:\n  name: Example\n  domain: example.org\n"
        f"topics:\n  - {topic}\n"
        "---\n",
        encoding="utf-8",
    )


@dataclass
class Fleet:
    """The config the workers read, the channels they post to, and the processes."""

    double: DiscordDouble
    config: Path
    database: Path | DatabaseUrl
    channels: list[int]
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    logs: Path | None = None
    started: int = 0

    async def start(self) -> asyncio.subprocess.Process:
        environ = {
            k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))
        }
        environ["PYTHONPATH"] = str(ROOT)
        environ.update(self.double.env())
        self.started += 1
        log = (self.logs or self.config.parent) / f"worker-{self.started}.log"
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "worker",
                "--config",
                str(self.config),
                cwd=self.config.parent,
                env=environ,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=out,
            )
        self.processes.append(process)
        return process

    def running(self) -> list[asyncio.subprocess.Process]:
        return [p for p in self.processes if p.returncode is None]

    async def kill(self, process: asyncio.subprocess.Process) -> None:
        """SIGKILL: no cleanup, no release; its connections just vanish."""
        process.kill()
        await process.wait()

    async def joined(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109 (a bounded wait)
        """Until every running worker has joined the database's processes: by then it handles
        SIGTERM (a process still importing Python would just die of it)."""
        async with open_app(Settings(database=self.database)) as app:
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                now = datetime.now(UTC)
                rows = await app.store.live_processes(now - STALE)
                pids = {int(r.owner.split(":")[1]) for r in rows}
                if all(p.pid in pids for p in self.running()):
                    return
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"workers not started: {self.log_tail()}")
                await asyncio.sleep(0.1)  # another process's state: looked at again

    async def stop(self) -> list[int]:
        """SIGTERM every worker still running, as a service manager does, once each has
        started; their exit codes."""
        await self.joined()
        codes: list[int] = []
        for process in self.running():
            process.terminate()
        for process in self.running():
            codes.append(await asyncio.wait_for(process.wait(), 30))
        return codes

    def log_tail(self, lines: int = 30) -> str:
        folder = self.logs or self.config.parent
        text = [
            f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-lines:])
            for p in sorted(folder.glob("worker-*.log"))
        ]
        return "\n".join(text)

    def reached(self, count: int) -> bool | None:
        """For ``double.wait_until``: True once ``count`` messages were delivered."""
        return self.delivered() >= count or None

    def delivered(self) -> int:
        """Messages in the digest channels so far."""
        return sum(len(self.double.messages(channel)) for channel in self.channels)


async def prepare_fleet(
    double: DiscordDouble,
    folder: Path,
    channels: int,
    database: Path | DatabaseUrl,
    *,
    for_review: int = 0,
) -> Fleet:
    """Write the config, the templates and the items, approve them all and store every
    channel's schedule (see the module docstring). With ``for_review``, that many more items
    stay pending, and the config has a review channel to post them in."""
    articles = folder / "articles"
    articles.mkdir(parents=True)
    templates = folder / "templates"
    templates.mkdir()
    (templates / "_item.md.j2").write_text(ITEM_TEMPLATE, encoding="utf-8")
    ids = [double.channel(f"d{n}").id for n in range(channels)]
    for n in range(channels):
        for k in range(PARTS):
            _article(articles, f"c{n}-{k}", f"topic{n}", n + k)
    data = {
        "database": str(database) if isinstance(database, Path) else database.url,
        "templates": str(templates),
        "guild": double.guild.id,
        "digests": [
            {
                "channel": channel,
                "topics": [f"topic{n}"],
                "max_items": PARTS,
                "excerpt_length": 10_000,
            }
            for n, channel in enumerate(ids)
        ],
    }
    if for_review:
        data["review_channel"] = double.channel("review").id
        data["review_feed_max"] = 100
    config = folder / "newsbot.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    settings = Settings(database=database, templates=templates, source=str(config))
    # The schedules as if set a minute and a half ago: this minute's run is due at once.
    clock = ManualClock(datetime.now(UTC) - timedelta(seconds=90))
    async with open_app(settings, clock=clock) as app:
        report = await ingest(app.store, [articles])
        assert not report.errors, report.errors
        await app.store.transition_all(Status.PENDING, Status.APPROVED, actor="fleet")
        if for_review:
            pending = folder / "pending"
            pending.mkdir()
            for n in range(for_review):
                _article(pending, f"review-{n}", "review", n)
            report = await ingest(app.store, [pending])
            assert len(report.new_ids) == for_review, report.errors
        for channel in ids:
            await app.store.set_schedule(channel, "* * * * *", "UTC", actor="fleet")
    return Fleet(double=double, config=config, database=database, channels=ids)
