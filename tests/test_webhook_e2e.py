"""Webhook identity end to end (issue 14): a digest with ``identity: {name, avatar_url}`` is
posted through the bot's own webhook in its channel, every part under that name and avatar,
in text channels and in forums. Webhooks take no nonce: killed after Discord took a part but
before it was recorded, and restarted long after any nonce would have expired, the bot finds
the part among its webhook's messages instead of posting it twice.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_app
from bot.config import DigestChannel, Identity
from bot.discord_adapter.runner import publish_once, run_bot
from bot.errors import StartupError
from bot.ingest import ingest
from bot.store import QueueQuery, Status
from tests.discord_double import DiscordDouble, DoubleFactory, GuildBuilder, User
from tests.discord_double.clock import ManualClock, SnowflakeGenerator
from tests.discord_double.permissions import Permission
from tests.discord_double.recording import RecordedRequest
from tests.discord_double.state import BOT_ROLE_PERMISSIONS, THREAD_TYPES, Channel
from tests.discord_double.webhooks import avatar_hash
from tests.reliability import harness
from tests.test_corrections_e2e import item_in, retitle
from tests.test_publish_e2e import (
    ROOMY,
    THREE_PARTS,
    Launcher,
    approve_corpus,
    finish,
    kill,
    parts,
    settings_for,
    start_publish,
    write_config,
)

__all__ = ["start_publish"]  # the fixture, used by name

EXECUTE = "POST /webhooks/*"
MAKE_WEBHOOK = "POST /channels/*/webhooks"
WIRE = Identity(name="The Wire", avatar_url="https://cdn.example.org/brand/wire.png")
THREAD_NAME_TEMPLATE = """\
{% extends "default:digest.md.j2" %}
{% block thread_name %}{{ digest.title }}: {{ count }} stories{% endblock %}
"""


def newsroom(*, manage_webhooks: bool = True) -> Any:
    def build(bot: User, ids: SnowflakeGenerator) -> Any:
        b = GuildBuilder("Wire", ids=ids)
        perms = BOT_ROLE_PERMISSIONS | Permission.SEND_MESSAGES_IN_THREADS
        if manage_webhooks:
            perms |= Permission.MANAGE_WEBHOOKS
        bot_role = b.role("newsbot", perms, key="bot-role", position=1, bot_id=bot.id)
        b.member("owner", owner=True)
        b.add_user(bot, roles=[bot_role], key="bot")
        b.text_channel("review")
        b.text_channel("digest-general")
        b.text_channel("digest-ai")
        b.forum_channel("news", key="forum", tags=("AI", "Digest"))
        return b.build()

    return build


def executions(double: DiscordDouble) -> list[RecordedRequest]:
    return double.requests_to(EXECUTE)


def the_nth_execution(n: int) -> Any:
    """A route filter for the ``n``-th webhook execution (1-based), counted as they come."""
    seen = [0]

    def matches(request: RecordedRequest) -> bool:
        if request.method != "POST" or not request.path.startswith("/webhooks/"):
            return False
        seen[0] += 1
        return seen[0] == n

    return matches


def assert_as_the_wire(double: DiscordDouble, messages: list[dict[str, Any]]) -> None:
    [hook] = double.webhooks.values()
    for message in messages:
        assert message["webhook_id"] == str(hook.id)
        assert message["author"]["username"] == WIRE.name
        assert message["author"]["avatar"] == avatar_hash(str(WIRE.avatar_url))


async def test_a_digest_with_an_identity_is_posted_as_that_name_and_avatar_through_one_webhook(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(guild=newsroom(), rate_limits=ROOMY)
    channel = double.channel("digest-general").id
    digest = DigestChannel(channel=channel, max_items=10, identity=WIRE, **THREE_PARTS)
    settings = settings_for(double, tmp_path, digest)
    await approve_corpus(settings, tmp_path / "corpus", 20)
    first = await publish_once(settings, channel)
    assert not first.failed
    messages = double.messages(channel)
    assert len(messages) == 3
    assert_as_the_wire(double, messages)
    assert [r.query.get("wait") for r in executions(double)] == ["1"] * len(messages)
    assert all("nonce" not in (r.json or {}) for r in executions(double))
    assert all(r.json["allowed_mentions"] == {"parse": []} for r in executions(double))
    [result] = first.results
    assert result.message_ids == tuple(int(m["id"]) for m in messages)

    # The next digest (another process) finds the webhook it made instead of making one more.
    second = await publish_once(settings, channel)
    assert not second.failed and len(double.messages(channel)) > len(messages)
    assert len(double.requests_to(MAKE_WEBHOOK)) == 1 and len(double.webhooks) == 1
    assert_as_the_wire(double, double.messages(channel))


@pytest.mark.parametrize("part", [1, 2, 3], ids=["first", "middle", "last"])
async def test_killed_between_send_and_record_past_the_nonce_window_no_part_is_posted_twice(
    discord_double_factory: DoubleFactory, tmp_path: Path, start_publish: Launcher, part: int
) -> None:
    clock = ManualClock()
    double = await discord_double_factory(
        guild=newsroom(), rate_limits=ROOMY, clock=clock, nonce_ttl=120.0
    )
    channel = double.channel("digest-general").id
    digest = DigestChannel(channel=channel, max_items=10, identity=WIRE, **THREE_PARTS)
    settings = settings_for(double, tmp_path, digest)
    config = write_config(settings, tmp_path / "newsbot.yaml")
    await approve_corpus(settings, tmp_path / "corpus", 10)
    hold = double.hold(the_nth_execution(part), after_handling=True)
    process = await start_publish(double, settings, config, channel)
    [held] = await hold.wait(timeout=30)
    await kill(process)
    hold.drop()
    async with open_app(settings) as app:
        [unfinished] = await app.store.unfinished_digests()
    assert len(unfinished.messages) == 3
    # Discord took the part; the bot never learnt its id.
    assert [m.message_id is not None for m in unfinished.messages] == [
        p < part - 1 for p in range(3)
    ]
    assert len(double.messages(channel)) == part
    clock.advance(double.store.nonce_ttl + 1)  # a nonce would not help any more

    process = await start_publish(double, settings, config, channel)
    code, out, err = await finish(process)
    assert code == 0, err
    assert out.splitlines()[0] == f"resumed: posted 10 items in 3 messages to channel {channel}"
    messages = double.messages(channel)
    assert len(messages) == 3 and set(parts(messages).values()) == {1}
    assert_as_the_wire(double, messages)
    held_content = held.json["content"]
    assert sum(1 for r in executions(double) if r.json["content"] == held_content) == 1
    async with open_app(settings) as app:
        assert await app.store.unfinished_digests() == []


def forum_posts(double: DiscordDouble, forum: int) -> list[Channel]:
    return [
        c for c in double.guild.channels.values() if c.type in THREAD_TYPES and c.parent_id == forum
    ]


async def test_a_forum_digest_with_an_identity_is_one_post_named_by_the_template_block(
    discord_double_factory: DoubleFactory, tmp_path: Path, start_publish: Launcher
) -> None:
    double = await discord_double_factory(guild=newsroom(), rate_limits=ROOMY)
    forum = double.channel("forum").id
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "digest.md.j2").write_text(THREAD_NAME_TEMPLATE, encoding="utf-8")
    digest = DigestChannel(
        channel=forum,
        max_items=10,
        title="Morning wire",
        tags=("Digest",),
        identity=WIRE,
        **THREE_PARTS,
    )
    settings = replace(settings_for(double, tmp_path, digest), templates=templates)
    config = write_config(settings, tmp_path / "newsbot.yaml")
    await approve_corpus(settings, tmp_path / "corpus", 10)
    # Killed after Discord made the post (its starter is the first part) but before the bot
    # heard of it: the restarted bot finds the post, by name and starter, among the forum's.
    hold = double.hold(the_nth_execution(1), after_handling=True)
    process = await start_publish(double, settings, config, forum)
    [held] = await hold.wait(timeout=30)
    assert held.json["thread_name"] == "Morning wire: 10 stories"
    await kill(process)
    hold.drop()
    [post] = forum_posts(double, forum)

    process = await start_publish(double, settings, config, forum)
    code, _, err = await finish(process)
    assert code == 0, err
    assert forum_posts(double, forum) == [post]
    assert post.name == "Morning wire: 10 stories"
    [tag] = [t for t in double.channel(forum).available_tags if t["name"] == "Digest"]
    assert int(tag["id"]) in post.applied_tags
    messages = double.messages(post.id)
    assert len(messages) == 3 and int(messages[0]["id"]) == post.id
    assert set(parts(messages).values()) == {1}
    assert_as_the_wire(double, messages)
    assert sum(1 for r in executions(double) if "thread_name" in (r.json or {})) == 1
    assert all(r.query.get("thread_id") == str(post.id) for r in executions(double)[1:])


async def test_start_up_needs_manage_webhooks_for_a_digest_with_an_identity(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(guild=newsroom(manage_webhooks=False))
    channel = double.channel("digest-general").id
    settings = harness.settings_for(
        double,
        tmp_path / "newsbot.db",
        digests=(DigestChannel(channel=channel, identity=WIRE),),
    )
    with pytest.raises(StartupError) as raised:
        await run_bot(settings)
    assert str(raised.value) == (
        f"test.yaml: digests[1].identity: the bot cannot manage webhooks in #digest-general"
        f" ({channel}); give it Manage Webhooks there (it posts as 'The Wire' through a webhook"
        " of its own)"
    )
    assert double.webhooks == {}


async def test_a_webhook_refused_later_is_reported_with_the_permission_to_give(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(guild=newsroom(manage_webhooks=False), rate_limits=ROOMY)
    channel = double.channel("digest-general").id
    digest = DigestChannel(channel=channel, max_items=5, identity=WIRE)
    settings = settings_for(double, tmp_path, digest)
    await approve_corpus(settings, tmp_path / "corpus", 5)
    run = await publish_once(settings, channel)
    assert run.failed
    assert double.messages(channel) == []
    [report] = double.messages("review")
    assert "Manage Webhooks" in report["content"] and "50013" in report["content"]
    async with open_app(settings) as app:
        items = await app.store.list_items(QueueQuery())
    assert {item.status for item in items} == {Status.APPROVED}  # they go with the next one


async def test_a_correction_of_a_webhook_digest_is_edited_through_the_webhook(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(guild=newsroom(), rate_limits=ROOMY)
    channel = double.channel("digest-general").id
    digest = DigestChannel(channel=channel, max_items=10, identity=WIRE, **THREE_PARTS)
    settings = settings_for(double, tmp_path, digest)
    corpus = tmp_path / "corpus"
    await approve_corpus(settings, corpus, 10)
    assert not (await publish_once(settings, channel)).failed
    middle = double.messages(channel)[1]
    others = [m["content"] for m in double.messages(channel) if m["id"] != middle["id"]]
    item = await item_in(settings, middle["id"])
    retitle(corpus, item, "Corrected: what the wire really said")
    async with open_app(settings) as app:
        assert (await ingest(app.store, [corpus])).updated == 1

    run = await publish_once(settings, channel)
    assert run.edits.edited == 1
    [hook] = double.webhooks.values()
    [patch] = double.requests_to("PATCH /webhooks/*")
    assert patch.path == f"/webhooks/{hook.id}/{hook.token}/messages/{middle['id']}"
    assert patch.json["allowed_mentions"] == {"parse": []}
    assert double.requests_to("PATCH /channels/*/messages/*") == []
    edited = double.message(middle["id"])
    assert "Corrected: what the wire really said" in edited["content"]
    assert edited["author"]["username"] == WIRE.name and edited["edited_timestamp"]
    assert [m["content"] for m in double.messages(channel) if m["id"] != middle["id"]] == others
