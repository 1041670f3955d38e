"""Permissions (issue 7, part 5): every moderator command, both review buttons and the reject
modal, invoked by a plain member, by a moderator whose Moderator role was removed after the
review message was posted, and from a server newsbot is not set up for. Every attempt must be
refused with an ephemeral message and change nothing: the whole database, the review messages
and the digest channels are compared before and after.

The real bot runs against the loopback Discord double, as ``newsbot run`` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from bot import moderation
from bot.app import open_app
from bot.config import Settings
from bot.discord_adapter.client import NewsBot
from tests.discord_double import (
    BOT_ROLE_PERMISSIONS,
    MODERATOR_PERMISSIONS,
    DiscordDouble,
    DoubleFactory,
    Guild,
    GuildBuilder,
    Permission,
    SnowflakeGenerator,
    User,
    default_guild,
)
from tests.reliability.harness import dump, running_bot, seed_db, seed_files, settings_for

ONLY_MODERATORS = "⛔ Only moderators can "
NOT_SET_UP = "⛔ newsbot is not set up for this server."
SOMETHING_WENT_WRONG = "💥 Something went wrong on our side"


def elsewhere(bot: User, ids: SnowflakeGenerator) -> Guild:
    """Another server the bot is in, with its own Moderator role (same name), a member with
    Manage Server, and a review channel the bot posted in under an earlier config."""
    b = GuildBuilder("Elsewhere", ids=ids)
    moderator = b.role("Moderator", MODERATOR_PERMISSIONS | Permission.MANAGE_GUILD, position=2)
    bot_role = b.role("newsbot", BOT_ROLE_PERMISSIONS, key="bot-role", position=1, bot_id=bot.id)
    b.member("owner", owner=True)
    b.member("moderator", roles=[moderator])
    b.member("member")
    b.add_user(bot, roles=[bot_role], key="bot")
    b.text_channel("general")
    b.text_channel("review")
    return b.build()


def commands(item: int, channel: str) -> list[tuple[str, dict[str, Any]]]:
    """Every moderator command with valid options (``channel`` is a channel key)."""
    return [
        ("news queue", {}),
        ("news show", {"item": item}),
        ("news approve", {"item": item}),
        ("news reject", {"item": item, "reason": "not news"}),
        ("digest preview", {}),
        ("digest publish", {}),
        ("digest schedule set", {"channel": channel, "cron": "0 9 * * *"}),
        ("digest schedule show", {}),
        ("digest schedule clear", {"channel": channel}),
    ]


@dataclass
class World:
    """What a refused attempt must leave as it was."""

    double: DiscordDouble
    db: Path

    def snapshot(self) -> tuple[Any, ...]:
        """The whole database and every channel message (ephemeral replies live only in the
        interaction, never in a channel)."""
        channels = {
            channel: [(m["id"], m.get("content"), m.get("embeds"), m.get("components")) for m in
                      messages]
            for channel, messages in self.double.store.by_channel.items()
        }  # fmt: skip
        return dump(self.db), channels


async def _queue(db: Path) -> list[int]:
    """Three pending items and one approved (so a digest would have something to post)."""
    ids = await seed_db(db, seed_files(4))
    async with open_app(Settings(database=db)) as app:
        await moderation.approve(app.store, ids[3], actor="test")
    return ids


async def _reviews_recorded(
    bot: NewsBot, double: DiscordDouble, ids: Sequence[int], guild: int | None = None
) -> Any:
    """The review messages of ``ids``, once the bot has also recorded them in the store."""
    messages = await double.wait_for_messages("review", len(ids), timeout=10, guild=guild)
    async with asyncio.timeout(10):
        for item_id in ids:
            # The store write follows the post and tells the double nothing: poll the store.
            while await bot.app.store.review_post(item_id) is None:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    return messages


def _buttons(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


async def _open_reject_modal(double: DiscordDouble, message: dict[str, Any]) -> tuple[str, str]:
    """A moderator clicks Reject: the modal's custom id and its text input's custom id."""
    reject = next(b for b in _buttons(message) if ":reject:" in b)
    modal = await (await double.click_button(message, reject, user="moderator")).response()
    assert modal.type == 9, modal
    assert modal.data is not None
    return modal.data["custom_id"], modal.data["components"][0]["components"][0]["custom_id"]


class Attempts:
    """Counts refusals and collects every attempt that was not refused properly."""

    def __init__(self, expected: str, commands: tuple[str, ...] = ()) -> None:
        self.expected = expected
        self.commands = commands or (expected,)
        self.refused = 0
        self.problems: list[str] = []

    async def check(self, what: str, handle: Any) -> None:
        response = await handle.response(timeout=5)
        content = (response.data or {}).get("content") or ""
        expected = self.commands if what.startswith("/") else (self.expected,)
        if response.type == 4 and response.ephemeral and content.startswith(expected):
            self.refused += 1
        else:
            self.problems.append(f"{what}: type {response.type}, {content!r}")


async def _attempt_everything(
    double: DiscordDouble,
    attempts: Attempts,
    *,
    user: str,
    item: int,
    channel: str,
    reviews: Sequence[dict[str, Any]],
    modal: tuple[str, str],
    guild: int | None = None,
    where: str = "general",
) -> None:
    for command, options in commands(item, channel):
        handle = await double.send_slash_command(
            command, options, user=user, channel=where, guild=guild
        )
        await attempts.check(f"/{command}", handle)
    for message in reviews:
        # Every review message still offers both buttons (one without would skip attempts).
        assert len(_buttons(message)) == 2, message
        for button in _buttons(message):
            await attempts.check(button, await double.click_button(message, button, user=user))
    modal_id, input_id = modal
    handle = await double.submit_modal(
        modal_id, {input_id: "spam"}, user=user, channel=where, guild=guild
    )
    await attempts.check(modal_id, handle)


@pytest.mark.parametrize(
    ("user", "role_removed", "figure"),
    [
        ("member", False, "permissions: plain member, refused"),
        ("moderator", True, "permissions: role removed, refused"),
    ],
    ids=["plain member", "moderator whose role was removed"],
)
async def test_a_non_moderator_is_refused_every_moderator_action(
    discord_double: DiscordDouble,
    tmp_path: Path,
    restore_endpoints: None,
    figures: dict[str, Any],
    user: str,
    role_removed: bool,
    figure: str,
) -> None:
    db = tmp_path / "newsbot.db"
    ids = await _queue(db)
    world = World(discord_double, db)
    async with running_bot(settings_for(discord_double, db), discord_double) as bot:
        reviews = await _reviews_recorded(bot, discord_double, ids[:3])
        # Opened while still a moderator (if ever one); submitted after the role is gone.
        modal = await _open_reject_modal(discord_double, reviews[0])
        if role_removed:
            await discord_double.remove_role("moderator", "Moderator")
        before = world.snapshot()
        attempts = Attempts(ONLY_MODERATORS)
        await _attempt_everything(
            discord_double, attempts, user=user, item=ids[0], channel="digest-general",
            reviews=reviews, modal=modal,
        )  # fmt: skip
        assert attempts.problems == []
        assert world.snapshot() == before
    figures[figure] = f"{attempts.refused}/{attempts.refused}"


async def test_another_server_is_refused_every_moderator_action(
    discord_double_factory: DoubleFactory,
    tmp_path: Path,
    restore_endpoints: None,
    figures: dict[str, Any],
) -> None:
    double = await discord_double_factory(guild=default_guild, extra_guilds=[elsewhere])
    home, other = list(double.guilds)
    db = tmp_path / "newsbot.db"
    ids = await _queue(db)
    settings = settings_for(double, db)
    # Earlier, newsbot was set up for the other server: its review channel got the items'
    # review messages, and its commands were registered globally (sync-commands --global).
    earlier = replace(
        settings, guild=other, review_channel=double.channel("review", guild=other).id
    )
    async with running_bot(earlier, double, sync_on_start=False) as bot:
        await bot.tree.sync()
        stale = await _reviews_recorded(bot, double, ids[:3], guild=other)
    assert all(int(m["channel_id"]) == earlier.review_channel for m in stale)
    fresh = await seed_db(db, seed_files(5)[4:])
    world = World(double, db)
    async with running_bot(settings, double) as bot:
        [review] = await _reviews_recorded(bot, double, fresh)
        modal = await _open_reject_modal(double, review)
        before = world.snapshot()
        attempts = Attempts(NOT_SET_UP)
        for user in ("owner", "moderator"):
            await _attempt_everything(
                double, attempts, user=user, item=ids[0], channel="general", reviews=stale,
                modal=modal, guild=other,
            )  # fmt: skip
        assert attempts.problems == []
        assert world.snapshot() == before
    assert home != other
    figures["permissions: other server, refused"] = f"{attempts.refused}/{attempts.refused}"


async def test_a_command_left_registered_in_another_server_is_refused_as_such(
    discord_double_factory: DoubleFactory,
    tmp_path: Path,
    restore_endpoints: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    double = await discord_double_factory(guild=default_guild, extra_guilds=[elsewhere])
    _, other = list(double.guilds)
    db = tmp_path / "newsbot.db"
    ids = await _queue(db)
    settings = settings_for(double, db, review_channel=None)
    async with running_bot(replace(settings, guild=other), double, sync_on_start=False) as bot:
        await bot.tree.sync()
    async with running_bot(settings, double):
        attempts = Attempts(NOT_SET_UP)
        for command, options in commands(ids[0], "general"):
            handle = await double.send_slash_command(command, options, user="owner", guild=other)
            await attempts.check(f"/{command}", handle)
    assert attempts.problems == []
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_without_a_configured_guild_another_servers_moderator_is_refused(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(guild=default_guild, extra_guilds=[elsewhere])
    _, other = list(double.guilds)
    db = tmp_path / "newsbot.db"
    ids = await _queue(db)
    settings = settings_for(double, db, guild=None)
    world = World(double, db)
    async with running_bot(settings, double) as bot:
        await bot.tree.sync()  # no guild: commands are global (sync-commands --global)
        await _reviews_recorded(bot, double, ids[:3])
        before = world.snapshot()
        attempts = Attempts("⛔ ")
        handle = await double.send_slash_command(
            "news approve", {"item": ids[0]}, user="moderator", guild=other
        )
        await attempts.check("/news approve", handle)
        assert attempts.problems == []
        assert world.snapshot() == before


async def test_autocomplete_shows_the_queue_to_moderators_only(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    db = tmp_path / "newsbot.db"
    await _queue(db)
    settings = settings_for(discord_double, db, review_channel=None)
    async with running_bot(settings, discord_double):
        for command in ("news show", "news approve", "news reject"):
            options: dict[str, Any] = {"item": ""}
            handle = await discord_double.send_autocomplete(
                command, options, focused="item", user="member"
            )
            answer = await handle.response()
            assert answer.type == 8
            assert (answer.data or {}).get("choices") == [], command
