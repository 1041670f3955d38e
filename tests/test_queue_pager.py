"""``/news queue`` pages by key: Previous and Next through the real bot and the Discord double,
with the queue changing between clicks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bot import moderation
from bot.app import open_app
from bot.articles import Article, Provider
from bot.config import Settings
from tests.discord_double import DiscordDouble
from tests.reliability import harness
from tests.reliability.harness import running_bot

HEADER = re.compile(r"^\*\*Queue\*\* · (\d+) items? · page (\d+)/(\d+)$")


def article(n: int) -> Article:
    return Article(
        url=f"https://ex.org/{n}",
        web_url=f"https://ex.org/{n}",
        title=f"Story number {n}",
        provider=Provider("Example", "ex.org"),
        topics=("AI",),
        source="---\n---\n",
        source_hash=f"h{n}",
    )


async def fill(settings: Settings, count: int) -> None:
    """``count`` approved items (approved, so that none is posted to the review channel)."""
    async with open_app(settings) as app:
        await app.store.upsert_articles([article(n) for n in range(1, count + 1)], actor="t")
        await moderation.approve_all(app.store, actor="t")


def page_of(message: dict[str, Any]) -> tuple[tuple[int, int, int], list[int], dict[str, bool]]:
    """(total, page, pages), the item ids listed, and which buttons are enabled."""
    header, *lines = message["content"].split("\n")
    match = HEADER.match(header)
    assert match is not None, header
    ids = [int(re.match(r"^`#(\d+)`", line).group(1)) for line in lines]  # type: ignore[union-attr]
    buttons = {
        c["label"]: not c.get("disabled", False) for c in message["components"][0]["components"]
    }
    return (int(match[1]), int(match[2]), int(match[3])), ids, buttons


def custom_id(message: dict[str, Any], label: str) -> str:
    [button] = [c for c in message["components"][0]["components"] if c["label"] == label]
    return str(button["custom_id"])


async def test_the_queue_pages_forward_and_back_by_key(
    discord_double: DiscordDouble, tmp_path: Path, restore_endpoints: None
) -> None:
    settings = harness.settings_for(discord_double, tmp_path / "newsbot.db")
    await fill(settings, 35)
    async with running_bot(settings, discord_double):
        everything = await discord_double.send_slash_command("news queue", {}, user="moderator")
        assert (await everything.response()).ephemeral
        first = page_of(await everything.wait_for_original())
        assert first == ((35, 1, 4), list(range(1, 11)), {"Previous": False, "Next": True})

        command = await discord_double.send_slash_command(
            "news queue", {"status": "approved"}, user="moderator"
        )
        await command.response()
        message = await command.wait_for_original()
        assert page_of(message)[0] == (35, 1, 4)

        async def click(label: str) -> dict[str, Any]:
            handle = await discord_double.click_button(message, custom_id(message, label))
            response = await handle.response()
            assert response.type == 7 and response.data is not None  # the same message, updated
            return {**message, **response.data}

        message = await click("Next")
        assert page_of(message) == (
            (35, 2, 4),
            list(range(11, 21)),
            {"Previous": True, "Next": True},
        )
        # Items 1-5 leave the filter between clicks: the next page starts after the last id
        # shown, so none is skipped (an offset would skip 21-25) and the count follows.
        async with open_app(settings) as app:
            for item_id in range(1, 6):
                await moderation.reject(app.store, item_id, actor="t", reason=None)
        message = await click("Next")
        assert page_of(message) == (
            (30, 2, 3),
            list(range(21, 31)),
            {"Previous": True, "Next": True},
        )
        message = await click("Next")
        assert page_of(message) == (
            (30, 3, 3),
            list(range(31, 36)),
            {"Previous": True, "Next": False},
        )
        message = await click("Previous")
        assert page_of(message) == (
            (30, 2, 3),
            list(range(21, 31)),
            {"Previous": True, "Next": True},
        )
        message = await click("Previous")
        assert page_of(message)[1:] == (list(range(11, 21)), {"Previous": True, "Next": True})
        # Back at the start: a full first page, numbered from the start again.
        message = await click("Previous")
        assert page_of(message) == (
            (30, 1, 3),
            list(range(6, 16)),
            {"Previous": False, "Next": True},
        )

        rejected = await discord_double.send_slash_command(
            "news queue", {"status": "rejected"}, user="moderator"
        )
        await rejected.response()
        assert page_of(await rejected.wait_for_original()) == (
            (5, 1, 1),
            list(range(1, 6)),
            {"Previous": False, "Next": False},
        )
