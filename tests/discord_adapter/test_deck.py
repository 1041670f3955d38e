"""The review deck (``/news review``) end to end: the real discord.py client against the
loopback Discord double, a real SQLite file read back after every step."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_app
from bot.articles import Article, Provider
from bot.config import FeedSettings, Settings
from bot.store import QueueQuery, Status
from tests.discord_double import DiscordDouble
from tests.discord_double.interactions import InteractionHandle
from tests.reliability import harness
from tests.reliability.harness import running_bot

# Two feeds on a closed loopback port: listed for the deck's filter, their polls just fail.
HN = "http://127.0.0.1:9/hn.xml"
LOBSTERS = "http://127.0.0.1:9/lobsters.xml"


def article(n: int) -> Article:
    """Every third item names no outlet (Trust outlet is disabled there); odd ones are AI."""
    return Article(
        url=f"https://outlet{n % 3}.example/{n}",
        web_url=f"https://outlet{n % 3}.example/{n}",
        title=f"Story {n}",
        excerpt=f"What happened in story {n}.",
        provider=None if n % 3 == 0 else Provider(f"Outlet {n % 3}", f"outlet{n % 3}.example"),
        topics=("AI",) if n % 2 else ("Climate",),
        quality=n,
        source=f"---\ntitle: Story {n}\n---\n",
        source_hash=f"h{n}",
        origin=HN if n % 4 == 0 else LOBSTERS,
    )


async def seed(settings: Settings, count: int) -> list[int]:
    async with open_app(settings) as app:
        results = await app.store.upsert_articles(
            [article(n) for n in range(1, count + 1)], actor="test"
        )
    return [item_id for item_id, _ in results]


async def items(settings: Settings) -> dict[int, tuple[Status, str | None]]:
    async with open_app(settings) as app:
        return {i.id: (i.status, i.reason) for i in await app.store.list_items(QueueQuery())}


def deck_settings(double: DiscordDouble, tmp_path: Path) -> Settings:
    # No review channel: the deck alone (its feed would post each item there too).
    return harness.settings_for(double, tmp_path / "newsbot.db", review_channel=None)


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A message's buttons by label."""
    return {c["label"]: c for row in message["components"] for c in row["components"]}


def shown(message: dict[str, Any]) -> int:
    """The item a deck card shows (from its Approve button's custom id)."""
    return int(buttons(message)["Approve"]["custom_id"].split(":")[3])


async def open_deck(
    double: DiscordDouble, options: dict[str, Any] | None = None, user: str = "moderator"
) -> dict[str, Any]:
    handle = await double.send_slash_command("news review", options or {}, user=user)
    response = await handle.response()
    assert response.type == 4 and response.ephemeral
    assert handle.original_id is not None
    return double.message(handle.original_id)


async def click(
    double: DiscordDouble, deck: dict[str, Any], label: str, user: str = "moderator"
) -> tuple[InteractionHandle, dict[str, Any]]:
    handle = await double.click_button(deck, buttons(deck)[label]["custom_id"], user=user)
    response = await handle.response()
    return handle, response.data if response.type == 9 else double.message(deck["id"])


async def reject(
    double: DiscordDouble, deck: dict[str, Any], reason: str, user: str = "moderator"
) -> dict[str, Any]:
    handle = await double.click_button(deck, buttons(deck)["Reject"]["custom_id"], user=user)
    modal = await handle.response()
    assert modal.type == 9  # the reason modal
    field = modal.data["components"][0]["components"][0]["custom_id"]
    submit = await double.submit_modal(
        modal.data["custom_id"], {field: reason}, user=user, channel="general", message=deck
    )
    updated = await submit.response()
    assert updated.type == 7  # the same deck message, edited
    return double.message(deck["id"])


async def test_the_deck_walks_twenty_items_with_every_button(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    settings = deck_settings(discord_double, tmp_path)
    ids = await seed(settings, 20)
    async with running_bot(settings, discord_double):
        deck = await open_deck(discord_double)
        assert shown(deck) == ids[0]
        assert deck["content"].startswith("🗂️ **Review deck** · 20 pending\n")
        assert f"**#{ids[0]}** · ⏳ waiting for review" in deck["content"]
        assert "Story 1" in deck["content"]  # rendered as it would post
        assert list(buttons(deck)) == ["Approve", "Reject", "Skip", "Trust outlet"]
        decided: dict[int, tuple[Status, str | None]] = {}
        skipped: list[int] = []
        for n, item_id in enumerate(ids):
            assert shown(deck) == item_id
            trustable = not buttons(deck)["Trust outlet"].get("disabled")
            assert trustable == ((n + 1) % 3 != 0)
            action = ("approve", "reject", "skip", "trust")[n % 4]
            if action == "trust" and not trustable:
                action = "approve"
            if action == "reject":
                deck = await reject(discord_double, deck, f"off-topic {n}")
                decided[item_id] = (Status.REJECTED, f"off-topic {n}")
                expected_note = f"❌ Rejected #{item_id}."
            else:
                label = {"approve": "Approve", "skip": "Skip", "trust": "Trust outlet"}[action]
                handle, deck = await click(discord_double, deck, label)
                assert handle.original_id == int(deck["id"])  # the same message, edited
                if action == "skip":
                    skipped.append(item_id)
                    expected_note = f"⏭️ Skipped #{item_id}."
                elif action == "approve":
                    decided[item_id] = (Status.APPROVED, None)
                    expected_note = f"✅ Approved #{item_id}."
                else:
                    outlet = f"outlet{(n + 1) % 3}.example"
                    decided[item_id] = (Status.APPROVED, f"trusted outlet {outlet}")
                    expected_note = f"🤝 {outlet} "
            assert expected_note in deck["content"]
        # The end card: skipped items are still pending, so it offers to start over.
        assert deck["content"].endswith(f"No more pending items after #{ids[-1]}.")
        assert list(buttons(deck)) == ["Start over"]
        _, deck = await click(discord_double, deck, "Start over")
        assert shown(deck) == skipped[0]
        assert deck["content"].startswith(f"🗂️ **Review deck** · {len(skipped)} pending")
    stored = await items(settings)
    for item_id, outcome in decided.items():
        assert stored[item_id] == outcome
    assert [i for i, (status, _) in stored.items() if status is Status.PENDING] == skipped
    async with open_app(settings) as app:
        trusted = await app.store.trusted_providers()
    assert trusted == ("outlet1.example", "outlet2.example")


async def test_members_are_refused_everywhere_and_nothing_changes(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    settings = deck_settings(discord_double, tmp_path)
    await seed(settings, 3)
    before = await items(settings)
    async with running_bot(settings, discord_double):
        refused = await discord_double.send_slash_command("news review", {}, user="member")
        answer = await refused.response()
        assert answer.ephemeral and answer.data["content"].startswith("⛔ Only moderators")
        deck = await open_deck(discord_double)
        # Discord shows an ephemeral deck to its moderator alone.
        with pytest.raises(LookupError, match="ephemeral"):
            await discord_double.click_button(
                deck, buttons(deck)["Approve"]["custom_id"], user="member"
            )
        # A moderator who lost the role since opening the deck is refused by every button.
        await discord_double.remove_role("moderator", "Moderator")
        for label in ("Approve", "Reject", "Skip", "Trust outlet"):
            handle = await discord_double.click_button(
                deck, buttons(deck)[label]["custom_id"], user="moderator"
            )
            response = await handle.response()
            assert response.ephemeral, label
            assert response.data["content"].startswith("⛔ Only moderators"), label
        assert discord_double.message(deck["id"])["content"] == deck["content"]
    assert await items(settings) == before
    async with open_app(settings) as app:
        assert await app.store.trusted_providers() == ()


async def test_a_deck_works_after_a_restart_and_a_second_moderator_is_told(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    settings = deck_settings(discord_double, tmp_path)
    ids = await seed(settings, 4)
    async with running_bot(settings, discord_double):
        deck = await open_deck(discord_double)
        other = await open_deck(discord_double, user="owner")
    assert shown(deck) == shown(other) == ids[0]
    async with running_bot(settings, discord_double):
        _, deck = await click(discord_double, deck, "Approve")
        assert shown(deck) == ids[1]
        # The owner's deck still shows the first item: their click is told, and moves on.
        _, other = await click(discord_double, other, "Approve", user="owner")
        assert f"ℹ️ #{ids[0]} was already approved; nothing changed." in other["content"]
        assert shown(other) == ids[1]
        other = await reject(discord_double, other, "dupe", user="owner")
        deck = await reject(discord_double, deck, "late")
        assert f"ℹ️ #{ids[1]} was already rejected; nothing changed." in deck["content"]
    stored = await items(settings)
    assert stored[ids[0]] == (Status.APPROVED, None)
    assert stored[ids[1]] == (Status.REJECTED, "dupe")


async def test_the_topic_filter_and_the_feed_option(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    settings = replace(
        deck_settings(discord_double, tmp_path),
        feeds=(FeedSettings(HN), FeedSettings(LOBSTERS)),
        allow_private_feeds=True,
    )
    ids = await seed(settings, 8)
    async with running_bot(settings, discord_double):
        # The feed filter: items whose feed's address contains "HN" (every fourth story).
        deck = await open_deck(discord_double, {"feed": "HN"})
        assert deck["content"].startswith("🗂️ **Review deck** · 2 pending · feed HN")
        walked = []
        while "Skip" in buttons(deck):
            walked.append(shown(deck))
            _, deck = await click(discord_double, deck, "Skip")
        assert walked == [ids[3], ids[7]]
        assert deck["content"].endswith(f"No more pending items from feed HN after #{ids[7]}.")
        both = await open_deck(discord_double, {"topic": "ai", "feed": "lobsters"})
        assert both["content"].startswith("🗂️ **Review deck** · 4 pending · topic ai · feed")
        none = await open_deck(discord_double, {"feed": "nowhere.example"})
        assert none["content"] == "✅ No pending items from feed nowhere.example."
        deck = await open_deck(discord_double, {"topic": "climate"})
        assert deck["content"].startswith("🗂️ **Review deck** · 4 pending · topic climate")
        walked = []
        while "Skip" in buttons(deck):
            walked.append(shown(deck))
            _, deck = await click(discord_double, deck, "Skip")
        assert walked == ids[1::2]  # the even stories are Climate
        assert deck["content"].endswith(
            f"No more pending items with topic climate after #{ids[7]}."
        )
        # After a restart, the filters come back from the button's custom id.
    async with running_bot(settings, discord_double):
        _, deck = await click(discord_double, deck, "Start over")
        assert shown(deck) == ids[1]
        long = await discord_double.send_slash_command(
            "news review", {"topic": "t" * 40, "feed": "f" * 40}, user="moderator"
        )
        assert (await long.response()).data["content"] == (
            "⚠️ topic and feed are too long for the deck's buttons (80 characters once encoded;"
            " at most 58)"
        )


async def test_an_empty_queue_gets_an_end_card_without_buttons(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    settings = deck_settings(discord_double, tmp_path)
    async with running_bot(settings, discord_double):
        deck = await open_deck(discord_double)
    assert deck["content"] == "✅ No pending items."
    assert deck["components"] == []
