"""Packing rendered items into messages within Discord's limits, and shortening items."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import limits
from bot.limits import length
from bot.render.pack import (
    CONTENT_BUDGET,
    ELLIPSIS,
    NOTIFY_BUTTON_ID,
    Cut,
    PackedMessage,
    RenderedItem,
    check_ref,
    embed_length,
    embed_problems,
    fit_item,
    lead,
    measure,
    pack,
    shorten_text,
)

REF = "d1g3st"


def assert_within_limits(messages: list[PackedMessage]) -> None:
    """Every limit of DESIGN §6 that a message-create payload can break."""
    for message in messages:
        payload = message.payload
        assert payload["allowed_mentions"] == {"parse": []}
        content = payload["content"]
        assert length(content) <= limits.CONTENT_MAX
        assert len(content) <= limits.CONTENT_MAX
        embeds = payload.get("embeds", [])
        assert len(embeds) <= limits.EMBEDS_PER_MESSAGE
        assert sum(embed_length(e) for e in embeds) <= limits.EMBEDS_TOTAL_MAX
        for embed in embeds:
            assert embed_problems(embed) == []
        urls = [e["url"] for e in embeds if e.get("url")]
        assert len(urls) == len({u.lower() for u in urls})


def assert_items_once_in_order(messages: list[PackedMessage], count: int) -> None:
    seen = [i for m in messages for i in m.item_indices]
    assert seen == list(range(count))


def assert_nothing_added(
    messages: list[PackedMessage], header: str, items: list[RenderedItem], footer: str
) -> None:
    """Readers see news, not machinery: each message is exactly its blocks (header, item
    texts, footer) joined by blank lines, with no id or part counter of newsbot's own."""
    texts = {item.index: item.text for item in items}
    for number, message in enumerate(messages):
        blocks = [texts[i] for i in message.item_indices]
        if number == 0:
            blocks.insert(0, header)
        if number == len(messages) - 1:
            blocks.append(footer)
        assert message.content == "\n\n".join(b for b in blocks if b)
        assert "newsbot ·" not in message.content


# -- shorten_text -------------------------------------------------------------------------------


@settings(max_examples=400)
@given(st.text(alphabet=st.sampled_from("ab cd,.;\n-—é😀"), max_size=300), st.integers(-2, 320))
def test_shorten_text_cuts_at_a_word_boundary(text: str, limit: int) -> None:
    out = shorten_text(text, limit)
    if len(text) <= limit:
        assert out == text
        return
    assert len(out) <= max(limit, 0)
    if limit < 1:
        assert out == ""
        return
    assert out.endswith(ELLIPSIS)
    head = out[: -len(ELLIPSIS)]
    assert text.startswith(head)
    rest = text[len(head) :]
    # never mid-word: what was cut off starts at a space or at punctuation before one
    assert head == "" or re.match(r"[ \t\n,;:\-–—]*\s", rest)


@pytest.mark.parametrize(
    ("text", "limit", "out"),
    [
        ("short", 10, "short"),
        ("one two three four", 12, "one two…"),
        ("one two three four", 14, "one two three…"),
        ("one two, three", 9, "one two…"),
        ("unbreakablewordhere", 10, "…"),
        ("see https://example.com/very/long/path now", 30, "see…"),
        ("anything", 0, ""),
    ],
)
def test_shorten_text_cases(text: str, limit: int, out: str) -> None:
    assert shorten_text(text, limit) == out


# -- pack -------------------------------------------------------------------------------------


def embed(size: int, url: str | None = None, *, field_value: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"title": "T" * min(size, 200)}
    rest = size - len(out["title"])
    if rest > 0:
        out["description"] = "d" * min(rest, limits.EMBED_DESCRIPTION_MAX)
    if url:
        out["url"] = url
    if field_value:
        out["fields"] = [{"name": "Related", "value": "v" * field_value}]
    return out


BUDGET = CONTENT_BUDGET

text_items = st.lists(st.integers(0, BUDGET), max_size=40).map(
    lambda sizes: [
        RenderedItem(i, text=("x" * (n - 1) + "\u00e9") if n else "") for i, n in enumerate(sizes)
    ]
)
embed_items = st.lists(
    st.tuples(
        st.integers(1, 5_900),
        st.sampled_from([None, "https://a.example/1", "https://A.example/1", "https://b.example/"]),
    ),
    max_size=40,
).map(lambda specs: [RenderedItem(i, embed=embed(n, url)) for i, (n, url) in enumerate(specs)])


@settings(max_examples=200)
@given(
    st.one_of(text_items, embed_items),
    st.text(max_size=300),
    st.text(max_size=300),
)
def test_pack_keeps_every_limit_and_order(
    items: list[RenderedItem], header: str, footer: str
) -> None:
    messages = pack(header, items, footer)
    if not items:
        assert messages == []
        return
    assert_within_limits(messages)
    assert_items_once_in_order(messages, len(items))
    assert_nothing_added(messages, header, items, footer)
    assert all(m.item_indices or m is messages[0] or m is messages[-1] for m in messages)
    if header:
        assert messages[0].content.startswith(header)
    if footer:
        assert messages[-1].content.endswith(footer)


def test_pack_splits_between_items_only() -> None:
    items = [RenderedItem(i, text=f"item {i} " + "w" * 900) for i in range(5)]
    messages = pack("Header", items, "Footer")
    assert [m.item_indices for m in messages] == [(0, 1), (2, 3), (4,)]
    assert messages[0].content.startswith("Header\n\nitem 0 ")
    assert messages[-1].content == f"item 4 {'w' * 900}\n\nFooter"
    assert_within_limits(messages)


def test_header_and_footer_get_their_own_message_when_needed() -> None:
    items = [RenderedItem(0, text="x" * (BUDGET - 10))]
    messages = pack("H" * 50, items, "F" * 50)
    assert [m.item_indices for m in messages] == [(), (0,), ()]
    assert messages[0].content.startswith("H" * 50)
    assert messages[2].content.startswith("F" * 50)


def test_never_two_embeds_with_the_same_url_in_a_message() -> None:
    items = [RenderedItem(i, embed=embed(100, "https://same.example/x")) for i in range(3)]
    items.append(RenderedItem(3, embed=embed(100, "HTTPS://SAME.example/x#frag")))
    messages = pack("", items, "")
    assert [m.item_indices for m in messages] == [(0,), (1,), (2,), (3,)]


def test_ten_embeds_and_6000_characters_per_message() -> None:
    small = [RenderedItem(i, embed=embed(10)) for i in range(23)]
    assert [len(m.item_indices) for m in pack("", small, "")] == [10, 10, 3]
    big = [RenderedItem(i, embed=embed(2_500)) for i in range(5)]
    assert [m.item_indices for m in pack("", big, "")] == [(0, 1), (2, 3), (4,)]


def test_payload_shape() -> None:
    [text] = pack("", [RenderedItem(0, text="hello")], "")
    assert text.payload == {
        "content": "hello",
        "allowed_mentions": {"parse": []},
    }
    [with_embed] = pack("Head", [RenderedItem(0, embed={"title": "t"})], "")
    assert with_embed.payload == {
        "content": "Head",
        "embeds": [{"title": "t"}],
        "allowed_mentions": {"parse": []},
    }


def test_pack_refuses_what_cannot_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        pack("", [RenderedItem(0, text="x" * (limits.CONTENT_MAX + 1))], "")
    with pytest.raises(ValueError, match="does not fit"):
        pack("", [RenderedItem(0, embed={"title": "t" * 300})], "")
    with pytest.raises(ValueError, match="header"):
        pack("h" * (limits.CONTENT_MAX + 1), [RenderedItem(0, text="x")], "")


@pytest.mark.parametrize("ref", ["", "x" * 17, "has space", "ünïcode", "a_b", "<@1>"])
def test_invalid_refs(ref: str) -> None:
    with pytest.raises(ValueError, match="digest ref"):
        check_ref(ref)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Short.", 200, "Short."),
        (
            "One sentence here. Two sentences here. Three.",
            40,
            "One sentence here. Two sentences here.",
        ),
        ("One sentence here. Two sentences here. Three.", 20, "One sentence here."),
        # "Aug. 2" and "e.g. this" end no sentence: the next word is no capital.
        ("It took effect on Aug. 2 this year. Then more.", 30, "It took effect on Aug. 2 this…"),
        ("Use e.g. this one. Next one is here.", 25, "Use e.g. this one."),
        ("“Quoted,” she said. “Another.” And so on.", 31, "“Quoted,” she said. “Another.”"),
        ("No sentence end fits in this limit at all", 12, "No sentence…"),
        ("¿Qué pasa? ¡Nada! Bien.", 18, "¿Qué pasa? ¡Nada!"),
    ],
)
def test_lead_keeps_whole_opening_sentences(text: str, limit: int, expected: str) -> None:
    assert lead(text, limit) == expected
    assert len(lead(text, limit)) <= limit


@settings(max_examples=300)
@given(st.text(max_size=400), st.integers(0, 300))
def test_lead_is_a_prefix_within_the_limit(text: str, limit: int) -> None:
    out = lead(text, limit)
    assert len(out) <= max(limit, 0)
    if out.endswith(ELLIPSIS) and not text.startswith(out):
        assert text.startswith(out[:-1].rstrip())
    else:
        assert text.startswith(out)


@pytest.mark.parametrize(
    ("embed_", "problem"),
    [
        ({"title": "t" * 257}, "title has 257 characters (at most 256)"),
        ({"description": "d" * 4_097}, "description has 4,097 characters (at most 4,096)"),
        ({"footer": {"text": "f" * 2_049}}, "footer has 2,049 characters (at most 2,048)"),
        ({"author": {"name": "a" * 257}}, "author has 257 characters (at most 256)"),
        ({"fields": [{"name": "n" * 257, "value": "v"}]}, "field 1 name has 257 characters"),
        ({"fields": [{"name": "n", "value": "v" * 1_025}]}, "field 1 value has 1,025 characters"),
        ({"fields": [{"name": "n", "value": "v"}] * 26}, "26 fields (at most 25)"),
        (
            {"description": "d" * 4_000, "fields": [{"name": "n", "value": "v" * 1_000}] * 2},
            "6,002 characters in all (at most 6,000)",
        ),
        ({"title": "😀" * 129}, "title has 258 characters"),  # counted in UTF-16 units
    ],
)
def test_embed_problems(embed_: dict[str, Any], problem: str) -> None:
    assert any(p.startswith(problem) for p in embed_problems(embed_))


def reference_measure(embed: Any) -> tuple[int, list[str]]:
    """The embed measurement written plainly, to check the fast one against."""

    def text(holder: Any, key: str) -> str:
        value = holder.get(key) if isinstance(holder, dict) else None
        return value if isinstance(value, str) else ""

    parts = [
        ("title", text(embed, "title"), limits.EMBED_TITLE_MAX),
        ("description", text(embed, "description"), limits.EMBED_DESCRIPTION_MAX),
        ("footer", text(embed.get("footer"), "text"), limits.EMBED_FOOTER_MAX),
        ("author", text(embed.get("author"), "name"), limits.EMBED_AUTHOR_MAX),
    ]
    fields = embed.get("fields") or []
    for number, item in enumerate(fields, 1):
        parts.append((f"field {number} name", text(item, "name"), limits.EMBED_FIELD_NAME_MAX))
        parts.append((f"field {number} value", text(item, "value"), limits.EMBED_FIELD_VALUE_MAX))
    problems = [
        f"{what} has {length(t):,} characters (at most {limit:,})"
        for what, t, limit in parts[:4]
        if length(t) > limit
    ]
    if len(fields) > limits.EMBED_FIELDS_MAX:
        problems.append(f"{len(fields)} fields (at most {limits.EMBED_FIELDS_MAX})")
    problems += [
        f"{what} has {length(t):,} characters (at most {limit:,})"
        for what, t, limit in parts[4:]
        if length(t) > limit
    ]
    total = sum(length(t) for _, t, _ in parts)
    if total > limits.EMBEDS_TOTAL_MAX:
        problems.append(f"{total:,} characters in all (at most {limits.EMBEDS_TOTAL_MAX:,})")
    return total, problems


# Texts of any length around the limits, any characters (astral ones count twice), or values
# that are not text at all.
embed_texts = st.one_of(
    st.text(max_size=40),
    st.integers(0, 4_200).map(lambda n: "x" * n),
    st.integers(0, 2_200).map(lambda n: "😀" * n),
    st.integers(0, 2_200).map(lambda n: "é" * n),
    st.none(),
    st.integers(),
)
embeds_st = st.fixed_dictionaries(
    {},
    optional={
        "title": embed_texts,
        "description": embed_texts,
        "url": st.just("https://a.example/"),
        "footer": st.one_of(st.fixed_dictionaries({"text": embed_texts}), embed_texts),
        "author": st.one_of(st.fixed_dictionaries({"name": embed_texts}), embed_texts),
        "fields": st.lists(
            st.fixed_dictionaries({"name": embed_texts, "value": embed_texts}), max_size=27
        ),
    },
)


@settings(max_examples=300)
@given(embeds_st)
def test_embed_measurement_matches_the_plain_definition(embed_: dict[str, Any]) -> None:
    total, problems = reference_measure(embed_)
    assert embed_length(embed_) == total
    assert embed_problems(embed_) == problems
    measured = measure(RenderedItem(0, text="é😀", embed=embed_))
    assert measured.text_length == 3
    assert measured.embed_length == total
    assert measured.fits(3) is (not problems)
    assert not measured.fits(2)


# -- fit_item ---------------------------------------------------------------------------------


def fake_render(title: str, excerpt: str, related: list[str]) -> Any:
    calls: list[Cut] = []

    def render(cut: Cut) -> RenderedItem:
        calls.append(cut)
        t = title if cut.title is None else shorten_text(title, cut.title)
        e = excerpt if cut.excerpt is None else shorten_text(excerpt, cut.excerpt)
        r = related if cut.related is None else related[: cut.related]
        link = "(<https://x.example/a>)" if cut.links else ""
        return RenderedItem(0, text="\n".join([f"**{t}**{link}", e, *r]).strip())

    return render, calls


def fits(limit: int) -> Any:
    return lambda item: length(item.text) <= limit


def test_fit_item_keeps_an_item_that_fits() -> None:
    render, calls = fake_render("Title", "Excerpt", ["r1"])
    item = fit_item(render, fits(1_000), excerpt=7, related=1, title=5)
    assert item is not None and "Excerpt" in item.text
    assert calls == [Cut()]


def test_fit_item_shortens_the_excerpt_first_at_a_word() -> None:
    excerpt = " ".join(f"word{i}" for i in range(400))
    render, _ = fake_render("Title", excerpt, ["related link"])
    item = fit_item(render, fits(500), excerpt=len(excerpt), related=1, title=5)
    assert item is not None
    assert length(item.text) <= 500
    assert "**Title**" in item.text and "related link" in item.text
    body = item.text.split("\n")[1]
    assert body.endswith("…") and excerpt.startswith(body[:-1])
    assert length(item.text) > 450  # the longest excerpt that fits, not just any


def test_fit_item_then_drops_related_links_then_cuts_the_title() -> None:
    related = ["r" * 200, "s" * 200]
    render, _ = fake_render("Title words " * 10, "e" * 50, related)
    item = fit_item(render, fits(400), excerpt=50, related=2, title=120)
    assert item is not None
    assert "r" * 200 in item.text and "s" * 200 not in item.text and "e" * 50 not in item.text
    item = fit_item(render, fits(80), excerpt=50, related=2, title=120)
    assert item is not None
    assert "r" * 200 not in item.text and item.text.startswith("**Title words")
    assert "…**" in item.text


def test_fit_item_drops_the_link_last_and_gives_up_when_nothing_fits() -> None:
    render, _ = fake_render("T", "", [])
    item = fit_item(render, fits(6), excerpt=0, related=0, title=1)
    assert item is not None and item.text == "**T**"
    assert fit_item(render, fits(2), excerpt=0, related=0, title=1) is None


# -- ping_role and notify_button ------------------------------------------------------------------

MENTIONS = st.sampled_from(["<@&42>", "<@1>", "<@!2>", "@everyone", "@here", "<@&7>", "<#3>"])
hostile_texts = st.lists(
    st.tuples(st.text(max_size=60), MENTIONS, st.integers(0, 1200)).map(
        lambda t: f"{t[0]} {t[1]} " + "w" * t[2]
    ),
    max_size=20,
).map(lambda texts: [RenderedItem(i, text=text) for i, text in enumerate(texts)])


@settings(max_examples=200)
@given(hostile_texts, st.text(max_size=200), st.integers(1, 2**63 - 1), st.booleans())
def test_a_ping_allows_exactly_its_role_and_nothing_else(
    items: list[RenderedItem], header: str, role: int, button: bool
) -> None:
    """Whatever the items say (mentions of users, other roles, @everyone), the only mention a
    digest's payloads allow is its ping_role's, in its first message."""
    messages = pack(header, items, "Footer", ping_role=role, notify_button=button)
    if not items:
        assert messages == []
        return
    assert_within_limits_except_mentions(messages)
    assert messages[0].payload["allowed_mentions"] == {"parse": [], "roles": [str(role)]}
    assert messages[0].content.startswith(f"<@&{role}>")
    for message in messages[1:]:
        assert message.payload["allowed_mentions"] == {"parse": []}
    for message in messages:
        assert message.payload["allowed_mentions"]["parse"] == []
        assert set(message.payload["allowed_mentions"]) <= {"parse", "roles"}
    with_buttons = [m for m in messages if "components" in m.payload]
    assert with_buttons == ([messages[-1]] if button else [])


def assert_within_limits_except_mentions(messages: list[PackedMessage]) -> None:
    for message in messages:
        assert length(message.content) <= limits.CONTENT_MAX


def test_the_notify_buttons_give_and_take_the_role() -> None:
    [message] = pack("Head", [RenderedItem(0, text="one")], "", ping_role=42, notify_button=True)
    assert message.payload == {
        "content": "<@&42>\nHead\n\none",
        "allowed_mentions": {"parse": [], "roles": ["42"]},
        "components": [
            {
                "type": 1,
                "components": [
                    {
                        "type": 2,
                        "style": 1,
                        "label": "Notify me",
                        "custom_id": "newsbot:notify:on:42",
                    },
                    {"type": 2, "style": 2, "label": "Stop", "custom_id": "newsbot:notify:off:42"},
                ],
            }
        ],
    }
    for button in message.payload["components"][0]["components"]:
        assert re.fullmatch(NOTIFY_BUTTON_ID, button["custom_id"])
    with pytest.raises(ValueError, match="needs a ping_role"):
        pack("", [RenderedItem(0, text="x")], "", notify_button=True)
