"""The Discord double, proven against the real, unmodified discord.py client.

Each test drives a throwaway ``discord.Client`` (with an app-command tree) connected to the
double, or speaks raw HTTP/websocket where discord.py would refuse to send the payload
itself. Waiting is always on events with timeouts; clocks that must move are ManualClocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.http import MultipartParameters, Route

from tests.discord_double import (
    BucketSpec,
    DiscordDouble,
    DoubleFactory,
    Guild,
    GuildBuilder,
    ManualClock,
    Permission,
    RateLimitConfig,
    User,
    assert_no_unknown_routes,
)
from tests.discord_double.clock import SnowflakeGenerator
from tests.discord_double.errors import FormErrors
from tests.discord_double.forum import archive
from tests.discord_double.mentions import check_allowed_mentions, resolve_mentions

READY_TIMEOUT = 5.0

# ---------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def pointed_at(double: DiscordDouble) -> Iterator[None]:
    """Point discord.py at the double the way the bot's adapter does, then restore."""
    old_base = Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = double.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(double.gateway_url)
    try:
        yield
    finally:
        Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


class ReviewView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Approve", custom_id="review:approve:1")
    async def approve(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        await interaction.response.edit_message(
            content=f"Approved by {interaction.user.name}", view=None
        )

    @discord.ui.button(label="Reject", custom_id="review:reject:1")
    async def reject(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        # Deferred update (type 6): @original is now the message the button is on.
        await interaction.response.defer()
        await interaction.edit_original_response(content="Rejected", view=None)


class RejectModal(discord.ui.Modal, title="Reject item"):
    reason: discord.ui.TextInput[RejectModal] = discord.ui.TextInput(
        label="Reason", custom_id="reason"
    )

    def __init__(self) -> None:
        super().__init__(custom_id="reject-modal")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Rejected: {self.reason.value}", ephemeral=True)


class Bot(discord.Client):
    """A tiny client whose commands exercise each interaction path of the double."""

    def __init__(self, *, intents: discord.Intents | None = None) -> None:
        if intents is None:
            intents = discord.Intents.default()
            intents.members = True
        # guild_ready_timeout: discord.py waits this long after the last GUILD_CREATE
        # before on_ready (2 s by default).
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.ready_event = asyncio.Event()
        self.gate = asyncio.Event()
        self._outcomes: dict[str, asyncio.Future[Any]] = {}
        self._add_commands()

    def outcome(self, key: str) -> asyncio.Future[Any]:
        if key not in self._outcomes:
            self._outcomes[key] = asyncio.get_running_loop().create_future()
        return self._outcomes[key]

    def report(self, key: str, value: Any) -> None:
        future = self.outcome(key)
        if not future.done():
            future.set_result(value)

    async def on_ready(self) -> None:
        self.ready_event.set()

    def _add_commands(self) -> None:
        bot = self
        news = app_commands.Group(name="news", description="Moderate the news queue")

        @news.command(name="approve", description="Approve a pending item")
        async def approve(interaction: discord.Interaction, item: int) -> None:
            await interaction.response.send_message(f"approved {item}", ephemeral=True)

        @news.command(name="show", description="Show an item")
        async def show(interaction: discord.Interaction, item: str) -> None:
            await interaction.response.send_message(f"showing {item}")

        @show.autocomplete("item")
        async def show_items(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return [
                app_commands.Choice(name=f"{current} {i}", value=f"{current}-{i}") for i in range(3)
            ]

        admin = app_commands.Group(name="admin", description="Configure the bot")
        channels = app_commands.Group(name="channels", description="Digest channels", parent=admin)

        @channels.command(name="set", description="Route a digest")
        async def set_channel(
            interaction: discord.Interaction,
            channel: discord.TextChannel,
            role: discord.Role,
            user: discord.Member,
            enabled: bool,
            weight: float,
            note: str | None = None,
        ) -> None:
            bot.report(
                "typed",
                {
                    "channel": channel,
                    "role": role,
                    "user": user,
                    "enabled": enabled,
                    "weight": weight,
                    "note": note,
                },
            )
            await interaction.response.send_message("ok", ephemeral=True)

        digest = app_commands.Group(name="digest", description="Digests")

        @digest.command(name="publish", description="Publish now")
        async def publish(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await interaction.followup.send("publishing", ephemeral=True)
            await interaction.edit_original_response(content="published 3 items")
            extra = await interaction.followup.send("details", ephemeral=True, wait=True)
            await extra.edit(content="details v2")
            original = await interaction.original_response()
            bot.report("publish", (extra, original.content))
            await (await interaction.followup.send("scratch", wait=True)).delete()

        @app_commands.command(name="twice", description="Acknowledge twice")
        async def twice(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("first")
            # discord.py refuses a second ack locally; pretend a second worker answers too.
            interaction.response._response_type = None
            try:
                await interaction.response.send_message("second")
            except discord.HTTPException as exc:
                bot.report("twice", exc)

        @app_commands.command(name="slow", description="Answer only when the test says so")
        async def slow(interaction: discord.Interaction) -> None:
            await bot.gate.wait()
            try:
                await interaction.response.send_message("too late")
            except discord.HTTPException as exc:
                bot.report("slow", exc)

        @app_commands.command(name="review", description="Post an item for review")
        async def review(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Item 1 is pending", view=ReviewView())

        @app_commands.command(name="reject", description="Reject with a reason")
        async def reject(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(RejectModal())

        commands: list[app_commands.Group | app_commands.Command[Any, ..., Any]] = [
            news,
            admin,
            digest,
            twice,
            slow,
            review,
            reject,
        ]
        for command in commands:
            self.tree.add_command(command)


@contextlib.asynccontextmanager
async def running(
    double: DiscordDouble, bot: Bot | None = None, *, sync: bool = True
) -> AsyncIterator[Bot]:
    """Start ``bot`` against the double until on_ready (commands synced to the guild)."""
    bot = bot or Bot()
    with pointed_at(double):
        task = asyncio.create_task(bot.start(double.token))
        try:
            ready = asyncio.create_task(bot.ready_event.wait())
            done, _ = await asyncio.wait(
                {task, ready}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
            if task in done:
                ready.cancel()
                task.result()
            if ready not in done:
                ready.cancel()
                raise TimeoutError("the client did not become ready")
            if sync:
                guild = discord.Object(double.guild.id)
                bot.tree.copy_global_to(guild=guild)
                await bot.tree.sync(guild=guild)
            yield bot
        finally:
            await bot.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, READY_TIMEOUT)


def text_channel(bot: Bot, double: DiscordDouble, key: str) -> discord.TextChannel:
    channel = bot.get_channel(double.channel(key).id)
    assert isinstance(channel, discord.TextChannel)
    return channel


def raw_params(payload: dict[str, Any]) -> MultipartParameters:
    return MultipartParameters(payload=payload, multipart=None, files=None)


@contextlib.asynccontextmanager
async def raw_session(double: DiscordDouble) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bot {double.token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        yield session


@pytest.fixture
async def roomy_double(discord_double_factory: DoubleFactory) -> DiscordDouble:
    """A double whose message buckets do not pace tests that send many messages quickly.

    4xx answers count towards a bucket as on Discord, so limit tests would otherwise spend
    seconds waiting for the 5-per-5-s window.
    """
    roomy = BucketSpec(50, 1.0)
    return await discord_double_factory(
        rate_limits=RateLimitConfig(message_create=roomy, message_edit=roomy)
    )


# ---------------------------------------------------------------------------- login, READY


async def test_login_ready_and_guild_visible(discord_double: DiscordDouble) -> None:
    double = discord_double
    async with running(double) as bot:
        session = await double.wait_for_ready()
        assert bot.user is not None and bot.user.id == double.bot_user.id
        assert bot.application_id == double.application_id
        guild = bot.get_guild(double.guild.id)
        assert guild is not None and not guild.unavailable
        assert {c.name for c in guild.text_channels} >= {"review", "digest-general", "hidden"}
        assert {r.name for r in guild.roles} == {"@everyone", "Moderator", "newsbot"}
        assert guild.member_count == 4 and len(guild.members) == 4
        moderator = guild.get_member(double.user("moderator").id)
        assert moderator is not None
        assert [r.name for r in moderator.roles if not r.is_default()] == ["Moderator"]
        assert not moderator.guild_permissions.manage_guild
        owner = guild.get_member(double.user("owner").id)
        assert owner is not None and owner.guild_permissions.administrator
        me = guild.me
        hidden = text_channel(bot, double, "hidden")
        read_only = text_channel(bot, double, "read-only")
        review = text_channel(bot, double, "review")
        assert not hidden.permissions_for(me).view_channel
        assert read_only.permissions_for(me).view_channel
        assert not read_only.permissions_for(me).send_messages
        assert review.permissions_for(moderator).view_channel
        member = guild.get_member(double.user("member").id)
        assert member is not None and not review.permissions_for(member).view_channel
        # The double's own permission model agrees with discord.py's.
        for key in ("review", "digest-general", "general", "read-only", "hidden"):
            channel = text_channel(bot, double, key)
            assert channel.permissions_for(me).value == double.bot_permissions(key), key
        assert session.intents & discord.Intents.members.flag
        assert double.gateway.heartbeats >= 1


async def test_without_members_intent_only_the_bot_member_is_sent(
    discord_double: DiscordDouble,
) -> None:
    async with running(discord_double, Bot(intents=discord.Intents.default())) as bot:
        guild = bot.get_guild(discord_double.guild.id)
        assert guild is not None
        assert guild.member_count == 4
        assert [m.id for m in guild.members] == [discord_double.bot_user.id]


async def test_wrong_token_is_a_login_failure(discord_double: DiscordDouble) -> None:
    client = discord.Client(intents=discord.Intents.default())
    with pointed_at(discord_double):
        try:
            with pytest.raises(discord.LoginFailure):
                await client.login("not-the-token")
        finally:
            await client.close()
    assert discord_double.requests[-1].status == 401


async def test_disallowed_privileged_intent_closes_with_4014(
    discord_double_factory: DoubleFactory,
) -> None:
    double = await discord_double_factory(privileged_intents=0)
    bot = Bot()
    with pointed_at(double), pytest.raises(discord.PrivilegedIntentsRequired):
        try:
            await asyncio.wait_for(bot.start(double.token), READY_TIMEOUT)
        finally:
            await bot.close()


# ---------------------------------------------------------------------------- commands


async def test_command_sync_is_stored(discord_double: DiscordDouble) -> None:
    async with running(discord_double) as bot:
        commands = discord_double.commands()
        assert {c["name"] for c in commands} == {
            "news",
            "admin",
            "digest",
            "twice",
            "slow",
            "review",
            "reject",
        }
        news = next(c for c in commands if c["name"] == "news")
        assert [o["name"] for o in news["options"]] == ["approve", "show"]
        assert news["guild_id"] == str(discord_double.guild.id)
        ids = {c["name"]: c["id"] for c in commands}
        # A re-sync keeps the ids of commands that keep their names, like Discord.
        fetched = await bot.tree.sync(guild=discord.Object(discord_double.guild.id))
        assert {c.name: str(c.id) for c in fetched} == ids
        assert discord_double.commands(global_=True) == []
        await bot.tree.sync()
        assert {c["name"] for c in discord_double.commands(global_=True)} == {
            "news",
            "admin",
            "digest",
            "twice",
            "slow",
            "review",
            "reject",
        }
        listed = await bot.tree.fetch_commands(guild=discord.Object(discord_double.guild.id))
        assert {c.name for c in listed} == set(ids)


async def test_invalid_commands_are_rejected_with_nested_errors(
    discord_double: DiscordDouble,
) -> None:
    async with running(discord_double, sync=False) as bot:
        assert bot.application_id is not None
        bad = [
            {"name": "Bad Name", "description": "d", "type": 1},
            {"name": "long", "description": "x" * 101, "type": 1},
            {
                "name": "many",
                "description": "too many options",
                "type": 1,
                "options": [{"name": f"o{i}", "description": "o", "type": 3} for i in range(26)],
            },
            {"name": "x" * 33, "description": "d", "type": 1},
        ]
        with pytest.raises(discord.HTTPException) as info:
            await bot.http.bulk_upsert_guild_commands(
                bot.application_id, discord_double.guild.id, bad
            )
        assert info.value.status == 400 and info.value.code == 50035
        text = info.value.text
        assert "In 0.name: Command name is invalid" in text
        assert "In 1.description: Must be between 1 and 100 in length." in text
        assert "In 2.options: Must be 25 or fewer in length." in text
        assert "In 3.name" in text
        assert discord_double.commands() == []


# ---------------------------------------------------------------------------- interactions


async def test_slash_command_round_trip(discord_double: DiscordDouble) -> None:
    async with running(discord_double):
        handle = await discord_double.send_slash_command(
            "news approve", {"item": 7}, user="moderator", channel="review"
        )
        response = await handle.response(timeout=5)
        assert response.type == 4
        assert response.data is not None and response.data["content"] == "approved 7"
        assert response.ephemeral
        original = await handle.wait_for_original()
        assert original["content"] == "approved 7"
        # Ephemeral: never part of the channel's history.
        assert discord_double.messages("review") == []
        sent = handle.payload["data"]
        assert sent["options"] == [
            {"name": "approve", "type": 1, "options": [{"name": "item", "type": 4, "value": 7}]}
        ]


async def test_typed_options_in_a_subcommand_group(discord_double: DiscordDouble) -> None:
    async with running(discord_double) as bot:
        handle = await discord_double.send_slash_command(
            "admin channels set",
            {
                "channel": "digest-ai",
                "role": "Moderator",
                "user": "member",
                "enabled": True,
                "weight": 0.5,
            },
            user="owner",
        )
        await handle.response()
        typed = await asyncio.wait_for(bot.outcome("typed"), 5)
        assert typed["channel"].id == discord_double.channel("digest-ai").id
        assert typed["role"].id == discord_double.role("Moderator").id
        assert isinstance(typed["user"], discord.Member)
        assert typed["user"].id == discord_double.user("member").id
        assert typed["enabled"] is True and typed["weight"] == 0.5 and typed["note"] is None
    with pytest.raises(LookupError):
        await discord_double.send_slash_command("admin channels", {})
    with pytest.raises(LookupError):
        await discord_double.send_slash_command("news approve", {"nope": 1})


async def test_unsynced_command_cannot_be_injected(discord_double: DiscordDouble) -> None:
    async with running(discord_double, sync=False):
        with pytest.raises(LookupError, match="has not been synced"):
            await discord_double.send_slash_command("news approve", {"item": 1})


async def test_defer_followup_and_edit_original(discord_double: DiscordDouble) -> None:
    async with running(discord_double) as bot:
        handle = await discord_double.send_slash_command(
            "digest publish", user="moderator", channel="review"
        )
        response = await handle.response()
        assert response.type == 5 and response.ephemeral
        extra, original_content = await asyncio.wait_for(bot.outcome("publish"), 5)
        assert original_content == "published 3 items"
        followups = await handle.wait_for_followups(3)
        # The first follow-up fills the deferred "thinking" message; later ones are new.
        assert int(followups[0]["id"]) == handle.original_id
        assert int(followups[1]["id"]) == extra.id
        assert followups[1]["content"] == "details v2"
        scratch = await discord_double.wait_until(
            lambda: discord_double.store.deleted.get(handle.followup_ids[2]), 5, "the delete"
        )
        assert scratch["content"] == "scratch"
        original = await handle.wait_for_original(lambda m: m["content"] == "published 3 items")
        assert not original["flags"] & (1 << 7)  # no longer loading
        assert original["flags"] & 64  # ephemeral as deferred
        assert [e["content"] for e in handle.original_edits] == ["published 3 items"]
        assert discord_double.messages("review") == []


async def test_second_acknowledgement_is_40060(discord_double: DiscordDouble) -> None:
    async with running(discord_double) as bot:
        handle = await discord_double.send_slash_command("twice")
        exc = await asyncio.wait_for(bot.outcome("twice"), 5)
        assert isinstance(exc, discord.HTTPException)
        assert exc.status == 400 and exc.code == 40060
        assert (await handle.response()).data == {"tts": False, "content": "first"}
        rejection = await handle.rejection()
        assert rejection.code == 40060
        assert [m["content"] for m in discord_double.messages("general")] == ["first"]


async def test_late_first_response_is_10062(discord_double_factory: DoubleFactory) -> None:
    clock = ManualClock()
    double = await discord_double_factory(clock=clock)
    async with running(double) as bot:
        handle = await double.send_slash_command("slow")
        clock.advance(double.interaction_deadline + 0.5)
        bot.gate.set()
        exc = await asyncio.wait_for(bot.outcome("slow"), 5)
        assert isinstance(exc, discord.NotFound) and exc.code == 10062
        assert (await handle.rejection()).code == 10062
        assert handle.ack is None


async def test_button_click_round_trip(discord_double: DiscordDouble) -> None:
    async with running(discord_double) as bot:
        # discord.py stores the view only after the callback's HTTP answer; a click injected
        # before the handler finished would race it (a real user cannot click that fast).
        completed = asyncio.ensure_future(bot.wait_for("app_command_completion", timeout=5))
        command = await discord_double.send_slash_command("review", channel="review", user="owner")
        await command.response()
        await completed
        posted = await discord_double.wait_for_message("review")
        assert posted["components"][0]["components"][0]["custom_id"] == "review:approve:1"
        click = await discord_double.click_button(posted, "review:approve:1", user="moderator")
        response = await click.response()
        assert response.type == 7
        updated = discord_double.message(posted["id"])
        assert updated["content"] == "Approved by moderator"
        assert updated["components"] == []
        assert click.payload["message"]["id"] == posted["id"]
        with pytest.raises(LookupError):
            await discord_double.click_button(posted, "review:approve:1")

        completed = asyncio.ensure_future(bot.wait_for("app_command_completion", timeout=5))
        second = await discord_double.send_slash_command("review", channel="review")
        await completed
        other = await discord_double.wait_for_message("review", lambda m: m["id"] != posted["id"])
        click = await discord_double.click_button(other, "review:reject:1")
        assert (await click.response()).type == 6
        edited = await click.wait_for_original(lambda m: m["content"] == "Rejected")
        assert edited["id"] == other["id"] and edited["components"] == []
        assert second.original is not None and second.original["id"] == other["id"]


async def test_modal_submit_round_trip(discord_double: DiscordDouble) -> None:
    async with running(discord_double):
        command = await discord_double.send_slash_command("reject", user="moderator")
        shown = await command.response()
        assert shown.type == 9 and shown.data is not None
        assert shown.data["custom_id"] == "reject-modal"
        submit = await discord_double.submit_modal(
            "reject-modal", {"reason": "off topic"}, user="moderator"
        )
        answer = await submit.response()
        assert answer.type == 4 and answer.data is not None
        assert answer.data["content"] == "Rejected: off topic"
        with pytest.raises(LookupError):
            await discord_double.submit_modal("reject-modal", {"nope": "x"})


async def test_autocomplete(discord_double: DiscordDouble) -> None:
    async with running(discord_double):
        handle = await discord_double.send_autocomplete(
            "news show", {"item": "ai"}, focused="item", user="member"
        )
        response = await handle.response()
        assert response.type == 8 and response.data is not None
        assert [c["value"] for c in response.data["choices"]] == ["ai-0", "ai-1", "ai-2"]
        focused = handle.payload["data"]["options"][0]["options"][0]
        assert focused == {"name": "item", "type": 3, "value": "ai", "focused": True}


# ---------------------------------------------------------------------------- messages


async def test_content_over_2000_is_50035_with_nested_error(
    discord_double: DiscordDouble,
) -> None:
    async with running(discord_double, sync=False) as bot:
        channel = text_channel(bot, discord_double, "digest-general")
        with pytest.raises(discord.HTTPException) as info:
            await channel.send("x" * 2001)
        assert info.value.status == 400 and info.value.code == 50035
        assert "In content: Must be 2000 or fewer in length." in info.value.text
        await channel.send("x" * 2000)
    async with (
        raw_session(discord_double) as session,
        session.post(
            f"{discord_double.api_base}/channels/{channel.id}/messages",
            json={"content": "y" * 2001},
        ) as response,
    ):
        assert response.headers["Content-Type"] == "application/json"
        body = await response.json()
    assert body == {
        "message": "Invalid Form Body",
        "code": 50035,
        "errors": {
            "content": {
                "_errors": [
                    {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
                ]
            }
        },
    }


async def test_embed_limits(roomy_double: DiscordDouble) -> None:
    async with running(roomy_double, sync=False) as bot:
        channel = text_channel(bot, roomy_double, "digest-general")
        with pytest.raises(discord.HTTPException) as info:
            await bot.http.send_message(
                channel.id, params=raw_params({"embeds": [{"title": f"t{i}"} for i in range(11)]})
            )
        assert info.value.code == 50035
        assert "In embeds: Must be 10 or fewer in length." in info.value.text
        big = [discord.Embed(description="d" * 4000), discord.Embed(description="e" * 2001)]
        with pytest.raises(discord.HTTPException) as info:
            await channel.send(embeds=big)
        assert "Embed size exceeds maximum size of 6000" in info.value.text
        with pytest.raises(discord.HTTPException) as info:
            await channel.send(embed=discord.Embed(title="t" * 257))
        assert "In embeds.0.title: Must be 256 or fewer in length." in info.value.text
        too_many_fields = discord.Embed(title="fields")
        for i in range(26):
            too_many_fields.add_field(name=f"n{i}", value="v")
        with pytest.raises(discord.HTTPException) as info:
            await channel.send(embed=too_many_fields)
        assert "In embeds.0.fields: Must be 25 or fewer in length." in info.value.text
        long_field = discord.Embed().add_field(name="n", value="v" * 1025)
        long_field.set_footer(text="f" * 2049).set_author(name="a" * 257)
        with pytest.raises(discord.HTTPException) as info:
            await channel.send(embed=long_field)
        for path in ("embeds.0.fields.0.value", "embeds.0.footer.text", "embeds.0.author.name"):
            assert f"In {path}:" in info.value.text
        ok = await channel.send(embeds=[discord.Embed(title="a" * 256, description="b" * 4096)])
        assert ok.embeds[0].title == "a" * 256
        assert len(roomy_double.messages("digest-general")) == 1


async def test_empty_nonce_and_component_limits(roomy_double: DiscordDouble) -> None:
    async with running(roomy_double, sync=False) as bot:
        channel = text_channel(bot, roomy_double, "general")
        with pytest.raises(discord.HTTPException) as info:
            await channel.send()
        assert info.value.status == 400 and info.value.code == 50006
        with pytest.raises(discord.HTTPException) as info:
            await channel.send("   ")
        assert info.value.code == 50006
        with pytest.raises(discord.HTTPException) as info:
            await channel.send("hi", nonce="n" * 26)
        assert "In nonce: Must be 25 or fewer in length." in info.value.text

        def button(custom_id: str) -> dict[str, Any]:
            return {"type": 2, "style": 1, "label": "b", "custom_id": custom_id}

        payloads = {
            "components.0.components.0.custom_id": [{"type": 1, "components": [button("c" * 101)]}],
            "components: Must be 5 or fewer": [
                {"type": 1, "components": [button(f"r{i}")]} for i in range(6)
            ],
            "components.0.components: Must be between 1 and 5": [
                {"type": 1, "components": [button(f"b{i}") for i in range(6)]}
            ],
        }
        for expected, components in payloads.items():
            with pytest.raises(discord.HTTPException) as info:
                await bot.http.send_message(
                    channel.id, params=raw_params({"content": "c", "components": components})
                )
            assert info.value.code == 50035
            assert f"In {expected}" in info.value.text, info.value.text
        assert roomy_double.messages("general") == []


async def test_permissions_and_unknown_channel(discord_double: DiscordDouble) -> None:
    double = discord_double
    async with running(double, sync=False) as bot:
        with pytest.raises(discord.Forbidden) as forbidden:
            await text_channel(bot, double, "read-only").send("no")
        assert forbidden.value.status == 403 and forbidden.value.code == 50013
        with pytest.raises(discord.Forbidden) as no_access:
            await text_channel(bot, double, "hidden").send("no")
        assert no_access.value.code == 50001
        with pytest.raises(discord.NotFound) as unknown:
            await bot.get_partial_messageable(12345).send("no")
        assert unknown.value.code == 10003
        general = text_channel(bot, double, "general")
        updated = asyncio.ensure_future(bot.wait_for("guild_channel_update", timeout=5))
        await double.set_overwrite("general", "bot-role", deny=Permission.EMBED_LINKS)
        await updated
        assert not general.permissions_for(general.guild.me).embed_links
        with pytest.raises(discord.Forbidden) as no_embeds:
            await general.send(embed=discord.Embed(title="t"))
        assert no_embeds.value.code == 50013
        await general.send("plain text still works")
        await double.delete_channel("general")
        with pytest.raises(discord.NotFound):
            await bot.http.send_message(general.id, params=raw_params({"content": "x"}))


async def test_history_edit_delete_and_files(roomy_double: DiscordDouble) -> None:
    async with running(roomy_double, sync=False) as bot:
        channel = text_channel(bot, roomy_double, "digest-ai")
        sent = [await channel.send(f"m{i}") for i in range(5)]
        roomy_double.add_message("digest-ai", "member", "chatter")
        newest = [m.content async for m in channel.history(limit=3)]
        assert newest == ["chatter", "m4", "m3"]
        after = [m.content async for m in channel.history(after=sent[1], limit=10)]
        assert after == ["m2", "m3", "m4", "chatter"]
        before = [m.content async for m in channel.history(before=sent[2], limit=10)]
        assert before == ["m1", "m0"]
        fetched = await channel.fetch_message(sent[0].id)
        assert fetched.content == "m0" and fetched.author.id == roomy_double.bot_user.id
        edited = await sent[0].edit(content="m0 edited")
        assert edited.content == "m0 edited" and edited.edited_at is not None
        await sent[1].delete()
        assert [m["content"] for m in roomy_double.messages("digest-ai")] == [
            "m0 edited",
            "m2",
            "m3",
            "m4",
            "chatter",
        ]
        with_file = await channel.send(
            "with file", file=discord.File(io.BytesIO(b"hello"), filename="digest.txt")
        )
        assert [a.filename for a in with_file.attachments] == ["digest.txt"]
        record = roomy_double.requests_to("POST /channels/*/messages")[-1]
        assert record.files == ["digest.txt"] and record.json["content"] == "with file"
        assert record.headers["Content-Type"].startswith("multipart/form-data")


async def test_nonce_dedupe(discord_double_factory: DoubleFactory) -> None:
    clock = ManualClock()
    double = await discord_double_factory(clock=clock, nonce_ttl=120.0)
    async with running(double, sync=False) as bot:
        channel = text_channel(bot, double, "digest-general")
        first = await channel.send("digest 1 part 1", nonce="d1-p1")
        again = await channel.send("digest 1 part 1", nonce="d1-p1")
        assert again.id == first.id
        assert len(double.messages("digest-general")) == 1
        assert double.requests_to("POST /channels/*/messages")[-1].json["enforce_nonce"] is True
        clock.advance(121)
        later = await channel.send("digest 1 part 1", nonce="d1-p1")
        assert later.id != first.id


# ---------------------------------------------------------------------------- rate limits


async def test_raw_burst_gets_429_with_via_and_retry_after(
    discord_double_factory: DoubleFactory,
) -> None:
    clock = ManualClock()
    double = await discord_double_factory(clock=clock)
    url = f"{double.api_base}/channels/{double.channel('digest-general').id}/messages"
    other = f"{double.api_base}/channels/{double.channel('general').id}/messages"
    async with raw_session(double) as session:
        remaining = []
        for i in range(5):
            async with session.post(url, json={"content": f"m{i}"}) as response:
                assert response.status == 200
                assert response.headers["X-RateLimit-Limit"] == "5"
                assert response.headers["X-RateLimit-Reset-After"] == "5.000"
                remaining.append(response.headers["X-RateLimit-Remaining"])
        assert remaining == ["4", "3", "2", "1", "0"]
        async with session.post(url, json={"content": "m5"}) as response:
            assert response.status == 429
            assert response.headers["Via"] == "1.1 google"
            assert response.headers["Retry-After"] == "5"
            assert response.headers["X-RateLimit-Scope"] == "user"
            assert response.headers["Content-Type"] == "application/json"
            body = await response.json()
        assert body == {
            "message": "You are being rate limited.",
            "code": 0,
            "retry_after": 5.0,
            "global": False,
        }
        async with session.post(other, json={"content": "other channel"}) as response:
            assert response.status == 200
        clock.advance(5)
        async with session.post(url, json={"content": "m6"}) as response:
            assert response.status == 200
    assert double.count_429 == 1
    assert len(double.messages("digest-general")) == 6


async def test_raw_global_limit(discord_double_factory: DoubleFactory) -> None:
    double = await discord_double_factory(
        clock=ManualClock(), rate_limits=RateLimitConfig(global_limit=3)
    )
    async with raw_session(double) as session:
        statuses = []
        for _ in range(4):
            async with session.get(f"{double.api_base}/users/@me") as response:
                statuses.append(response.status)
                headers, body = response.headers, await response.json()
    assert statuses == [200, 200, 200, 429]
    assert headers["X-RateLimit-Global"] == "true" and headers["Via"] == "1.1 google"
    assert body["global"] is True and body["retry_after"] == 1.0


async def test_discord_py_paces_itself_and_sees_no_429(
    discord_double_factory: DoubleFactory,
) -> None:
    double = await discord_double_factory(
        rate_limits=RateLimitConfig(message_create=BucketSpec(5, 1.0))
    )
    async with running(double, sync=False) as bot:
        channel = text_channel(bot, double, "digest-general")
        await asyncio.gather(*(channel.send(f"part {i}") for i in range(7)))
    assert double.count_429 == 0
    assert len(double.messages("digest-general")) == 7
    times = sorted(r.at for r in double.requests_to("POST /channels/*/messages"))
    assert times[5] - times[0] >= 1.0


async def test_injected_500_is_retried_and_creates_once(discord_double: DiscordDouble) -> None:
    async with running(discord_double, sync=False) as bot:
        discord_double.fail_next(1, 500, "POST /channels/{channel_id}/messages")
        message = await text_channel(bot, discord_double, "general").send("survives a 500")
    posts = discord_double.requests_to("POST /channels/*/messages")
    assert [r.status for r in posts] == [500, 200]
    assert [m["id"] for m in discord_double.messages("general")] == [str(message.id)]


async def test_delay_drop_and_html_502(discord_double: DiscordDouble) -> None:
    double = discord_double
    url = f"{double.api_base}/channels/{double.channel('general').id}"
    async with raw_session(double) as session:
        double.delay(0.2, "GET /channels/*", count=1)
        with pytest.raises(TimeoutError):
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=0.05)):
                pass
        async with session.get(url) as response:
            assert response.status == 200
        # aiohttp silently retries an idempotent GET on a dropped keep-alive connection,
        # discord.py's POSTs are not retried: they see the disconnect.
        double.drop_next(1, "POST /channels/*/messages")
        with pytest.raises(aiohttp.ClientError):
            async with session.post(url + "/messages", json={"content": "lost"}):
                pass
        assert double.messages("general") == []
        double.fail_next(1, 502)
        async with session.get(url) as response:
            assert response.status == 502
            assert response.headers["Content-Type"].startswith("text/html")


# ---------------------------------------------------------------------------- gateway


async def test_gateway_close_resumes_and_interactions_still_answered(
    discord_double: DiscordDouble,
) -> None:
    double = discord_double
    async with running(double) as bot:
        resumed = asyncio.ensure_future(bot.wait_for("resumed", timeout=5))
        await double.close_gateway(4000)
        await double.wait_for_resume()
        await resumed
        handle = await double.send_slash_command("news approve", {"item": 1})
        assert (await handle.response()).type == 4

        # An interaction created while the bot is offline is replayed on RESUME.
        double.hold_gateway()
        await double.close_gateway(1001)
        offline = await double.send_slash_command("news approve", {"item": 2})
        double.release_gateway()
        assert (await offline.response()).data == {
            "tts": False,
            "content": "approved 2",
            "flags": 64,
        }
        resumes = [e for e in double.gateway.log if e.kind == "resumed"]
        assert len(resumes) == 2 and resumes[-1].detail["replayed"] >= 1

        await double.send_reconnect()
        await double.wait_for_resume(count=3)
        assert double.gateway.count("ready") == 1


async def test_heartbeats_are_acknowledged(discord_double_factory: DoubleFactory) -> None:
    double = await discord_double_factory(heartbeat_interval=0.05)
    async with running(double, sync=False) as bot:
        await double.wait_until(lambda: double.gateway.heartbeats >= 4, 5, "heartbeats")
        assert bot.latency < 1.0


async def test_member_role_removed_at_runtime(discord_double: DiscordDouble) -> None:
    double = discord_double
    async with running(double) as bot:
        updated = asyncio.ensure_future(bot.wait_for("member_update", timeout=5))
        await double.remove_role("moderator", "Moderator")
        before, after = await updated
        assert [r.name for r in before.roles][1:] == ["Moderator"]
        assert [r.name for r in after.roles] == ["@everyone"]
        handle = await double.send_slash_command("news approve", {"item": 3}, user="moderator")
        assert handle.payload["member"]["roles"] == []
        await handle.response()


async def test_raw_gateway_protocol(discord_double: DiscordDouble) -> None:
    double = discord_double
    url = f"{double.gateway_url}?v=10&encoding=json&compress=zlib-stream"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as ws:
            hello = await ws.receive_json(timeout=5)
            assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] == 41250
            await ws.send_json({"op": 1, "d": None})
            assert (await ws.receive_json(timeout=5)) == {"op": 11}
            await ws.send_json(
                {"op": 6, "d": {"token": double.token, "session_id": "nope", "seq": 3}}
            )
            assert (await ws.receive_json(timeout=5)) == {"op": 9, "d": False}
            await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 1, "properties": {}}})
            closing = await ws.receive(timeout=5)
            assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4004
        async with session.ws_connect(url) as ws:
            await ws.receive_json(timeout=5)
            await ws.send_json(
                {"op": 2, "d": {"token": double.token, "intents": 1, "properties": {}}}
            )
            ready = await ws.receive_json(timeout=5)
            assert ready["t"] == "READY" and ready["s"] == 1
            assert ready["d"]["application"]["id"] == str(double.application_id)
            assert ready["d"]["resume_gateway_url"] == double.gateway_url
            guild = await ws.receive_json(timeout=5)
            assert guild["t"] == "GUILD_CREATE" and guild["s"] == 2
            assert len(guild["d"]["members"]) == 1  # no GUILD_MEMBERS intent
            session_id = ready["d"]["session_id"]
        await double.wait_until(
            lambda: double.gateway.count("client_close") >= 2, 5, "the client to close"
        )
        # Closed with 1000 by the client: the session cannot be resumed.
        async with session.ws_connect(url) as ws:
            await ws.receive_json(timeout=5)
            await ws.send_json(
                {"op": 6, "d": {"token": double.token, "session_id": session_id, "seq": 2}}
            )
            assert (await ws.receive_json(timeout=5)) == {"op": 9, "d": False}


# ---------------------------------------------------------------------------- bookkeeping


async def test_unknown_routes_are_recorded_and_fail_the_fixture(
    discord_double_factory: DoubleFactory,
) -> None:
    double = await discord_double_factory()
    async with (
        raw_session(double) as session,
        session.post(f"{double.api_base}/channels/1/pins/2") as response,
    ):
        assert response.status == 404
        assert json.loads(await response.text()) == {"message": "404: Not Found", "code": 0}
        async with session.get(f"http://127.0.0.1:{double.port}/api/v9/users/@me") as other:
            assert other.status == 404
    assert [(r.method, r.path) for r in double.unknown_routes] == [
        ("POST", "/channels/1/pins/2"),
        ("GET", "/api/v9/users/@me"),
    ]
    with pytest.raises(pytest.fail.Exception, match="POST /channels/1/pins/2"):
        assert_no_unknown_routes(double)
    double.unknown_routes.clear()


async def test_custom_guild_builder(discord_double_factory: DoubleFactory) -> None:
    def tiny(bot: User, ids: SnowflakeGenerator) -> Guild:
        b = GuildBuilder("Tiny", ids=ids, id=4242)
        editors = b.role("Editors", Permission.MANAGE_MESSAGES)
        b.member("alice", roles=[editors], owner=True)
        b.add_user(bot, key="bot")
        b.text_channel(
            "news", id=777, overwrites=[b.overwrite(editors, allow=Permission.VIEW_CHANNEL)]
        )
        return b.build()

    double = await discord_double_factory(guild=tiny)
    assert double.guild.id == 4242 and double.channel("news").id == 777
    assert double.bot_permissions("news") & Permission.SEND_MESSAGES
    async with running(double, sync=False) as bot:
        guild = bot.get_guild(4242)
        assert guild is not None and guild.get_channel(777) is not None
        assert guild.owner_id == double.user("alice").id


async def test_only_the_user_of_an_ephemeral_message_can_click_it(
    discord_double: DiscordDouble,
) -> None:
    owner = discord_double.user("moderator")
    button = {"type": 2, "style": 1, "label": "Go", "custom_id": "deck:go"}
    message = discord_double.store.create(
        channel_id=discord_double.channel("general").id,
        guild_id=discord_double.guild.id,
        author=discord_double.bot_user,
        body={
            "content": "only you",
            "flags": 64,
            "components": [{"type": 1, "components": [button]}],
        },
        ephemeral=True,
        extra={"interaction_metadata": {"id": "1", "type": 2, "user": {"id": str(owner.id)}}},
    )
    assert discord_double.messages("general") == []  # nobody else sees it in the channel
    with pytest.raises(LookupError, match=f"ephemeral: only user {owner.id} sees it"):
        await discord_double.click_button(message, "deck:go", user="member")


# ---------------------------------------------------------------------------- mentions, roles


def mention_guild() -> Guild:
    b = GuildBuilder("Mentions")
    quiet = b.role("Quiet")  # not mentionable
    b.role("Loud", mentionable=True)
    b.member("owner", owner=True, roles=[quiet])
    return b.build()


@pytest.mark.parametrize(
    ("allowed", "perms", "roles", "users", "everyone"),
    [
        (None, 0, ["Loud"], ["owner"], False),  # no allowed_mentions: the content decides
        (None, Permission.MENTION_EVERYONE, ["Quiet", "Loud"], ["owner"], True),
        ({"parse": []}, Permission.MENTION_EVERYONE, [], [], False),
        ({"parse": [], "roles": ["Quiet"]}, Permission.MENTION_EVERYONE, ["Quiet"], [], False),
        ({"parse": [], "roles": ["Quiet"]}, 0, [], [], False),  # not mentionable, no right
        ({"parse": ["users"]}, Permission.MENTION_EVERYONE, [], ["owner"], False),
        ({"parse": ["everyone"]}, 0, [], [], False),  # @everyone needs Mention Everyone
    ],
)
def test_who_a_message_pings(
    allowed: dict[str, Any] | None, perms: int, roles: list[str], users: list[str], everyone: bool
) -> None:
    guild = mention_guild()
    if allowed and "roles" in allowed:
        allowed = {**allowed, "roles": [str(guild.lookup(r)) for r in allowed["roles"]]}
    quiet, loud, owner = (guild.lookup(k) for k in ("Quiet", "Loud", "owner"))
    content = f"<@&{quiet}> <@&{loud}> <@{owner}> @everyone \\<@&{loud}> <@&999>"
    pinged = resolve_mentions(content, allowed, guild, perms)
    assert pinged["mention_roles"] == [str(guild.lookup(r)) for r in roles]
    assert [u["id"] for u in pinged["mentions"]] == [str(guild.lookup(u)) for u in users]
    assert pinged["mention_everyone"] is everyone


@pytest.mark.parametrize(
    ("allowed", "code"),
    [
        ({"parse": ["roles"], "roles": ["1"]}, "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"),
        ({"parse": ["users"], "users": ["1"]}, "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"),
        ({"parse": ["admins"]}, "ENUM_TYPE_COERCE"),
        ({"parse": [], "roles": [str(n) for n in range(101)]}, "BASE_TYPE_MAX_LENGTH"),
    ],
)
def test_allowed_mentions_discord_refuses(allowed: dict[str, Any], code: str) -> None:
    errors = FormErrors()
    check_allowed_mentions(errors, allowed)
    assert code in json.dumps(errors.tree)
    ok = FormErrors()
    check_allowed_mentions(ok, {"parse": [], "roles": ["1"]})
    assert not ok


async def test_member_role_edits_follow_manage_roles_and_the_hierarchy(
    discord_double_factory: DoubleFactory,
) -> None:
    def build(bot: User, ids: SnowflakeGenerator) -> Guild:
        b = GuildBuilder("Roles", ids=ids)
        low = b.role("Low", position=1)
        b.role("High", position=5)
        b.role("Integration", position=2, bot_id=12345)
        manager = b.role("Manager", Permission.MANAGE_ROLES, position=3)
        b.member("owner", owner=True)
        b.member("reader", roles=[low])
        b.add_user(bot, roles=[manager], key="bot")
        return b.build()

    double = await discord_double_factory(guild=build)
    guild, reader = double.guild, double.user("reader")
    async with running(double) as bot:
        route = "/guilds/{g}/members/{u}/roles/{r}"

        async def edit(method: str, role: str) -> int | None:
            path = route.format(g=guild.id, u=reader.id, r=double.role(role).id)
            try:
                await bot.http.request(Route(method, path))
            except discord.HTTPException as exc:
                return exc.code
            return None

        assert await edit("DELETE", "Low") is None
        assert double.role("Low").id not in reader.role_ids
        assert await edit("PUT", "Low") is None
        assert double.role("Low").id in reader.role_ids
        assert await edit("PUT", "High") == 50013  # above the bot's highest role
        assert await edit("PUT", "Integration") == 50013  # managed by an integration
        double.role("Manager").permissions = 0
        assert await edit("DELETE", "Low") == 50013  # no Manage Roles
        assert double.role_edits == [
            ("remove", reader.id, double.role("Low").id),
            ("add", reader.id, double.role("Low").id),
        ]


async def test_a_thread_on_a_message_follows_discords_rules(discord_double: DiscordDouble) -> None:
    double = discord_double
    channel = double.channel("digest-general").id
    async with running(double) as bot:
        message = double.add_message("digest-general", "bot", "hello")
        path = f"/channels/{channel}/messages/{message['id']}/threads"

        async def start(name: str) -> tuple[int | None, Any]:
            try:
                return None, await bot.http.request(Route("POST", path), json={"name": name})
            except discord.HTTPException as exc:
                return exc.code, None

        assert (await start(""))[0] == 50035
        assert (await start("x" * 101))[0] == 50035
        code, thread = await start("Talk")
        assert code is None and thread["id"] == message["id"] and thread["type"] == 11
        assert thread["parent_id"] == str(channel)
        assert "thread_metadata" in thread
        assert (await start("Again"))[0] == 160004  # one thread per message
        assert double.message(message["id"])["thread"]["name"] == "Talk"
        listed = await bot.http.request(Route("GET", f"/guilds/{double.guild.id}/channels"))
        assert thread["id"] not in {c["id"] for c in listed}  # threads are not listed there


async def test_forum_posts_follow_discords_rules(discord_double_factory: DoubleFactory) -> None:
    def build(bot: User, ids: SnowflakeGenerator) -> Guild:
        b = GuildBuilder("Forums", ids=ids)
        b.member("owner", owner=True)
        b.add_user(bot, key="bot")
        b.forum_channel("news", tags=("AI", "Digest"), require_tag=True)
        return b.build()

    double = await discord_double_factory(guild=build)
    forum = double.channel("news")
    tag = int(forum.available_tags[1]["id"])
    async with running(double, sync=False) as bot:
        route = Route("POST", f"/channels/{forum.id}/threads")

        async def post(**body: Any) -> tuple[int | None, Any]:
            try:
                return None, await bot.http.request(route, json=body)
            except discord.HTTPException as exc:
                return exc.code, None

        starter = {"content": "first part", "allowed_mentions": {"parse": []}}
        assert (await post(name="Digest", message=starter))[0] == 40067  # a tag is required
        assert (await post(name="Digest", message=starter, applied_tags=["1"]))[0] == 50035
        assert (await post(name="", message=starter, applied_tags=[str(tag)]))[0] == 50035
        code, made = await post(name="Digest", message=starter, applied_tags=[str(tag)])
        assert code is None and made["id"] == made["message"]["id"]
        assert made["parent_id"] == str(forum.id) and made["applied_tags"] == [str(tag)]
        again = await post(name="Digest", message=starter, applied_tags=[str(tag)])
        assert again[0] is None and again[1]["id"] != made["id"]  # no nonce: two posts
        with pytest.raises(discord.HTTPException) as refused:
            await bot.http.send_message(forum.id, params=raw_params({"content": "x"}))
        assert refused.value.code == 50008  # a forum takes posts, not messages
        active = await bot.http.get_active_threads(double.guild.id)
        assert {t["id"] for t in active["threads"]} == {made["id"], again[1]["id"]}
        archive(double.channel(int(made["id"])))
        listed = await bot.http.get_public_archived_threads(forum.id)
        assert [t["id"] for t in listed["threads"]] == [made["id"]] and not listed["has_more"]
        await bot.http.send_message(int(made["id"]), params=raw_params({"content": "second part"}))
        assert not double.channel(int(made["id"])).archived  # a message reopens the post
        assert [m["content"] for m in double.messages(int(made["id"]))] == [
            "first part",
            "second part",
        ]


async def test_crossposts_follow_discords_rules(discord_double_factory: DoubleFactory) -> None:
    def build(bot: User, ids: SnowflakeGenerator) -> Guild:
        b = GuildBuilder("News", ids=ids)
        b.member("owner", owner=True)
        b.add_user(bot, key="bot")
        b.text_channel("alerts", type=5)
        b.text_channel("plain")
        return b.build()

    double = await discord_double_factory(
        guild=build, rate_limits=RateLimitConfig(crosspost=BucketSpec(5, 3600.0))
    )
    async with running(double, sync=False) as bot:

        async def crosspost(channel: str, text: str) -> int | None:
            ch = double.channel(channel).id
            sent = await bot.http.send_message(ch, params=raw_params({"content": text}))
            try:
                await bot.http.publish_message(ch, sent["id"])
            except discord.HTTPException as exc:
                return exc.code
            return None

        assert await crosspost("plain", "not news") == 50024  # only announcement channels
        assert await crosspost("alerts", "one") is None
        first = double.messages("alerts")[0]
        assert first["flags"] & 1 and double.crossposts == [int(first["id"])]
        with pytest.raises(discord.HTTPException) as again:
            await bot.http.publish_message(double.channel("alerts").id, first["id"])
        assert again.value.code == 40033  # once per message
        assert await crosspost("alerts", "two") is None
        answers = double.requests_to("POST /channels/*/messages/*/crosspost")
        assert [r.status for r in answers] == [400, 200, 400, 200]
        assert len(double.crossposts) == 2
        # The hour's bucket, as Discord reports it (4xx answers count too).
        remaining = [r for r in answers if r.path.startswith(f"/channels/{first['channel_id']}")]
        assert len(remaining) == 3


async def test_a_select_menu_takes_only_what_it_offers(discord_double: DiscordDouble) -> None:
    double = discord_double
    menu = {
        "type": 3,
        "custom_id": "pick",
        "min_values": 0,
        "max_values": 2,
        "options": [{"label": "A", "value": "a"}, {"label": "B", "value": "b"}],
    }
    async with raw_session(double) as session:
        channel = double.channel("review").id
        async with session.post(
            f"{double.api_base}/channels/{channel}/messages",
            json={"content": "choose", "components": [{"type": 1, "components": [menu]}]},
        ) as answer:
            assert answer.status == 200, await answer.text()
            message = await answer.json()
    with pytest.raises(ValueError, match="offers no"):
        await double.choose(message, "pick", ["c"])
    with pytest.raises(ValueError, match="takes 0 to 2 values"):
        await double.choose(message, "pick", ["a", "b", "a"])
    with pytest.raises(LookupError, match="no select menu"):
        await double.choose(message, "other", ["a"])
