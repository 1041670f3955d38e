"""Forum channels end to end (issue 14): a digest in a forum is one post, named like the
digest, with the configured tags and those named like its items' topics, its first part the
starter message and the others inside the post. A post has no nonce: killed after Discord made
it but before it was recorded, the restarted publish finds it (open or archived, by name and
starter message) instead of making a second one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.app import open_app
from bot.config import DigestChannel
from bot.discord_adapter.runner import publish_once, run_bot
from bot.errors import StartupError
from tests.discord_double import DiscordDouble, DoubleFactory, GuildBuilder, User
from tests.discord_double.clock import SnowflakeGenerator
from tests.discord_double.forum import archive
from tests.discord_double.state import BOT_ROLE_PERMISSIONS, THREAD_TYPES, Channel
from tests.reliability import harness
from tests.test_publish_e2e import (
    ROOMY,
    THREE_PARTS,
    Launcher,
    approve_corpus,
    finish,
    kill,
    settings_for,
    start_publish,
    write_config,
)

__all__ = ["start_publish"]  # the fixture, used by name

POSTS = "POST /channels/*/threads"
TAGS = ("AI", "Climate", "Space", "Digest", "Weekly")


def forum_newsroom(*, require_tag: bool = True) -> Any:
    def build(bot: User, ids: SnowflakeGenerator) -> Any:
        b = GuildBuilder("Forums", ids=ids)
        bot_role = b.role("newsbot", BOT_ROLE_PERMISSIONS, key="bot-role", position=1)
        b.member("owner", owner=True)
        b.add_user(bot, roles=[bot_role], key="bot")
        b.text_channel("review")
        b.text_channel("digest-ai")
        b.forum_channel("news", key="digest-general", tags=TAGS, require_tag=require_tag)
        return b.build()

    return build


def posts(double: DiscordDouble, forum: int) -> list[Channel]:
    return [
        c for c in double.guild.channels.values() if c.type in THREAD_TYPES and c.parent_id == forum
    ]


def tag_names(double: DiscordDouble, forum: int, post: Channel) -> set[str]:
    tags = {int(t["id"]): t["name"] for t in double.channel(forum).available_tags}
    return {tags[t] for t in post.applied_tags}


async def test_a_forum_digest_is_one_post_with_its_name_tags_and_every_part(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(guild=forum_newsroom(), rate_limits=ROOMY)
    forum = double.channel("digest-general").id
    digest = DigestChannel(
        channel=forum, max_items=10, title="Morning news", tags=("digest",), **THREE_PARTS
    )
    settings = settings_for(double, tmp_path, digest)
    await approve_corpus(settings, tmp_path / "corpus", 10)
    run = await publish_once(settings, forum)
    assert not run.failed
    [post] = posts(double, forum)
    assert post.name.startswith("Morning news · ")
    # The configured tag first, then the forum's tags named like the items' topics (at most 5).
    assert "Digest" in tag_names(double, forum, post) and len(post.applied_tags) <= 5
    assert tag_names(double, forum, post) - {"Digest"} <= {"AI", "Climate", "Space"}
    parts = double.messages(post.id)
    assert len(parts) == 3 and int(parts[0]["id"]) == post.id
    assert double.messages(forum) == []
    async with open_app(settings) as app:
        assert await app.store.unfinished_digests() == []
    [result] = run.results
    assert result.message_ids == tuple(int(m["id"]) for m in parts)


@pytest.mark.parametrize("archived", [False, True], ids=["open", "archived"])
async def test_killed_after_the_post_was_made_there_is_still_one_post_with_every_part(
    discord_double_factory: DoubleFactory,
    tmp_path: Path,
    start_publish: Launcher,
    archived: bool,
) -> None:
    double = await discord_double_factory(guild=forum_newsroom(), rate_limits=ROOMY)
    forum = double.channel("digest-general").id
    digest = DigestChannel(channel=forum, max_items=10, tags=("Digest",), **THREE_PARTS)
    settings = settings_for(double, tmp_path, digest)
    config = write_config(settings, tmp_path / "newsbot.yaml")
    await approve_corpus(settings, tmp_path / "corpus", 10)
    hold = double.hold(POSTS, after_handling=True)
    process = await start_publish(double, settings, config, forum)
    await hold.wait(timeout=30)
    await kill(process)
    hold.drop()
    [post] = posts(double, forum)
    async with open_app(settings) as app:
        [unfinished] = await app.store.unfinished_digests()
    # The intent was recorded before the post was made; the post itself was not.
    assert unfinished.post_started_at is not None and unfinished.thread_id is None
    if archived:
        archive(post)  # Discord archived the idle post meanwhile: only the archive lists it

    process = await start_publish(double, settings, config, forum)
    code, _, err = await finish(process)
    assert code == 0, err
    assert posts(double, forum) == [post]
    assert len(double.requests_to(POSTS)) == 1
    contents = [m["content"] for m in double.messages(post.id)]
    assert len(contents) == len(unfinished.messages) == len(set(contents))
    async with open_app(settings) as app:
        assert await app.store.unfinished_digests() == []
    if archived:
        assert not post.archived  # the later parts reopened it


async def test_start_up_needs_a_tag_for_a_forum_that_requires_one(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(guild=forum_newsroom())
    forum = double.channel("digest-general").id
    settings = harness.settings_for(
        double, tmp_path / "newsbot.db", digests=(DigestChannel(channel=forum),)
    )
    with pytest.raises(StartupError) as raised:
        await run_bot(settings)
    assert str(raised.value) == (
        "test.yaml: digests[1].tags: #news requires a tag on every post; add one of its tags"
        " (AI, Climate, Digest, Space, Weekly) to tags"
    )
    wrong = harness.settings_for(
        double, tmp_path / "newsbot.db", digests=(DigestChannel(channel=forum, tags=("Sport",)),)
    )
    with pytest.raises(StartupError) as raised:
        await run_bot(wrong)
    assert str(raised.value) == (
        "test.yaml: digests[1].tags: #news has no tag 'Sport' (its tags: AI, Climate, Digest,"
        " Space, Weekly)"
    )
