"""Draft digests (``review: draft``) end to end: the real bot against the Discord double, on a
clock the test moves. The draft comes at the lead time; what moderators drop, approve or skip
is what the run posts; unapproved drafts hold; restarts lose nothing and post nothing twice."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot import moderation
from bot.app import open_app
from bot.clock import ManualClock
from bot.config import DigestChannel, DraftReview, Settings, Unreviewed
from bot.ingest import ingest
from bot.store import DraftState, RunOutcome, Status
from tests.discord_double import DiscordDouble
from tests.reliability import harness
from tests.reliability.harness import running_bot

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
DRAFT_TIME = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # an hour before the 09:00 run
RUN_TIME = DRAFT_TIME + timedelta(hours=1)


def draft_settings(double: DiscordDouble, tmp_path: Path, **digest: Any) -> Settings:
    general = double.channel("digest-general").id
    return harness.settings_for(
        double,
        tmp_path / "newsbot.db",
        review_feed="off",  # the review channel then holds drafts alone
        digests=(
            DigestChannel(
                channel=general,
                schedule="0 9 * * *",
                max_items=10,
                review=DraftReview.DRAFT,
                review_ping_role=double.role("Moderator").id,
                **digest,
            ),
        ),
    )


async def approve_seeds(settings: Settings, count: int) -> list[int]:
    files = [f for f in sorted(SEEDS.glob("*.md")) if "published: true" not in f.read_text()]
    async with open_app(settings) as app:
        report = await ingest(app.store, files[:count])
        for item_id in report.new_ids:
            await moderation.approve(app.store, item_id, actor="test")
        return report.new_ids


def control(double: DiscordDouble) -> dict[str, Any]:
    """The latest draft control message in the review channel (as last edited)."""
    controls = [m for m in double.messages("review") if "**Draft digest**" in m["content"]]
    assert controls, double.messages("review")
    return controls[-1]


def control_id(message: dict[str, Any], action: str) -> str:
    for row in message["components"]:
        for component in row["components"]:
            if component["custom_id"].startswith(f"newsbot:draft:{action}:"):
                return str(component["custom_id"])
    raise AssertionError(f"no {action} control on {message}")


def select_options(message: dict[str, Any]) -> dict[str, str]:
    """label -> value of the drop menu."""
    select = next(c for row in message["components"] for c in row["components"] if c["type"] == 3)
    return {o["label"]: o["value"] for o in select["options"]}


async def titles_of(settings: Settings, ids: list[int]) -> dict[int, str]:
    async with open_app(settings) as app:
        return {i: (await app.store.get(i)).article.title for i in ids}


def digest_text(double: DiscordDouble) -> str:
    return "\n".join(
        str(m.get("content")) + str(m.get("embeds")) for m in double.messages("digest-general")
    )


async def test_dropping_two_items_and_approving_posts_exactly_the_rest_at_run_time(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    double = discord_double
    settings = draft_settings(double, tmp_path)
    ids = await approve_seeds(settings, 5)
    titles = await titles_of(settings, ids)
    clock = ManualClock(DRAFT_TIME - timedelta(minutes=1))
    async with running_bot(settings, double, clock) as bot:
        await clock.wait_for_sleepers(1)
        assert double.messages("review") == []  # not before the lead time
        clock.advance(timedelta(minutes=1))
        await double.wait_for_message("review", timeout=10)
        await clock.wait_for_sleepers(1)
        await bot.scheduler.wait_idle()  # type: ignore[union-attr]
        shown = control(double)
        # The draft is the digest as the channel would get it, then the controls, which ping
        # the review role and only it.
        drafts = [m for m in double.messages("review") if m["id"] != shown["id"]]
        assert drafts and all(titles[i] in str(drafts) for i in ids)
        assert f"<@&{double.role('Moderator').id}>" in shown["content"]
        [sent] = [
            r.json
            for r in double.requests
            if r.method == "POST" and r.json and "newsbot:draft:" in str(r.json.get("components"))
        ]
        assert sent["allowed_mentions"] == {
            "parse": [],
            "roles": [str(double.role("Moderator").id)],
        } or sent["allowed_mentions"].get("roles") == [double.role("Moderator").id]
        assert all(m.get("mention_roles") in (None, []) for m in drafts)  # previews ping nobody
        assert set(select_options(shown).values()) == {str(i) for i in ids}
        dropped = [str(ids[1]), str(ids[3])]
        pick = await double.choose(shown, control_id(shown, "drop"), dropped)
        assert (await pick.response()).accepted
        approve = await double.click_button(control(double), control_id(control(double), "approve"))
        assert (await approve.response()).accepted
        assert "approved by" in control(double)["content"]
        assert double.messages("digest-general") == []  # approved, but not before its time
        clock.advance(timedelta(hours=1))
        await double.wait_for_message("digest-general", timeout=10)
        await clock.wait_for_sleepers(1)
        await bot.scheduler.wait_idle()  # type: ignore[union-attr]
    text = digest_text(double)
    kept = [ids[0], ids[2], ids[4]]
    assert all(titles[i] in text for i in kept)
    assert not any(titles[i] in text for i in (ids[1], ids[3]))
    async with open_app(settings) as app:
        assert {i: (await app.store.get(i)).status for i in ids} == {
            **{i: Status.PUBLISHED for i in kept},
            ids[1]: Status.APPROVED,  # dropped items stay approved for a later digest
            ids[3]: Status.APPROVED,
        }
        draft = await app.store.draft_for(settings.digests[0].channel or 0, RUN_TIME)
        assert draft is not None and draft.state is DraftState.POSTED


async def test_skip_posts_nothing_and_the_items_wait_for_the_next_run(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    double = discord_double
    settings = draft_settings(double, tmp_path)
    ids = await approve_seeds(settings, 3)
    clock = ManualClock(DRAFT_TIME)
    async with running_bot(settings, double, clock) as bot:
        await double.wait_for_message("review", timeout=10)
        await clock.wait_for_sleepers(1)
        shown = control(double)
        skip = await double.click_button(shown, control_id(shown, "skip"))
        assert (await skip.response()).accepted
        assert "skipped by" in control(double)["content"]
        assert "components" not in control(double) or not control(double)["components"]
        clock.advance(timedelta(hours=1))
        await clock.wait_for_sleepers(1)
        await bot.scheduler.wait_idle()  # type: ignore[union-attr]
        assert double.messages("digest-general") == []
        reviews = len(double.messages("review"))
        # The next day's draft offers the same items again.
        clock.advance(timedelta(hours=23))
        await double.wait_for_messages("review", reviews + 1, timeout=10)
        await clock.wait_for_sleepers(1)
        await bot.scheduler.wait_idle()  # type: ignore[union-attr]
        assert set(select_options(control(double)).values()) == {str(i) for i in ids}
    channel = settings.digests[0].channel or 0
    async with open_app(settings) as app:
        assert [(await app.store.get(i)).status for i in ids] == [Status.APPROVED] * len(ids)
        assert await app.store.last_scheduled_run(channel) == RUN_TIME
        runs = await app.store.orphaned_runs()
        assert runs == []
    assert harness.count_rows(settings.database, "schedule_runs") == 1
    assert RunOutcome.SKIPPED in str(harness.dump(settings.database))


async def test_hold_posts_nothing_unapproved_and_a_restart_between_draft_and_run_loses_nothing(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    double = discord_double
    settings = draft_settings(double, tmp_path)
    ids = await approve_seeds(settings, 3)
    clock = ManualClock(DRAFT_TIME)
    async with running_bot(settings, double, clock):
        await double.wait_for_message("review", timeout=10)
        await clock.wait_for_sleepers(1)
    shown_before = len(double.messages("review"))
    clock.advance(timedelta(hours=1, minutes=5))  # the run's time has come, nobody approved
    async with running_bot(settings, double, clock) as bot:
        await clock.wait_for_sleepers(1)
        await bot.scheduler.wait_idle()  # type: ignore[union-attr]
        assert double.messages("digest-general") == []  # hold: nothing without approval
        assert len(double.messages("review")) == shown_before  # not shown a second time
        # The buttons posted by the first process work in this one; approved late but within
        # the catch-up window, the run posts at once.
        shown = control(double)
        approve = await double.click_button(shown, control_id(shown, "approve"))
        assert (await approve.response()).accepted
        await double.wait_for_message("digest-general", timeout=10)
        await clock.wait_for_sleepers(1)
        await bot.scheduler.wait_idle()  # type: ignore[union-attr]
    posted = double.messages("digest-general")
    async with running_bot(settings, double, clock) as bot:  # and once more: nothing again
        await clock.wait_for_sleepers(1)
        await bot.scheduler.wait_idle()  # type: ignore[union-attr]
    assert double.messages("digest-general") == posted
    async with open_app(settings) as app:
        assert [(await app.store.get(i)).status for i in ids] == [Status.PUBLISHED] * len(ids)


async def test_unreviewed_post_posts_the_draft_as_planned(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    double = discord_double
    settings = draft_settings(double, tmp_path, unreviewed=Unreviewed.POST)
    ids = await approve_seeds(settings, 2)
    titles = await titles_of(settings, ids)
    clock = ManualClock(DRAFT_TIME)
    async with running_bot(settings, double, clock) as bot:
        await double.wait_for_message("review", timeout=10)
        await clock.wait_for_sleepers(1)
        clock.advance(timedelta(hours=1))
        await double.wait_for_message("digest-general", timeout=10)
        await clock.wait_for_sleepers(1)
        await bot.scheduler.wait_idle()  # type: ignore[union-attr]
    assert all(titles[i] in digest_text(double) for i in ids)


async def test_members_are_refused_and_a_second_decision_on_the_same_view_is_told(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    double = discord_double
    settings = draft_settings(double, tmp_path)
    await approve_seeds(settings, 3)
    clock = ManualClock(DRAFT_TIME)
    async with running_bot(settings, double, clock):
        await double.wait_for_message("review", timeout=10)
        await clock.wait_for_sleepers(1)
        shown = control(double)
        before = harness.dump(settings.database)
        for action in ("approve", "skip", "refresh"):
            click = await double.click_button(shown, control_id(shown, action), user="member")
            reply = await click.response()
            assert reply.data is not None and "Only moderators" in reply.data["content"]
        pick = await double.choose(shown, control_id(shown, "drop"), [], user="member")
        assert "Only moderators" in str((await pick.response()).data)
        assert harness.dump(settings.database) == before  # refused: nothing changed
        # Two moderators click at once, on the same view: one outcome, the other is told.
        clicks = await asyncio.gather(
            double.click_button(shown, control_id(shown, "approve")),
            double.click_button(shown, control_id(shown, "skip"), user="owner"),
        )
        replies = [await click.response() for click in clicks]
        told = [r for r in replies if r.data and "changed before your click" in str(r.data)]
        assert len(told) == 1 and told[0].data is not None and told[0].data.get("flags") == 64
        winner = "skipped" if told[0] is replies[0] else "approved"
        assert f"{winner} by" in told[0].data["content"]
    async with open_app(settings) as app:
        draft = await app.store.draft_for(settings.digests[0].channel or 0, RUN_TIME)
        assert draft is not None
        assert draft.state is (DraftState.APPROVED if winner == "approved" else DraftState.SKIPPED)


async def test_refresh_rebuilds_the_draft_from_the_current_queue(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    double = discord_double
    settings = draft_settings(double, tmp_path)
    files = [f for f in sorted(SEEDS.glob("*.md")) if "published: true" not in f.read_text()]
    first = await approve_seeds(settings, 2)
    clock = ManualClock(DRAFT_TIME)
    async with running_bot(settings, double, clock):
        await double.wait_for_message("review", timeout=10)
        await clock.wait_for_sleepers(1)
        shown = control(double)
        assert set(select_options(shown).values()) == {str(i) for i in first}
        async with open_app(replace(settings)) as app:
            report = await ingest(app.store, files[2:3])
            await moderation.approve(app.store, report.new_ids[0], actor="test")
        count = len(double.messages("review"))
        refresh = await double.click_button(shown, control_id(shown, "refresh"))
        assert (await refresh.response()).accepted
        await double.wait_for_messages("review", count + 2, timeout=10)
        fresh = control(double)
        assert fresh["id"] != shown["id"]
        assert set(select_options(fresh).values()) == {str(i) for i in [*first, *report.new_ids]}
