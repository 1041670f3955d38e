"""The double's channel webhooks follow Discord's rules (see tests/discord_double/webhooks.py),
through discord.py's own webhook client, as newsbot uses them."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from discord.http import Route

from tests.discord_double import DiscordDouble, DoubleFactory, GuildBuilder, User
from tests.discord_double.clock import SnowflakeGenerator
from tests.discord_double.forum import archive
from tests.discord_double.permissions import Permission
from tests.discord_double.state import BOT_ROLE_PERMISSIONS, Guild
from tests.discord_double.webhooks import avatar_hash
from tests.test_discord_double import raw_params, running

AVATAR = "https://cdn.example.org/brand/wire.png"


def newsroom(*, manage_webhooks: bool = True) -> Any:
    def build(bot: User, ids: SnowflakeGenerator) -> Guild:
        b = GuildBuilder("Webhooks", ids=ids)
        extra = Permission.CREATE_PUBLIC_THREADS
        extra |= Permission.MANAGE_WEBHOOKS if manage_webhooks else 0
        bot_role = b.role("newsbot", BOT_ROLE_PERMISSIONS | extra, key="bot-role", position=1)
        b.member("owner", owner=True)
        b.add_user(bot, roles=[bot_role], key="bot")
        b.text_channel("news")
        b.forum_channel("forum", tags=("AI", "Digest"))
        return b.build()

    return build


async def code_of(call: Any) -> int | None:
    try:
        await call
    except discord.HTTPException as exc:
        return exc.code
    return None


async def test_making_and_listing_webhooks_needs_manage_webhooks_and_keeps_the_rules(
    discord_double_factory: DoubleFactory,
) -> None:
    double = await discord_double_factory(guild=newsroom())
    news = double.channel("news").id
    async with running(double, sync=False) as bot:
        http = bot.http
        assert await code_of(http.create_webhook(news, name="Discord News")) == 50035
        assert await code_of(http.create_webhook(news, name="x" * 81)) == 50035
        made = await http.create_webhook(news, name="newsbot")
        assert made["user"]["id"] == str(double.bot_user.id) and made["token"]
        assert made["application_id"] == str(double.application_id)
        listed = await http.channel_webhooks(news)
        assert [w["id"] for w in listed] == [made["id"]] and listed[0]["token"] == made["token"]
        for n in range(14):
            await http.create_webhook(news, name=f"hook {n}")
        assert await code_of(http.create_webhook(news, name="one too many")) == 30007
        assert len(double.webhooks) == 15


async def test_without_manage_webhooks_the_bot_can_neither_list_nor_make_one(
    discord_double_factory: DoubleFactory,
) -> None:
    double = await discord_double_factory(guild=newsroom(manage_webhooks=False))
    news = double.channel("news").id
    async with running(double, sync=False) as bot:
        assert await code_of(bot.http.channel_webhooks(news)) == 50013
        assert await code_of(bot.http.create_webhook(news, name="newsbot")) == 50013
    assert double.webhooks == {}


async def webhook_in(bot: discord.Client, double: DiscordDouble, key: str) -> discord.Webhook:
    data = await bot.http.create_webhook(double.channel(key).id, name="newsbot")
    return discord.Webhook.partial(int(data["id"]), data["token"], client=bot)


async def test_an_execution_is_shown_as_the_webhook_with_the_name_and_avatar_asked_for(
    discord_double_factory: DoubleFactory,
) -> None:
    double = await discord_double_factory(guild=newsroom())
    async with running(double, sync=False) as bot:
        hook = await webhook_in(bot, double, "news")
        sent = await hook.send("Morning news", username="The Wire", avatar_url=AVATAR, wait=True)
        unwaited = await hook.send("no answer wanted")
        assert unwaited is None  # without wait=true Discord answers 204
        assert await code_of(hook.send("x", username="clyde bot", wait=True)) == 50035
        wrong = discord.Webhook.partial(hook.id, "not-the-token", client=bot)
        assert await code_of(wrong.send("x", wait=True)) == 50027
    [message, _] = double.messages("news")
    assert int(message["id"]) == sent.id and message["webhook_id"] == str(hook.id)
    assert message["author"]["id"] == str(hook.id)
    assert message["author"]["username"] == "The Wire"
    assert message["author"]["avatar"] == avatar_hash(AVATAR)
    assert "nonce" not in message


async def test_in_a_forum_a_thread_name_makes_a_post_and_a_thread_id_adds_to_it(
    discord_double_factory: DoubleFactory,
) -> None:
    double = await discord_double_factory(guild=newsroom())
    forum = double.channel("forum")
    tag = discord.Object(int(forum.available_tags[1]["id"]))
    async with running(double, sync=False) as bot:
        hook = await webhook_in(bot, double, "forum")
        assert await code_of(hook.send("no thread", wait=True)) == 220001
        starter = await hook.send(
            "part 1",
            thread_name="Morning news",
            applied_tags=[tag],  # type: ignore[list-item]  # only the id is read
            wait=True,
        )
        post = double.guild.channels[starter.id]
        assert post.name == "Morning news" and post.parent_id == forum.id
        assert post.applied_tags == [tag.id] and post.owner_id == hook.id
        archive(post)
        second = await hook.send("part 2", thread=discord.Object(post.id), wait=True)
        assert not post.archived  # sending reopened it
        news = await webhook_in(bot, double, "news")
        assert await code_of(news.send("x", thread_name="nope", wait=True)) == 220003
        assert await code_of(news.send("x", thread=discord.Object(post.id), wait=True)) == 10003
        fetched = await hook.fetch_message(second.id, thread=discord.Object(post.id))
        assert fetched.content == "part 2"
    assert [m["content"] for m in double.messages(post.id)] == ["part 1", "part 2"]


async def test_a_webhook_edits_only_its_own_messages_and_mentions_are_parsed_afresh(
    discord_double_factory: DoubleFactory,
) -> None:
    double = await discord_double_factory(guild=newsroom())
    news = double.channel("news").id
    role = double.role("bot-role")
    async with running(double, sync=False) as bot:
        hook = await webhook_in(bot, double, "news")
        other = await webhook_in(bot, double, "news")
        sent = await hook.send(
            f"<@&{role.id}> news",
            allowed_mentions=discord.AllowedMentions(roles=[discord.Object(role.id)]),
            wait=True,
        )
        by_bot = await bot.http.send_message(news, params=raw_params({"content": "from the bot"}))
        edited = await hook.edit_message(
            sent.id,
            content=f"<@&{role.id}> corrected",
            allowed_mentions=discord.AllowedMentions.none(),
        )
        assert edited.content.endswith("corrected")
        assert await code_of(other.edit_message(sent.id, content="not mine")) == 10008
        assert await code_of(hook.edit_message(int(by_bot["id"]), content="x")) == 10008
        route = Route(
            "PATCH", "/channels/{c}/messages/{m}", c=news, m=sent.id
        )  # the bot's own route cannot edit the webhook's message
        assert await code_of(bot.http.request(route, json={"content": "x"})) == 50005
    stored = double.message(sent.id)
    assert stored["content"].endswith("corrected") and stored["edited_timestamp"]
    assert stored["mention_roles"] == []


@pytest.mark.parametrize("kind", ["forum", "news"])
async def test_webhooks_cannot_be_made_on_a_thread(
    discord_double_factory: DoubleFactory, kind: str
) -> None:
    double = await discord_double_factory(guild=newsroom())
    async with running(double, sync=False) as bot:
        hook = await webhook_in(bot, double, kind)
        if kind == "forum":
            made = await hook.send("start", thread_name="A post", wait=True)
            thread = made.id
        else:
            sent = await hook.send("start", wait=True)
            data = await bot.http.start_thread_with_message(
                double.channel("news").id,
                sent.id,
                name="talk",
                auto_archive_duration=1440,
                rate_limit_per_user=None,
            )
            thread = int(data["id"])
        assert await code_of(bot.http.create_webhook(thread, name="newsbot")) == 50024
