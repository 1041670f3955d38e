"""The bot end to end: the real discord.py client against the loopback Discord double.

Every interaction goes over the gateway and every answer over REST, exactly as with Discord;
the database is a real SQLite file and the assertions read it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_app
from bot.clock import ManualClock
from bot.config import DigestChannel, Secret, Settings
from bot.discord_adapter.client import NewsBot
from bot.discord_adapter.runner import run_bot
from bot.errors import LoginFailed, StartupError
from bot.ingest import ingest
from bot.store import QueueQuery, Status
from tests.discord_double import DiscordDouble
from tests.discord_double.permissions import Permission
from tests.reliability import harness
from tests.reliability.harness import running_bot

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

BotFactory = Callable[[], Awaitable[NewsBot]]


def settings_for(double: DiscordDouble, tmp_path: Path) -> Settings:
    return harness.settings_for(double, tmp_path / "newsbot.db")


@pytest.fixture
async def seeded(tmp_path: Path) -> Path:
    """Three pending items (the review channel posts at most 5 messages per 5 s)."""
    settings = Settings(database=tmp_path / "newsbot.db")
    files = sorted(SEEDS.glob("*.md"))
    async with open_app(settings) as app:
        await ingest(app.store, [f for f in files if "published: true" not in f.read_text()][:3])
    return settings.database


async def statuses(settings: Settings) -> dict[int, Status]:
    async with open_app(settings) as app:
        return {i.id: i.status for i in await app.store.list_items(QueueQuery())}


def review_messages(double: DiscordDouble) -> list[dict[str, Any]]:
    return double.messages("review")


async def test_startup_syncs_commands_and_posts_pending_items_for_review(
    discord_double: DiscordDouble, tmp_path: Path, seeded: Path, restore_endpoints: None
) -> None:
    settings = settings_for(discord_double, tmp_path)
    async with running_bot(settings, discord_double):
        names = {c["name"] for c in discord_double.commands(discord_double.guild.id)}
        assert names == {"news", "digest", "feed"}
        pending = [i for i, s in (await statuses(settings)).items() if s is Status.PENDING]
        posted = await discord_double.wait_for_messages("review", len(pending), timeout=10)
        assert "review feed" in {task.get_name() for task in asyncio.all_tasks()}
    # The feed's task ended with its cog when the bot closed.
    assert "review feed" not in {task.get_name() for task in asyncio.all_tasks()}
    ids = sorted(
        int(row["components"][0]["custom_id"].split(":")[3])
        for m in posted
        for row in m["components"]
    )
    assert ids == sorted(pending)
    # Highest quality first: find the first item's post wherever it came.
    [first] = [
        m
        for m in posted
        if m["components"][0]["components"][0]["custom_id"].endswith(f":{pending[0]}")
    ]
    assert first["content"].startswith(f"**#{pending[0]}** · ⏳ waiting for review")
    custom_ids = [c["custom_id"] for c in first["components"][0]["components"]]
    assert custom_ids == [
        f"newsbot:review:approve:{pending[0]}",
        f"newsbot:review:reject:{pending[0]}",
    ]


@pytest.mark.parametrize("first_look_dropped", [False, True])
async def test_a_review_post_whose_record_was_lost_is_not_posted_again(
    discord_double: DiscordDouble,
    tmp_path: Path,
    seeded: Path,
    restore_endpoints: None,
    first_look_dropped: bool,
) -> None:
    # newsbot stopped after Discord stored the review post of the first item but before it
    # recorded it, and restarts long after the nonce window: the post is in the channel.
    # (With the first look at the channel cut off, the feed must look again, not post.)
    settings = settings_for(discord_double, tmp_path)
    if first_look_dropped:
        discord_double.drop_next(2, "GET /channels/*/messages")  # aiohttp retries a GET once
    pending = sorted(i for i, s in (await statuses(settings)).items() if s is Status.PENDING)
    buttons = [
        {"type": 2, "style": style, "label": action, "custom_id": f"newsbot:review:{action}:{p}"}
        for action, style, p in (("approve", 3, pending[0]), ("reject", 4, pending[0]))
    ]
    earlier = discord_double.store.create(
        channel_id=discord_double.channel("review").id,
        guild_id=discord_double.guild.id,
        author=discord_double.bot_user,
        body={
            "content": f"**#{pending[0]}** · ⏳ waiting for review",
            "components": [{"type": 1, "components": buttons}],
        },
    )

    def posted_for(item: int) -> list[dict[str, Any]]:
        return [
            m
            for m in review_messages(discord_double)
            if any(
                c["custom_id"] == f"newsbot:review:approve:{item}"
                for row in m.get("components", [])
                for c in row["components"]
            )
        ]

    async with running_bot(settings, discord_double):
        # Every other item posted: a second post of the first would have come with them.
        await discord_double.wait_until(
            lambda: all(posted_for(p) for p in pending) or None, timeout=10
        )
        assert [m["id"] for m in posted_for(pending[0])] == [earlier["id"]]
        assert len(review_messages(discord_double)) == len(pending)
        looks = discord_double.requests_to("GET /channels/*/messages")
        assert len(looks) == (3 if first_look_dropped else 1)
    async with open_app(settings) as app:
        post = await app.store.review_post(pending[0])
    assert post is not None and post.message_id == int(earlier["id"])


async def test_moderator_approves_with_a_button_and_buttons_survive_a_restart(
    discord_double: DiscordDouble, tmp_path: Path, seeded: Path, restore_endpoints: None
) -> None:
    settings = settings_for(discord_double, tmp_path)
    async with running_bot(settings, discord_double):
        first, second = (await discord_double.wait_for_messages("review", 2, timeout=10))[:2]
        item = int(first["components"][0]["components"][0]["custom_id"].split(":")[3])
        refused = await discord_double.click_button(
            first, f"newsbot:review:approve:{item}", user="member"
        )
        response = await refused.response()
        assert response.ephemeral and "Only moderators" in response.data["content"]
        assert (await statuses(settings))[item] is Status.PENDING
        click = await discord_double.click_button(
            first, f"newsbot:review:approve:{item}", user="moderator"
        )
        response = await click.response()
        assert response.type == 7  # the review message itself is updated
        assert "✅ approved by <@" in response.data["content"]
        assert response.data["components"] == []
        assert (await statuses(settings))[item] is Status.APPROVED
    # A new process: the old message's Reject button still works, through a modal.
    other = int(second["components"][0]["components"][1]["custom_id"].split(":")[3])
    async with running_bot(settings, discord_double):
        click = await discord_double.click_button(second, f"newsbot:review:reject:{other}")
        modal = await click.response()
        assert modal.type == 9
        submit = await discord_double.submit_modal(
            modal.data["custom_id"],
            {modal.data["components"][0]["components"][0]["custom_id"]: "paywalled"},
            channel="review",
            message=second,
        )
        updated = await submit.response()
        assert (
            "❌ rejected by <@" in updated.data["content"]
            and "paywalled" in updated.data["content"]
        )
    async with open_app(settings) as app:
        rejected = await app.store.get(other)
        assert rejected.status is Status.REJECTED and rejected.reason == "paywalled"


async def test_slash_commands_for_moderators_and_refusals_for_members(
    discord_double: DiscordDouble, tmp_path: Path, seeded: Path, restore_endpoints: None
) -> None:
    settings = settings_for(discord_double, tmp_path)
    before = await statuses(settings)
    pending = [i for i, s in before.items() if s is Status.PENDING]
    async with running_bot(settings, discord_double):
        for command, options in [
            ("news approve", {"item": pending[0]}),
            ("news reject", {"item": pending[0], "reason": "no"}),
            ("news queue", {}),
            ("news show", {"item": pending[0]}),
            ("digest publish", {}),
            ("digest preview", {}),
        ]:
            handle = await discord_double.send_slash_command(command, options, user="member")
            response = await handle.response()
            assert response.ephemeral, command
            assert response.data["content"].startswith("⛔ Only moderators"), command
        assert await statuses(settings) == before
        assert discord_double.messages("digest-general") == []

        handle = await discord_double.send_slash_command(
            "news approve", {"item": pending[0]}, user="moderator"
        )
        assert (await handle.response()).data["content"].startswith(f"✅ Approved #{pending[0]}")
        again = await discord_double.send_slash_command(
            "news approve", {"item": pending[0]}, user="moderator"
        )
        assert (await again.response()).data["content"] == (
            f"ℹ️ Item {pending[0]} was already approved; nothing changed."
        )
        missing = await discord_double.send_slash_command(
            "news approve", {"item": 99999}, user="moderator"
        )
        assert (await missing.response()).data["content"] == "🔍 Item 99999 does not exist."

        queue = await discord_double.send_slash_command("news queue", {}, user="moderator")
        page = await queue.response()
        assert page.data["content"].startswith(f"**Queue** · {len(before)} items · page 1/")
        labels = [c["label"] for c in page.data["components"][0]["components"]]
        assert labels == ["Previous", "Next"]

        async with open_app(settings) as app:
            title = (await app.store.get(pending[1])).article.title
        choices = await discord_double.send_autocomplete(
            "news show", {"item": title[:12]}, focused="item", user="moderator"
        )
        answer = await choices.response()
        assert answer.type == 8
        assert pending[1] in [c["value"] for c in answer.data["choices"]]

        submit = await discord_double.send_slash_command(
            "news submit",
            {"url": "https://example.org/scoop", "title": "A reader's scoop"},
            user="member",
        )
        assert "is waiting for a moderator" in (await submit.response()).data["content"]
        bad = await discord_double.send_slash_command(
            "news submit", {"url": "javascript:alert(1)", "title": "x"}, user="member"
        )
        assert (await bad.response()).data["content"] == (
            "⚠️ webUrl: 'javascript:alert(1)' is not an http(s) URL"
        )
        await discord_double.wait_for_message(
            "review", lambda m: "A reader" in m["content"], timeout=10
        )


async def test_digest_publish_posts_once_and_marks_items(
    discord_double: DiscordDouble, tmp_path: Path, seeded: Path, restore_endpoints: None
) -> None:
    settings = settings_for(discord_double, tmp_path)
    async with open_app(settings) as app:
        from bot import moderation

        report = await ingest(app.store, [SEEDS])
        for item_id in report.new_ids[:4]:
            await moderation.approve(app.store, item_id, actor="test")
    general = discord_double.channel("digest-general").id
    async with running_bot(settings, discord_double):
        publish = await discord_double.send_slash_command(
            "digest publish", {"channel": general}, user="moderator"
        )
        assert (await publish.response()).type == 5  # deferred: posting may take a while
        [report] = await publish.wait_for_followups(1, timeout=30)
        assert report["content"].startswith("posted 4 items in ")
        posted = discord_double.messages("digest-general")
        # Readers see the news, not newsbot's ids or part counters.
        assert posted and not any("newsbot ·" in m["content"] for m in posted)
        assert all(m["content"].strip() for m in posted)
        again = await discord_double.send_slash_command(
            "digest publish", {"channel": general}, user="moderator"
        )
        await again.response()
        [second] = await again.wait_for_followups(1, timeout=30)
        assert len(discord_double.messages("digest-general")) == len(posted)
        assert second["content"] == f"nothing new for <#{general}>"
    async with open_app(settings) as app:
        published = await app.store.list_items(QueueQuery(statuses=(Status.PUBLISHED,)))
        delivered = [
            d
            for i in published
            for d in await app.store.deliveries(i.id)
            if d.channel_id == general
        ]
    message_ids = {int(m["id"]) for m in discord_double.messages("digest-general")}
    assert len(delivered) == 4 and {d.message_id for d in delivered} <= message_ids


async def test_the_bot_resumes_after_a_gateway_close(
    discord_double: DiscordDouble, tmp_path: Path, seeded: Path, restore_endpoints: None
) -> None:
    settings = settings_for(discord_double, tmp_path)
    async with running_bot(settings, discord_double):
        await discord_double.close_gateway(4000)
        await discord_double.wait_for_resume(timeout=15)
        handle = await discord_double.send_slash_command("news queue", {}, user="moderator")
        assert (await handle.response()).data["content"].startswith("**Queue**")


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (
            "hidden",
            "the bot cannot see channel {id} (wrong id, or the bot lacks View Channel there)",
        ),
        ("read-only", "the bot cannot post in #read-only ({id}); give it Send Messages there"),
    ],
)
async def test_a_config_naming_an_unusable_channel_stops_with_one_message(
    discord_double: DiscordDouble,
    tmp_path: Path,
    restore_endpoints: None,
    key: str,
    problem: str,
) -> None:
    from dataclasses import replace

    channel = discord_double.channel(key).id
    settings = replace(settings_for(discord_double, tmp_path), review_channel=channel)
    with pytest.raises(StartupError) as raised:
        await run_bot(settings)
    assert str(raised.value) == f"test.yaml: review_channel: {problem.format(id=channel)}"


@pytest.mark.parametrize(
    ("template", "deny", "problem"),
    [
        (
            "digest",
            Permission.READ_MESSAGE_HISTORY,
            "the bot cannot read the history of #digest-general ({id}); give it Read Message"
            " History there (after a crash, newsbot looks there for the digest parts it posted"
            " but had not recorded, so that it never posts one twice)",
        ),
        (
            "embed",
            Permission.EMBED_LINKS,
            "the bot cannot post embeds in #digest-general ({id}), which its template 'embed'"
            " makes; give it Embed Links there",
        ),
        ("digest", Permission.EMBED_LINKS, None),  # a text digest needs no Embed Links
    ],
)
async def test_a_digest_channel_missing_a_permission_the_digest_needs(
    discord_double: DiscordDouble,
    tmp_path: Path,
    restore_endpoints: None,
    template: str,
    deny: int,
    problem: str | None,
) -> None:
    from dataclasses import replace

    channel = discord_double.channel("digest-general").id
    allow = (Permission.SEND_MESSAGES | Permission.EMBED_LINKS) & ~deny
    await discord_double.set_overwrite("digest-general", "bot-role", allow=allow, deny=deny)
    settings = replace(
        settings_for(discord_double, tmp_path),
        digests=(DigestChannel(channel=channel, template=template),),
    )
    if problem is None:
        async with running_bot(settings, discord_double) as bot:
            assert bot.startup_error is None
        return
    with pytest.raises(StartupError) as raised:
        await run_bot(settings)
    assert str(raised.value) == f"test.yaml: digests[1].channel: {problem.format(id=channel)}"


async def test_a_review_channel_without_history_is_a_warning(
    discord_double: DiscordDouble,
    tmp_path: Path,
    restore_endpoints: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    review = discord_double.channel("review").id
    allow = Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES | Permission.EMBED_LINKS
    await discord_double.set_overwrite(
        "review", "bot-role", allow=allow, deny=Permission.READ_MESSAGE_HISTORY
    )
    with caplog.at_level("WARNING", logger="bot.discord_adapter.client"):
        async with running_bot(settings_for(discord_double, tmp_path), discord_double) as bot:
            assert bot.startup_error is None
    assert (
        f"test.yaml: review_channel: the bot cannot read the history of #review ({review}); a"
        " review post made just before a restart may be posted again (give it Read Message"
        " History there)"
    ) in caplog.messages


async def test_a_wrong_token_is_one_clear_error(
    discord_double: DiscordDouble,
    tmp_path: Path,
    restore_endpoints: None,
) -> None:
    from dataclasses import replace

    settings = replace(settings_for(discord_double, tmp_path), token=Secret("wrong"))
    with pytest.raises(LoginFailed) as raised:
        await run_bot(settings)
    # newsbot run prints it as "newsbot: error: ..." (tests/reliability/test_secrets.py).
    assert str(raised.value) == (
        "Discord refused the token in DISCORD_TOKEN (reset it in the Developer Portal)"
    )


async def test_a_schedule_fires_once_and_not_again_after_a_restart(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    from dataclasses import replace

    from bot import moderation

    base = settings_for(discord_double, tmp_path)
    general = discord_double.channel("digest-general").id
    settings = replace(
        base,
        review_channel=None,
        digests=(DigestChannel(channel=general, schedule="0 9 * * *", timezone="Europe/Berlin"),),
    )
    async with open_app(settings) as app:
        report = await ingest(app.store, [SEEDS])
        for item_id in report.new_ids[:2]:
            await moderation.approve(app.store, item_id, actor="test")
    clock = ManualClock(datetime(2026, 11, 26, 7, 59, tzinfo=UTC))  # 08:59 in Berlin
    async with running_bot(settings, discord_double, clock) as bot:
        await clock.wait_for_sleepers(1)
        assert discord_double.messages("digest-general") == []  # nothing before 09:00
        clock.advance(timedelta(minutes=1))
        first = await discord_double.wait_for_message("digest-general", timeout=10)
        await clock.wait_for_sleepers(1)
    posted = len(discord_double.messages("digest-general"))
    assert posted == 1 and first["content"].startswith("## News digest")  # two items: one message
    # Restarted just after the run: the 09:00 run is recorded, so nothing is posted again,
    # even with new approved items waiting.
    async with open_app(settings) as app:
        await moderation.approve(app.store, report.new_ids[2], actor="test")
    async with running_bot(settings, discord_double, clock) as bot:
        await clock.wait_for_sleepers(1)
    assert len(discord_double.messages("digest-general")) == posted
    # Down across the next day's 09:00, back at 10:00: one catch-up digest, no burst.
    clock.advance(timedelta(days=1, hours=1))
    async with running_bot(settings, discord_double, clock) as bot:
        await discord_double.wait_for_messages("digest-general", posted + 1, timeout=10)
        await clock.wait_for_sleepers(1)
    caught_up = len(discord_double.messages("digest-general"))
    assert caught_up == posted + 1
    async with open_app(settings) as app:
        assert (await app.store.get(report.new_ids[2])).status is Status.PUBLISHED
    # The next run finds nothing approved: it posts nothing.
    async with running_bot(settings, discord_double, clock) as bot:
        await clock.wait_for_sleepers(1)
        clock.advance(timedelta(days=1))
        await clock.wait_for_sleepers(1)
        await bot.scheduler.wait_idle()
    assert len(discord_double.messages("digest-general")) == caught_up
    async with open_app(settings) as app:
        runs = await app.store.last_scheduled_run(general)
    assert runs == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


async def test_schedule_commands_validate_store_and_clear(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    from dataclasses import replace

    base = settings_for(discord_double, tmp_path)
    general = discord_double.channel("digest-general").id
    settings = replace(
        base,
        review_channel=None,
        digests=(DigestChannel(channel=general, timezone="Europe/Berlin"),),
    )
    async with running_bot(settings, discord_double):
        bad = await discord_double.send_slash_command(
            "digest schedule set", {"channel": general, "cron": "0 25 * * *"}, user="moderator"
        )
        assert (await bad.response()).data["content"] == ('⚠️ "0 25 * * *": hour must be 0-23')
        zone = await discord_double.send_slash_command(
            "digest schedule set",
            {"channel": general, "cron": "0 9 * * *", "timezone": "Mars/Olympus"},
            user="moderator",
        )
        assert (await zone.response()).data["content"] == "⚠️ Mars/Olympus: unknown time zone"
        good = await discord_double.send_slash_command(
            "digest schedule set",
            {"channel": general, "cron": "30 7 * * 1-5"},
            user="moderator",
        )
        reply = (await good.response()).data["content"]
        assert reply.startswith(f"🗓️ Schedule for <#{general}> set.")
        assert "30 7 * * 1-5" in reply and "Europe/Berlin" in reply and "[database]" in reply
        show = await discord_double.send_slash_command("digest schedule show", {}, user="moderator")
        assert "30 7 * * 1-5" in (await show.response()).data["content"]
        clear = await discord_double.send_slash_command(
            "digest schedule clear", {"channel": general}, user="moderator"
        )
        assert (await clear.response()).data["content"] == (
            f"🗓️ <#{general}> now posts only on `/digest publish`."
        )
    async with open_app(settings) as app:
        [stored] = await app.store.schedules()
    assert (stored.channel_id, stored.cron, stored.timezone) == (general, None, "Europe/Berlin")
    assert stored.updated_by.startswith(f"discord:{discord_double.user('moderator').id}:")


async def test_news_split_makes_a_merged_article_its_own_pending_item(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    from bot.ingest import Clusterer

    folder = tmp_path / "in"
    folder.mkdir()
    for name, title, url, outlet in [
        ("1.md", "Bank of England cuts interest rates to 3.5%", "https://bbc.co.uk/r", "BBC"),
        (
            "2.md",
            "Bank of England lowers rates to 3.5% as inflation eases",
            "https://ft.com/r",
            "FT",
        ),
    ]:
        (folder / name).write_text(
            f"---\ntitle: {title!r}\nwebUrl: {url}\nprovider: {{name: {outlet}}}\n"
            "publishedDateTime: 2026-11-06T12:00:00Z\n---\n"
        )
    settings = settings_for(discord_double, tmp_path)
    async with open_app(settings) as app:
        report = await ingest(
            app.store,
            [folder],
            cluster=Clusterer(app.store, settings.clustering, app.clock),
        )
    assert report.summary == "1 new, 0 updated, 0 unchanged, 0 rejected, 1 clustered"
    [lead] = report.new_ids
    async with running_bot(settings, discord_double):
        options = {"item": lead, "url": "https://ft.com/r"}
        refused = await discord_double.send_slash_command("news split", options, user="member")
        assert (await refused.response()).data["content"].startswith("⛔ Only moderators")
        handle = await discord_double.send_slash_command("news split", options, user="moderator")
        reply = await handle.response()
        assert reply.ephemeral
        assert reply.data["content"] == (
            f"✂️ Split from #{lead}: #{lead + 1} Bank of England lowers rates to 3.5% as"
            " inflation eases is pending."
        )
        again = await discord_double.send_slash_command("news split", options, user="moderator")
        assert (await again.response()).data["content"] == (
            f"🔍 Related coverage https://ft.com/r of item {lead} does not exist."
        )
        await discord_double.wait_for_message(
            "review", lambda m: "lowers rates" in m["content"], timeout=10
        )
    assert await statuses(settings) == {lead: Status.PENDING, lead + 1: Status.PENDING}
