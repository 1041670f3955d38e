"""Corrections and retractions, the rules around the edits (issue 15), through the double:
``corrections: off`` and ``correction_window``, ``retraction: remove``, forum digests edited in
their post and held in an archived one (50083), and the slash commands in the running bot."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot import moderation
from bot.app import open_app
from bot.clock import ManualClock as BotClock
from bot.config import Corrections, DigestChannel, Retraction
from bot.discord_adapter.runner import publish_once
from bot.ingest import ingest
from tests.discord_double import DoubleFactory, ManualClock
from tests.discord_double.forum import archive
from tests.reliability.harness import running_bot
from tests.test_corrections_e2e import (
    EDITS,
    NO_MENTIONS,
    ROOMY,
    item_in,
    patched,
    published,
    retitle,
    snapshot,
)
from tests.test_forum_e2e import forum_newsroom, posts
from tests.test_publish_e2e import THREE_PARTS


async def test_corrections_off_and_the_window_skip_edits_but_retractions_still_show(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(rate_limits=ROOMY)
    general, ai = double.channel("digest-general").id, double.channel("digest-ai").id
    settings, corpus = await published(
        double,
        tmp_path,
        DigestChannel(channel=general, **THREE_PARTS),
        DigestChannel(channel=ai, corrections=Corrections.OFF, **THREE_PARTS),
    )
    before = snapshot(double, general, ai)
    item = await item_in(settings, double.messages(general)[0]["id"])
    retitle(corpus, item, "A headline corrected")
    async with open_app(settings) as app:
        await ingest(app.store, [corpus])
    run = await publish_once(settings, None)
    assert (run.edits.edited, run.edits.skipped) == (1, 1)
    [edited] = patched(double.requests_to(EDITS))
    assert edited in {int(m["id"]) for m in double.messages(general)}
    assert all(after == before[i] for i, after in snapshot(double, ai).items())
    # A retraction shows even where corrections are off.
    async with open_app(settings) as app:
        await moderation.retract(app.store, item.id, actor="cli:op", reason="Fabricated quotes")
    run = await publish_once(settings, None)
    assert run.edits.edited == 2
    for channel in (general, ai):
        assert any("Retracted: Fabricated quotes" in m["content"] for m in double.messages(channel))
    # Past the window, nothing is edited, not even a retraction.
    late = replace(settings, correction_window=timedelta(0))
    other = await item_in(settings, double.messages(general)[2]["id"])
    async with open_app(late) as app:
        await moderation.retract(app.store, other.id, actor="cli:op", reason="Too late")
    edits = len(double.requests_to(EDITS))
    run = await publish_once(late, None)
    assert run.edits.skipped == 2 and len(double.requests_to(EDITS)) == edits
    async with open_app(settings) as app:
        assert await app.store.pending_edits(10) == []


async def test_retraction_remove_takes_the_item_out_of_its_message(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(rate_limits=ROOMY)
    general = double.channel("digest-general").id
    digest = DigestChannel(channel=general, retraction=Retraction.REMOVE, **THREE_PARTS)
    settings, _ = await published(double, tmp_path, digest)
    part = dict(double.messages(general)[1])  # a copy: the double edits its own
    item = await item_in(settings, part["id"])
    async with open_app(settings) as app:
        await moderation.retract(app.store, item.id, actor="cli:op", reason="Wrong story")
    await publish_once(settings, general)
    content = double.message(part["id"])["content"]
    assert item.article.title not in content and "Retracted" not in content
    assert len(content) < len(part["content"]) and content.strip()


async def test_forum_parts_are_edited_in_their_post_and_held_while_it_is_archived(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(
        guild=forum_newsroom(require_tag=False), rate_limits=ROOMY
    )
    forum = double.channel("digest-general").id
    review = double.channel("review").id
    settings, _corpus = await published(
        double, tmp_path, DigestChannel(channel=forum, **THREE_PARTS)
    )
    [post] = posts(double, forum)
    starter, second, _ = double.messages(post.id)
    first_item = await item_in(settings, starter["id"])
    second_item = await item_in(settings, second["id"])
    async with open_app(settings) as app:
        await moderation.edit(app.store, first_item.id, actor="cli:op", title="Starter fixed")
    await publish_once(settings, forum)
    [edit] = double.requests_to(EDITS)
    assert edit.path == f"/channels/{post.id}/messages/{starter['id']}"  # in the post
    assert edit.json["allowed_mentions"] == NO_MENTIONS
    assert "Starter fixed" in double.message(starter["id"])["content"]
    # Archived: Discord refuses (50083); held, reported once, done once the post is open.
    archive(double.channel(post.id))
    async with open_app(settings) as app:
        await moderation.edit(app.store, second_item.id, actor="cli:op", title="Second fixed")
    run = await publish_once(settings, forum)
    assert run.edits.held == 1
    [report] = [m for m in double.messages(review) if "Could not correct" in m["content"]]
    assert "archived" in report["content"] and "50083" in report["content"]
    double.channel(post.id).archived = False
    run = await publish_once(settings, forum)
    assert run.edits.edited == 1
    assert "Second fixed" in double.message(second["id"])["content"]
    assert len([m for m in double.messages(review) if "Could not correct" in m["content"]]) == 1


async def test_slash_retract_and_edit_are_for_moderators_and_edit_at_once(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(rate_limits=ROOMY)
    general = double.channel("digest-general").id
    settings, _ = await published(double, tmp_path, DigestChannel(channel=general, **THREE_PARTS))
    part = double.messages(general)[2]
    item = await item_in(settings, part["id"])
    async with running_bot(settings, double):
        refused = await double.send_slash_command(
            "news retract", {"item": item.id, "reason": "no"}, user="member"
        )
        assert (await refused.response()).data["content"].startswith("⛔ Only moderators")
        handle = await double.send_slash_command(
            "news retract", {"item": item.id, "reason": "The outlet withdrew it"}, user="moderator"
        )
        reply = await handle.response()
        assert reply.ephemeral
        assert reply.data["content"].startswith(f"🚫 Retracted #{item.id}: ")
        assert reply.data["content"].endswith("; 1 posted message is being edited")
        await double.wait_for_request(lambda r: r.method == "PATCH" and r.status == 200, timeout=10)
        assert "Retracted: The outlet withdrew it" in double.message(part["id"])["content"]
        again = await double.send_slash_command(
            "news retract", {"item": item.id, "reason": "again"}, user="moderator"
        )
        assert (await again.response()).data["content"] == (
            f"ℹ️ Item {item.id} was already retracted; nothing changed."
        )
        other = await item_in(settings, double.messages(general)[0]["id"])
        edit = await double.send_slash_command(
            "news edit", {"item": other.id, "title": "Moderator's headline"}, user="moderator"
        )
        assert (await edit.response()).data["content"].startswith(f"✏️ Edited #{other.id}: ")
        await double.wait_for_request(
            lambda r: r.method == "PATCH" and r.status == 200, count=2, timeout=10
        )
        assert "Moderator's headline" in double.messages(general)[0]["content"]
        nothing = await double.send_slash_command("news edit", {"item": other.id}, user="moderator")
        assert (await nothing.response()).data["content"] == (
            "⚠️ give a new title, a new excerpt, or both"
        )
    async with open_app(settings) as app:
        audit = [e.action for e in await app.store.audit(item.id)]
        assert audit[-1] == "retracted"
        assert [e.action for e in await app.store.audit(other.id)][-1] == "edited"


async def test_the_running_bot_tries_a_held_edit_again_after_an_hour(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    discord_clock = ManualClock()
    double = await discord_double_factory(
        rate_limits=ROOMY, clock=discord_clock, old_message_edits=0
    )
    general = double.channel("digest-general").id
    settings, _ = await published(double, tmp_path, DigestChannel(channel=general, **THREE_PARTS))
    part = double.messages(general)[1]
    item = await item_in(settings, part["id"])
    discord_clock.advance(3601)  # old: Discord takes no edit of it for now
    async with open_app(settings) as app:
        await moderation.edit(app.store, item.id, actor="cli:op", title="Held back")
    clock = BotClock(datetime.now(UTC))
    async with running_bot(settings, double, clock):
        [refused] = await double.wait_for_request(
            lambda r: r.method == "PATCH" and r.status == 400, timeout=10
        )
        assert refused.json["allowed_mentions"] == NO_MENTIONS
        await double.wait_for_message(
            "review", lambda m: "Could not correct" in m["content"], timeout=10
        )
        double.old_message_edits = 5  # Discord lets edits of it through again
        clock.advance(timedelta(hours=1))
        await double.wait_for_request(lambda r: r.method == "PATCH" and r.status == 200, timeout=10)
        assert "Held back" in double.message(part["id"])["content"]
    reports = [m for m in double.messages("review") if "Could not correct" in m["content"]]
    assert len(reports) == 1
