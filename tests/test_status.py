"""The status view: gathered from a real SQLite file, printed by ``newsbot status [--json]``
in-process, and shown by ``/news status`` through the Discord double."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import moderation
from bot.app import open_app
from bot.articles import Article, Provider
from bot.cli import main
from bot.clock import ManualClock
from bot.config import load_settings
from bot.status import gather_status, status_json, status_lines
from bot.store import DigestStatus, DraftState, Trigger
from tests.discord_double import DiscordDouble
from tests.reliability import harness
from tests.reliability.harness import running_bot

NOW = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
CONFIG = """\
guild: 789
digests:
  - channel: 456
    schedule: "0 9 * * *"
    timezone: Europe/Berlin
  - channel: 457
"""


def article(n: int) -> Article:
    return Article(
        url=f"https://ex.org/{n}",
        web_url=f"https://ex.org/{n}",
        title=f"Story {n}",
        provider=Provider("Example", "ex.org"),
        source=f"---\ntitle: Story {n}\n---\n",
        source_hash=f"h{n}",
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "newsbot.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


async def fill(config: Path) -> None:
    """Five items: two approved and published in one digest to 456, one rejected, two pending;
    a digest to 457 that Discord refused; one trusted outlet."""
    settings = load_settings(config, environ={})
    async with open_app(settings, clock=ManualClock(NOW)) as app:
        store = app.store
        ids = [i for i, _ in await store.upsert_articles([article(n) for n in range(5)], actor="t")]
        for item_id in ids[:3]:
            await moderation.approve(store, item_id, actor="mod")
        await moderation.reject(store, ids[2], actor="mod", reason="dupe")
        digest, _ = await store.create_digest(
            456, "d1", Trigger.SCHEDULE, [({"content": "x"}, "n1", (ids[0], ids[1]))]
        )
        await store.record_sent(digest.id, 0, 9001, NOW)
        await store.finish_digest(digest.id, DigestStatus.DONE)
        refused, _ = await store.create_digest(
            457, "d2", Trigger.COMMAND, [({"content": "y"}, "n2", ())]
        )
        await store.finish_digest(refused.id, DigestStatus.FAILED, "403 Missing Access\nin #x")
        await store.trust_provider("ex.org", actor="mod")


async def test_the_report_counts_links_and_next_runs(config: Path) -> None:
    await fill(config)
    settings = load_settings(config, environ={})
    async with open_app(settings, clock=ManualClock(NOW)) as app:
        report = await gather_status(app.settings, app.store, NOW)
    assert {s.value: n for s, n in report.counts.items()} == {
        "pending": 2,
        "approved": 0,
        "rejected": 1,
        "published": 2,
    }
    first, second = report.channels
    assert first.last is not None and first.last.items == 2
    assert report.link(first.last) == "https://discord.com/channels/789/456/9001"
    assert first.next_run == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
    assert (second.last, second.next_run, second.schedule) == (None, None, None)
    assert [f.error for f in report.failures] == ["403 Missing Access\nin #x"]
    lines = status_lines(report)
    assert lines[0] == "Queue: 2 pending, 0 approved, 1 rejected, 2 published"
    assert lines[2] == (
        "456: last digest 2026-12-01 07:30 UTC, 2 items"
        " (https://discord.com/channels/789/456/9001);"
        " next run 2026-12-01 08:00 UTC [0 9 * * * (Europe/Berlin)]"
    )
    assert lines[3] == "457: no digest yet; no schedule"
    # An error from outside stays one printable line.
    assert "  digest 2 to 457 at 2026-12-01 07:30 UTC: 403 Missing Access\\nin #x" in lines


def test_newsbot_status_prints_text_and_json(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(fill(config))
    db = str(tmp_path / "newsbot.db")
    assert main(["status", "--config", str(config), "--db", db]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Queue: 2 pending, 0 approved, 1 rejected, 2 published\n")
    assert "channel 456: last digest" in text and "Trusted outlets: ex.org" in text
    assert main(["status", "--json", "--config", str(config), "--db", db]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"] == {"pending": 2, "approved": 0, "rejected": 1, "published": 2}
    assert data["review_waiting"] == 2
    [general, other] = data["channels"]
    assert general["last_digest"]["link"] == "https://discord.com/channels/789/456/9001"
    assert general["last_digest"]["items"] == 2 and general["next_run"] is not None
    assert other["last_digest"] is None and other["schedule"] is None
    assert [e["channel"] for e in data["delivery_errors"]] == [457]
    assert data["failing_feeds"] == [] and data["trusted_outlets"] == ["ex.org"]


DRAFT_CONFIG = """\
guild: 789
review_channel: 111
digests:
  - channel: 456
    schedule: "0 9 * * *"
    timezone: Europe/Berlin
    review: draft
"""


async def test_a_waiting_draft_shows_in_the_status_until_it_is_decided(tmp_path: Path) -> None:
    path = tmp_path / "newsbot.yaml"
    path.write_text(DRAFT_CONFIG, encoding="utf-8")
    settings = load_settings(path, environ={})
    run = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    async with open_app(settings, clock=ManualClock(NOW)) as app:
        store = app.store
        ids = [i for i, _ in await store.upsert_articles([article(n) for n in range(3)], actor="t")]
        draft, _ = await store.create_draft(456, run, ids)
        waiting = await gather_status(app.settings, store, NOW)
        dropped = await store.change_draft(draft.id, draft.version, dropped=(ids[0],), actor="mod")
        approved = await store.change_draft(
            dropped.id, dropped.version, state=DraftState.APPROVED, actor="mod"
        )
        decided = await gather_status(app.settings, store, NOW)
    [channel] = waiting.channels
    assert channel.draft is not None and channel.draft.id == draft.id
    assert status_lines(waiting)[2].endswith(
        "; draft for 2026-12-01 08:00 UTC waiting for review (3 items)"
    )
    assert status_json(waiting)["channels"][0]["draft"] == {
        "id": draft.id,
        "state": "waiting",
        "scheduled_for": "2026-12-01T08:00:00+00:00",
        "items": 3,
        "kept": 3,
        "decided_by": None,
    }
    assert approved.state is DraftState.APPROVED
    assert status_lines(decided)[2].endswith(
        "; draft for 2026-12-01 08:00 UTC approved by mod (3 items, 1 dropped)"
    )


async def test_news_status_is_for_moderators_only(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    settings = harness.settings_for(discord_double, tmp_path / "newsbot.db", review_channel=None)
    async with running_bot(settings, discord_double):
        refused = await discord_double.send_slash_command("news status", {}, user="member")
        answer = await refused.response()
        assert answer.ephemeral and answer.data["content"].startswith("⛔ Only moderators")
        shown = await discord_double.send_slash_command("news status", {}, user="moderator")
        reply = await shown.response()
    assert reply.ephemeral
    general = discord_double.channel("digest-general").id
    assert reply.data["content"].startswith("Queue: 0 pending, 0 approved")
    assert f"<#{general}>: no digest yet; no schedule" in reply.data["content"]
    assert reply.data["allowed_mentions"] == {"parse": []}


async def test_the_status_lists_the_running_processes_and_their_duties(config: Path) -> None:
    settings = load_settings(config, environ={})
    async with open_app(settings, clock=ManualClock(NOW)) as app:
        store = app.store
        assert status_lines(await gather_status(app.settings, store, NOW))[-1] == (
            "No newsbot process is running on this database."
        )
        await store.heartbeat("hostA:101:ab", "gateway", NOW, NOW - timedelta(seconds=6))
        later = NOW + timedelta(seconds=1)
        await store.heartbeat("hostB:202:cd", "worker", later, later - timedelta(seconds=6))
        await store.claim_duty("review posts", "hostB:202:cd", later, later + timedelta(seconds=30))
        await store.claim_duty("feeds", "hostB:202:cd", later, later + timedelta(seconds=30))
        # One that stopped heartbeating long ago is not listed.
        old = NOW - timedelta(minutes=5)
        await store.heartbeat("hostC:303:ef", "worker", old, old - timedelta(seconds=6))
        report = await gather_status(app.settings, store, later)
    assert status_lines(report)[-3:] == [
        "Processes (2):",
        "  gateway hostA:101 since 2026-12-01 07:30 UTC",
        "  worker hostB:202 since 2026-12-01 07:30 UTC; does feeds, review posts",
    ]
    assert [(p["role"], p["process"], p["duties"]) for p in status_json(report)["processes"]] == [
        ("gateway", "hostA:101", []),
        ("worker", "hostB:202", ["feeds", "review posts"]),
    ]
