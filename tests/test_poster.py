"""Recognising a message in a channel as a part newsbot sent (bot/poster.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.poster import same_message

PART: dict[str, Any] = {
    "content": "## News digest\n\n**1. [Story](<https://a.example/1>)**",
    "embeds": [
        {
            "title": "Story",
            "url": "https://a.example/1",
            "description": "An excerpt.",
            "author": {"name": "Outlet"},
            "footer": {"text": "AI"},
            "fields": [{"name": "Also covered by", "value": "[B](<https://b.example/>)"}],
            "color": 0x5865F2,
        }
    ],
    "allowed_mentions": {"parse": []},
}


def as_discord_returns_it(payload: dict[str, Any]) -> dict[str, Any]:
    """The message as Discord hands it back: its own keys added, text trimmed."""
    embeds = [
        {**copy.deepcopy(embed), "type": "rich", "description": embed["description"] + " "}
        for embed in payload["embeds"]
    ]
    return {"id": "1", "content": payload["content"].strip(), "embeds": embeds, "pinned": False}


def test_a_part_as_discord_returns_it_is_the_same_message() -> None:
    assert same_message(as_discord_returns_it(PART), PART)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.update(content=m["content"] + " more"),
        lambda m: m.update(embeds=[]),
        lambda m: m["embeds"][0].update(description="Another excerpt."),
        lambda m: m["embeds"][0].update(url="https://a.example/2"),
        lambda m: m["embeds"][0]["fields"].clear(),
        lambda m: m["embeds"].append({"title": "Extra"}),
    ],
    ids=["content", "no-embeds", "description", "url", "fields", "extra-embed"],
)
def test_any_other_content_or_embed_is_another_message(change: Any) -> None:
    found = as_discord_returns_it(PART)
    change(found)
    assert not same_message(found, PART)


def test_a_text_part_matches_on_exact_content_only() -> None:
    part = {"content": "**1. [A](<https://a.example/>)**\nExcerpt."}
    assert same_message({"content": part["content"] + "\n", "embeds": []}, part)
    assert not same_message({"content": "**1. [A](<https://a.example/>)**"}, part)
