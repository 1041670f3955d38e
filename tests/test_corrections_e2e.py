"""Corrections and retractions end to end (issue 15): the real discord.py client against the
double, through ``newsbot publish``'s code path, a killed ``newsbot publish`` process and the
restarted bot.

- Re-ingesting a published article with a new title edits exactly the messages that carry it
  (in every channel); the other items of those messages are unchanged byte for byte, the
  other messages not touched, and every edit allows no mentions.
- A retraction in a 3-part digest edits only the part holding the item, and the item is never
  posted again.
- Killed between recording an edit and sending it, the restarted bot sends it once.
- A 30046 answer holds that message's edit, is reported once, and nothing else is lost.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from bot import moderation
from bot.app import open_app
from bot.cli import publish_report
from bot.config import DigestChannel, Settings
from bot.corrections import EditRound
from bot.discord_adapter.runner import publish_once
from bot.ingest import ingest
from bot.store import QueueItem, QueueQuery
from tests.discord_double import (
    BucketSpec,
    DiscordDouble,
    DoubleFactory,
    ManualClock,
    RateLimitConfig,
    RecordedRequest,
)
from tests.reliability.harness import running_bot
from tests.test_publish_e2e import (
    THREE_PARTS,
    approve_corpus,
    kill,
    launch_publish,
    settings_for,
    write_config,
)

EDITS = "PATCH /channels/*/messages/*"
ROOMY_BUCKET = BucketSpec(50, 5.0)
ROOMY = RateLimitConfig(message_create=ROOMY_BUCKET, message_edit=ROOMY_BUCKET)
NO_MENTIONS = {"parse": []}


def shown(message: dict[str, Any]) -> tuple[str, Any]:
    return str(message["content"]), message.get("embeds")


def snapshot(double: DiscordDouble, *channels: int) -> dict[int, tuple[str, Any]]:
    """Every message of the channels as readers see it, by id."""
    return {int(m["id"]): shown(m) for c in channels for m in double.messages(c)}


async def item_in(settings: Settings, message_id: int | str) -> QueueItem:
    """An item the message carries."""
    async with open_app(settings) as app:
        for item in await app.store.list_items(QueueQuery()):
            if any(d.message_id == int(message_id) for d in await app.store.deliveries(item.id)):
                return item
    raise AssertionError(f"no item in message {message_id}")


def retitle(corpus: Path, item: QueueItem, title: str) -> Path:
    """Rewrite the generated file of ``item`` with a new title (as an outlet corrects one)."""
    number = int(item.article.web_url.rsplit("/", 1)[1])
    path = corpus / f"batch-{number // 1000:02d}" / f"article-{number:05d}.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r'(?m)^title: ".*"$', f'title: "{title}"', text, count=1), "utf-8")
    return path


def patched(requests: list[RecordedRequest]) -> list[int]:
    """The ids of the messages that accepted edits, in order."""
    return [int(r.path.rsplit("/", 1)[1]) for r in requests if r.status == 200]


async def published(
    double: DiscordDouble, tmp_path: Path, *digests: DigestChannel
) -> tuple[Settings, Path]:
    settings = settings_for(double, tmp_path, *digests)
    corpus = tmp_path / "corpus"
    await approve_corpus(settings, corpus, 10)
    run = await publish_once(settings, None)
    assert not run.failed
    return settings, corpus


async def test_reingesting_a_new_title_edits_exactly_the_messages_that_carry_it(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(rate_limits=ROOMY)
    general, ai = double.channel("digest-general").id, double.channel("digest-ai").id
    settings, corpus = await published(
        double,
        tmp_path,
        DigestChannel(channel=general, **THREE_PARTS),
        DigestChannel(channel=ai, template="embed"),
    )
    assert len(double.messages(general)) == 3
    before = snapshot(double, general, ai)
    item = await item_in(settings, double.messages(general)[1]["id"])
    old_title = item.article.title
    retitle(corpus, item, "Corrected: the story as it really happened")
    async with open_app(settings) as app:
        report = await ingest(app.store, [corpus])
        assert (report.new, report.updated) == (0, 1)
        carriers = {d.message_id for d in await app.store.deliveries(item.id)}
    assert len(carriers) == 2  # one message in each channel

    run = await publish_once(settings, None)
    assert publish_report(run)[-1] == "edits: 2 edited"
    edits = double.requests_to(EDITS)
    assert sorted(patched(edits)) == sorted(carriers)
    assert all(r.json["allowed_mentions"] == NO_MENTIONS for r in edits)
    after = snapshot(double, general, ai)
    assert set(after) == set(before)
    for message_id, (content, embeds) in after.items():
        if message_id not in carriers:
            assert (content, embeds) == before[message_id]  # not touched
            continue
        assert double.message(message_id)["edited_timestamp"] is not None
        old_content, old_embeds = before[message_id]
        if message_id in {int(m["id"]) for m in double.messages(general)}:
            # The text digest: only the title changed, every other byte is as it was.
            assert "Corrected: the story" in content and old_title not in content
            assert content == old_content.replace(
                old_title, "Corrected: the story as it really happened"
            )
        else:
            # The embed digest: the item's embed has the new title, the others are the same.
            assert content == old_content
            changed = [n for n, (a, b) in enumerate(zip(old_embeds, embeds, strict=True)) if a != b]
            assert len(changed) == 1
            assert embeds[changed[0]]["title"] == "Corrected: the story as it really happened"
    async with open_app(settings) as app:
        corrected = await app.store.get(item.id)
        assert corrected.corrected_at is not None and await app.store.pending_edits(10) == []
    # Nothing left to do: the next publish edits nothing.
    again = await publish_once(settings, None)
    assert again.edits == EditRound() and len(double.requests_to(EDITS)) == len(edits)


async def test_a_retraction_in_a_three_part_digest_edits_only_its_part(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(rate_limits=ROOMY)
    general = double.channel("digest-general").id
    settings, _corpus = await published(
        double, tmp_path, DigestChannel(channel=general, **THREE_PARTS)
    )
    parts = double.messages(general)
    assert len(parts) == 3
    before = snapshot(double, general)
    item = await item_in(settings, double.messages(general)[1]["id"])
    async with open_app(settings) as app:
        await moderation.retract(
            app.store, item.id, actor="discord:1", reason="The outlet withdrew the story"
        )
    run = await publish_once(settings, general)
    assert run.edits.edited == 1
    assert patched(double.requests_to(EDITS)) == [int(parts[1]["id"])]
    after = snapshot(double, general)
    assert after[int(parts[0]["id"])] == before[int(parts[0]["id"])]
    assert after[int(parts[2]["id"])] == before[int(parts[2]["id"])]
    content = after[int(parts[1]["id"])][0]
    assert "~~" in content and "-# Retracted: The outlet withdrew the story" in content
    assert item.article.web_url not in content  # its link is gone
    async with open_app(settings) as app:
        audit = await app.store.audit(item.id)
        assert (audit[-1].action, audit[-1].actor) == ("retracted", "discord:1")
    # Never posted again: a new digest of fresh items, and a channel that never had it.
    await approve_corpus(settings, tmp_path / "more", 3)
    await publish_once(settings, general)
    for message in double.messages(general)[3:]:
        assert item.article.title not in message["content"]


async def test_killed_between_recording_an_edit_and_sending_it_the_restarted_bot_sends_it_once(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory(rate_limits=ROOMY)
    general = double.channel("digest-general").id
    settings, corpus = await published(
        double, tmp_path, DigestChannel(channel=general, **THREE_PARTS)
    )
    config = write_config(settings, tmp_path / "newsbot.yaml")
    item = await item_in(settings, double.messages(general)[2]["id"])
    target = int(double.messages(general)[2]["id"])
    retitle(corpus, item, "A corrected headline")
    async with open_app(settings) as app:
        await ingest(app.store, [corpus])
    hold = double.hold(EDITS)  # Discord never sees it
    process = await launch_publish(double, settings, config, general)
    try:
        [held] = await hold.wait(timeout=30)
        assert held.json["allowed_mentions"] == NO_MENTIONS
    finally:
        await kill(process)
        hold.drop()
    assert "A corrected headline" not in double.message(target)["content"]
    async with open_app(settings) as app:
        [pending] = await app.store.pending_edits(10)  # still queued: nothing was lost
        assert pending.message_id == target
    async with running_bot(settings, double) as bot:
        [sent] = await double.wait_for_request(
            lambda r: r.method == "PATCH" and r.status == 200, timeout=30
        )
        assert int(sent.path.rsplit("/", 1)[1]) == target
        assert "A corrected headline" in double.message(target)["content"]
        async with open_app(settings) as app:
            for _ in range(100):  # the bot records it as it gets Discord's answer
                if not await app.store.pending_edits(10):
                    break
                await asyncio.sleep(0.05)
            assert await app.store.pending_edits(10) == []
        assert await bot.editor.run_once() == EditRound()
    async with running_bot(settings, double) as bot:
        assert await bot.editor.run_once() == EditRound()
    assert patched(double.requests_to(EDITS)) == [target]  # sent once


async def test_30046_holds_that_message_reports_once_and_nothing_else_is_lost(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    clock = ManualClock()
    double = await discord_double_factory(rate_limits=ROOMY, clock=clock, old_message_edits=1)
    general = double.channel("digest-general").id
    review = double.channel("review").id
    settings, _corpus = await published(
        double, tmp_path, DigestChannel(channel=general, **THREE_PARTS)
    )
    parts = [int(m["id"]) for m in double.messages(general)]
    first, last = await item_in(settings, parts[0]), await item_in(settings, parts[2])
    clock.advance(3601)  # the digest is older than an hour now

    async def edit(item: QueueItem, title: str) -> None:
        async with open_app(settings) as app:
            await moderation.edit(app.store, item.id, actor="discord:1", title=title)

    await edit(first, "First correction")
    assert (await publish_once(settings, general)).edits.edited == 1
    await edit(first, "Second correction")  # one edit too many for an old message
    await edit(last, "A correction elsewhere")
    run = await publish_once(settings, general)
    assert (run.edits.edited, run.edits.held) == (1, 1)
    assert "First correction" in double.message(parts[0])["content"]
    assert "A correction elsewhere" in double.message(parts[2])["content"]  # not held up
    refused = [r for r in double.requests_to(EDITS) if r.status == 400]
    assert [int(r.path.rsplit("/", 1)[1]) for r in refused] == [parts[0]]  # tried once
    reports = [m for m in double.messages(review) if "Could not correct" in m["content"]]
    assert len(reports) == 1 and "30046" in reports[0]["content"]
    async with open_app(settings) as app:
        [held] = await app.store.pending_edits(10)
        assert (held.message_id, held.blocked_code) == (parts[0], 30046)
    # Tried again at the next start: refused again, still queued, not reported again.
    await edit(first, "Third correction")
    again = await publish_once(settings, general)
    assert again.edits.held == 1
    reports = [m for m in double.messages(review) if "Could not correct" in m["content"]]
    assert len(reports) == 1
    async with open_app(settings) as app:
        [held] = await app.store.pending_edits(10)
        assert held.message_id == parts[0]
        assert (await app.store.get(first.id)).article.title == "Third correction"
