"""Rendering one posted message again, for an edit (issue 15): the same template and the
message's own items only, the header and footer where they were, byte for byte the same when
nothing changed; a retracted item struck through (golden files), a grown item shortened."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from bot.articles import Article
from bot.render import Renderer
from bot.render.pack import PackedMessage
from tests.render.test_renderer import GOLDEN, KINDS, NOW, REF, digest, golden_text, seed_articles


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.fixture(scope="module")
def seeds() -> list[Article]:
    return seed_articles()


def again(
    renderer: Renderer,
    articles: list[Article],
    messages: list[PackedMessage],
    position: int,
    kind: str,
    **kwargs: object,
) -> dict[str, object]:
    return renderer.render_part(
        articles,
        digest(kind),
        now=NOW,
        ref=REF,
        indices=messages[position].item_indices,
        first=position == 0,
        last=position == len(messages) - 1,
        current=messages[position].payload,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("kind", KINDS)
def test_every_message_renders_again_byte_for_byte(
    renderer: Renderer, seeds: list[Article], kind: str
) -> None:
    messages = renderer.render_digest(seeds, digest(kind), now=NOW, ref=REF)
    assert len(messages) > 1
    for position, message in enumerate(messages):
        assert again(renderer, seeds, messages, position, kind) == message.payload


def test_a_corrected_title_changes_its_item_only(renderer: Renderer, seeds: list[Article]) -> None:
    messages = renderer.render_digest(seeds, digest(), now=NOW, ref=REF)
    target = messages[1].item_indices[0]
    old_title = seeds[target].title
    corrected = list(seeds)
    corrected[target] = replace(seeds[target], title="A corrected headline")
    payload = again(renderer, corrected, messages, 1, "digest")
    content = str(payload["content"])
    assert "A corrected headline" in content and old_title not in content
    assert payload["allowed_mentions"] == {"parse": []}
    before = messages[1].content.replace(old_title, "A corrected headline")
    assert content == before  # everything else as it was


def test_a_grown_item_is_shortened_and_the_others_stay(
    renderer: Renderer, seeds: list[Article]
) -> None:
    wide = digest(excerpt_length=1500)
    messages = renderer.render_digest(seeds, wide, now=NOW, ref=REF)
    message = max(messages, key=lambda m: len(m.content))
    assert len(message.item_indices) > 1 and len(message.content) > 1000
    position = messages.index(message)
    target = message.item_indices[-1]
    grown = list(seeds)
    grown[target] = replace(seeds[target], excerpt="Much longer now. " * 80)  # 1,360 characters
    payload = renderer.render_part(
        grown,
        wide,
        now=NOW,
        ref=REF,
        indices=message.item_indices,
        first=position == 0,
        last=position == len(messages) - 1,
        current=message.payload,
    )
    whole = ("Much longer now. " * 80).strip()
    content = str(payload["content"])
    assert len(content) <= 2000
    assert "Much longer now." in content and whole not in content and "…" in content
    # The other items' text is unchanged: the message up to the grown item is the same.
    cut = message.content.index(f"**{target + 1}. ")
    assert content[:cut] == message.content[:cut]
    # Alone, the grown item fits whole: it was shortened to stay beside the others.
    alone = renderer.render_part(
        grown, wide, now=NOW, ref=REF, indices=[target], first=False, last=False
    )
    assert whole in str(alone["content"])


@pytest.mark.parametrize("kind", KINDS)
def test_golden_retracted_item(renderer: Renderer, seeds: list[Article], kind: str) -> None:
    messages = renderer.render_digest(seeds, digest(kind), now=NOW, ref=REF)
    reason = "The outlet withdrew it; *see* @everyone"
    first = messages[0].item_indices[0]
    payload = again(renderer, seeds, messages, 0, kind, retracted={first: reason})
    edited = PackedMessage(payload=payload, item_indices=messages[0].item_indices)
    text = golden_text([edited])
    assert "@everyone" not in text.replace("@\u200beveryone", "")
    if kind == "digest":
        assert f"**{first + 1}.** ~~{seeds[first].title}~~" in text
        assert "-# Retracted: The outlet withdrew it; \\*see\\*" in text
    name = f"retracted-{kind}.txt"
    if os.environ.get("NEWSBOT_UPDATE_GOLDEN") == "1":
        (GOLDEN / name).write_text(text, encoding="utf-8")
        pytest.skip(f"golden file regenerated: {name}")
    path = GOLDEN / name
    assert path.exists(), f"{path} missing: run with NEWSBOT_UPDATE_GOLDEN=1"
    assert path.read_text(encoding="utf-8") == text
