"""Opt-in pings end to end (bot/discord_adapter/notify.py, issue 14): a digest with
``ping_role`` pings exactly that role, and its "Notify me" / "Stop" buttons give and take the
role, after restarts too, and only while the bot may; the real discord.py client against the
double, which applies Discord's mention and role-hierarchy rules.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot import moderation
from bot.app import open_app
from bot.config import DigestChannel, Settings
from bot.discord_adapter.runner import publish_once, run_bot
from bot.errors import StartupError
from bot.ingest import ingest
from tests.discord_double import DiscordDouble, GuildBuilder, SnowflakeGenerator, User
from tests.discord_double.fixtures import DoubleFactory
from tests.discord_double.permissions import Permission
from tests.discord_double.state import BOT_ROLE_PERMISSIONS
from tests.reliability import harness
from tests.reliability.harness import running_bot

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def pinging_newsroom(*, manage_roles: bool = True, ping_above_bot: bool = False) -> Any:
    """A server with a "News pings" role (not mentionable: the bot pings it through Mention
    Everyone), a mentionable "Other" role the articles must never ping, and the bot's roles:
    ``newsbot`` and ``role-manager`` (Manage Roles), both above the ping role unless
    ``ping_above_bot``."""

    def build(bot: User, ids: SnowflakeGenerator) -> Any:
        b = GuildBuilder("Pings", ids=ids)
        b.role("News pings", position=5 if ping_above_bot else 1)
        b.role("Other", position=2, mentionable=True)
        moderator = b.role("Moderator", position=3)
        bot_role = b.role(
            "newsbot",
            BOT_ROLE_PERMISSIONS | Permission.MENTION_EVERYONE,
            key="bot-role",
            position=4,
            bot_id=bot.id,
        )
        manager = b.role("role-manager", Permission.MANAGE_ROLES if manage_roles else 0, position=3)
        b.member("owner", owner=True)
        b.member("moderator", roles=[moderator])
        b.member("reader")
        b.add_user(bot, roles=[bot_role, manager], key="bot")
        b.text_channel("review")
        b.text_channel("news", key="digest-general")
        b.text_channel("digest-ai")
        return b.build()

    return build


def settings_for(double: DiscordDouble, tmp_path: Path, **digest: Any) -> Settings:
    channel = double.channel("news").id
    return harness.settings_for(
        double,
        tmp_path / "newsbot.db",
        digests=(
            DigestChannel(
                channel=channel, max_items=10, ping_role=double.role("News pings").id, **digest
            ),
        ),
    )


async def approve_seeds(settings: Settings, count: int) -> None:
    files = [f for f in sorted(SEEDS.glob("*.md")) if "published: true" not in f.read_text()]
    async with open_app(settings) as app:
        report = await ingest(app.store, files[:count])
        for item_id in report.new_ids:
            await moderation.approve(app.store, item_id, actor="test")


def buttons(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


async def test_a_digest_pings_exactly_its_role_and_offers_the_toggle(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(guild=pinging_newsroom())
    settings = settings_for(double, tmp_path, notify_button=True)
    await approve_seeds(settings, 40)
    run = await publish_once(settings, double.channel("news").id)
    assert not run.failed
    posted = double.messages("news")
    assert len(posted) >= 2
    ping = double.role("News pings").id
    first, *rest = posted
    assert first["content"].startswith(f"<@&{ping}>\n## News digest")
    assert (first["mention_roles"], first["mentions"], first["mention_everyone"]) == (
        [str(ping)],
        [],
        False,
    )
    for message in rest:
        assert (message["mention_roles"], message["mentions"]) == ([], [])
        assert not message["mention_everyone"]
    [sent] = [r for r in double.requests_to("POST /channels/*/messages")][:1]
    mentions = sent.json["allowed_mentions"]
    assert (mentions["parse"], [str(r) for r in mentions["roles"]]) == ([], [str(ping)])
    assert set(mentions) <= {"parse", "roles", "replied_user"} and not mentions.get("replied_user")
    assert buttons(posted[-1]) == [f"newsbot:notify:on:{ping}", f"newsbot:notify:off:{ping}"]
    assert all(buttons(m) == [] for m in posted[:-1])


async def test_the_toggle_gives_and_takes_the_role_across_restarts(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(guild=pinging_newsroom())
    settings = settings_for(double, tmp_path, notify_button=True)
    await approve_seeds(settings, 3)
    assert not (await publish_once(settings, double.channel("news").id)).failed
    [digest] = double.messages("news")
    ping = double.role("News pings").id
    reader = double.user("reader")
    async with running_bot(settings, double) as bot:
        assert bot.startup_error is None
        click = await double.click_button(digest, f"newsbot:notify:on:{ping}", user="reader")
        reply = await click.response()
        assert reply.ephemeral and "You'll get a ping (@News pings)" in reply.data["content"]
        assert ping in reader.role_ids
        again = await double.click_button(digest, f"newsbot:notify:on:{ping}", user="reader")
        assert "already" in (await again.response()).data["content"]
    # Another process: the buttons under the old digest still work.
    async with running_bot(settings, double):
        click = await double.click_button(digest, f"newsbot:notify:off:{ping}", user="reader")
        reply = await click.response()
        assert reply.ephemeral and "no more pings" in reply.data["content"]
        assert ping not in reader.role_ids
    assert double.role_edits == [("add", reader.id, ping), ("remove", reader.id, ping)]


async def test_the_toggle_is_refused_once_the_bot_may_no_longer_give_the_role(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(guild=pinging_newsroom())
    settings = settings_for(double, tmp_path, notify_button=True)
    await approve_seeds(settings, 3)
    assert not (await publish_once(settings, double.channel("news").id)).failed
    [digest] = double.messages("news")
    ping = double.role("News pings").id
    async with running_bot(settings, double):
        # Without the members intent the bot is not told that its own role changed: Discord
        # refusing (50013) is how it learns.
        await double.remove_role("bot", "role-manager")
        click = await double.click_button(digest, f"newsbot:notify:on:{ping}", user="reader")
        reply = await click.response()
        assert reply.ephemeral
        assert reply.data["content"] == (
            "I can't change your notifications right now: Discord refused (the bot needs"
            " Manage Roles and a role above @News pings). Tell a moderator."
        )
    assert ping not in double.user("reader").role_ids
    assert double.role_edits == []


@pytest.mark.parametrize(
    ("guild", "digest", "problem"),
    [
        (
            {"manage_roles": False},
            {"notify_button": True},
            "digests[1].notify_button: the bot cannot give @News pings: the bot lacks Manage Roles",
        ),
        (
            {"ping_above_bot": True},
            {"notify_button": True},
            "digests[1].notify_button: the bot cannot give @News pings: @News pings is not"
            " below the bot's highest role; move the bot's role above it",
        ),
    ],
    ids=["no-manage-roles", "role-above-the-bot"],
)
async def test_start_up_refuses_a_toggle_that_cannot_work(
    discord_double_factory: DoubleFactory,
    tmp_path: Path,
    restore_endpoints: None,
    guild: dict[str, bool],
    digest: dict[str, Any],
    problem: str,
) -> None:
    double = await discord_double_factory(guild=pinging_newsroom(**guild))
    with pytest.raises(StartupError) as raised:
        await run_bot(settings_for(double, tmp_path, **digest))
    assert str(raised.value) == f"test.yaml: {problem}"


async def test_start_up_refuses_a_ping_the_bot_cannot_make(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(guild=pinging_newsroom())
    bot_role = double.role("bot-role")
    bot_role.permissions &= ~int(Permission.MENTION_EVERYONE)
    settings = settings_for(double, tmp_path)
    with pytest.raises(StartupError) as raised:
        await run_bot(settings)
    assert str(raised.value) == (
        "test.yaml: digests[1].ping_role: the bot cannot ping @News pings in #news; make the"
        " role mentionable or give the bot Mention Everyone there"
    )
    missing = replace(settings, digests=(replace(settings.digests[0], ping_role=123),))
    with pytest.raises(StartupError) as raised:
        await run_bot(missing)
    assert "digests[1].ping_role: there is no role" in str(raised.value)
