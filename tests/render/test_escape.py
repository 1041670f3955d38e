"""Discord-Markdown escaping, masked links and the URL filter.

The property tests model what Discord does with escaped text: a backslash before any
non-alphanumeric, non-space character is an escape (simple-markdown's escape rule), everything
else is shown as it is. Two properties together say "shows literally and cannot ping":

- *nothing is live*: scanning the output, every Markdown-special character is escaped, no line
  starts with an unescaped heading/list/quote/subtext marker, no ``://`` has an unescaped colon
  (no autolink) and neither ``@everyone`` nor ``@here`` occurs at all;
- *it round-trips visually*: removing the escapes (what Discord shows) gives back the input,
  less the control/bidi characters that are stripped, modulo invisible zero-width spaces.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.provisional import urls

from bot.render.escape import (
    LINK_ARROW,
    ZWSP,
    clean_text,
    escape_markdown,
    masked_link,
    neutralize,
    safe_url,
    unescape_markdown,
)

SPECIAL = set("\\*_~`|[]()<>")
ASCII_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
STRIPPED = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)

# Text that is mostly the characters Discord Markdown cares about, plus anything at all.
NASTY = "*_~`|[]()<>\\#-+>:@/. \n\t\r1aZé😀\u200b\u202e\x00"
nasty_text = st.one_of(
    st.text(),
    st.text(alphabet=NASTY, max_size=80),
    st.lists(
        st.sampled_from(
            [
                "@everyone",
                "@here",
                "@EVERYONE",
                "<@123>",
                "<@&456>",
                "<@!7>",
                "<#8>",
                "<t:1:R>",
                "<:e:9>",
                "<a:e:9>",
                "</cmd:1>",
                "[x](https://evil)",
                "https://evil.example/x",
                "# ",
                "-# ",
                "> ",
                ">>> ",
                "- ",
                "* ",
                "+ ",
                "1. ",
                "\n",
                "**",
                "||",
                "```",
                "\\",
                "word",
                " ",
            ]
        ),
        max_size=20,
    ).map("".join),
)


def visual(text: str) -> str:
    return text.replace(ZWSP, "")


def live_problems(out: str) -> list[str]:
    """What in ``out`` Discord would still act on (empty when everything shows literally)."""
    problems = []
    escaped = [False] * len(out)
    i = 0
    while i < len(out):
        ch = out[i]
        if ch == "\\":
            if i + 1 >= len(out) or out[i + 1] not in ASCII_PUNCT:
                problems.append(f"lone backslash at {i}")
                i += 1
                continue
            escaped[i + 1] = True
            i += 2
            continue
        if ch in SPECIAL:
            problems.append(f"unescaped {ch!r} at {i}")
        if ch == ":" and out.startswith("//", i + 1):
            problems.append(f"autolink at {i}")
        if ch == ":" and re.match(r":[\w+-]+:", out[i:]):
            problems.append(f"emoji at {i}")
        i += 1
    if re.search(r"@(everyone|here)", out, re.IGNORECASE):
        problems.append("mass mention")
    start = 0
    for line in out.split("\n"):
        body = line.lstrip(" \t\u00a0")
        pos = start + len(line) - len(body)
        marker = re.match(r"[#>+\-*]|\d+\.", body)
        if marker and not escaped[pos + marker.end() - 1]:
            problems.append(f"line-start {marker.group()!r} at {pos}")
        start += len(line) + 1
    return problems


@settings(max_examples=500)
@given(nasty_text)
@example("**[click](https://evil)** @everyone <@&123>")
@example("-# small\n# big\n> quote\n1. one\n+ two")
@example("\\")
def test_escaped_text_has_nothing_live(text: str) -> None:
    assert live_problems(escape_markdown(text)) == []


@settings(max_examples=500)
@given(nasty_text)
def test_escaped_text_round_trips_visually(text: str) -> None:
    out = escape_markdown(text)
    expected = STRIPPED.sub("", text.replace("\r\n", "\n")).replace("\r", "\n").replace("\t", " ")
    expected = expected.replace("\u2028", "\n").replace("\u2029", "\n")
    assert visual(unescape_markdown(out)) == visual(expected)
    assert not STRIPPED.search(out)


@given(nasty_text)
def test_escaping_is_stable_under_unescape(text: str) -> None:
    # Filters shorten escaped text by unescaping, cutting, and escaping again.
    out = escape_markdown(text)
    assert escape_markdown(unescape_markdown(out)) == out


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("plain words", "plain words"),
        (
            "**[click](https://evil)** @everyone <@&123>",
            "\\*\\*\\[click\\]\\(https\\://evil\\)\\*\\* @\u200beveryone \\<@&123\\>",
        ),
        ("@here and @Everyone", "@\u200bhere and @\u200bEveryone"),
        (
            "<@123> <#456> <t:1700000000:R> <:smile:789> <a:x:1>",
            "\\<@123\\> \\<#456\\> \\<t\\:1700000000:R\\> \\<\\:smile:789\\> \\<a\\:x:1\\>",
        ),
        ("</news:123>", "\\</news:123\\>"),
        ("# Heading", "\\# Heading"),
        ("-# subtext", "\\-# subtext"),
        ("> quote\n>>> block", "\\> quote\n\\>\\>\\> block"),
        ("- item\n* item\n+ item", "\\- item\n\\* item\n\\+ item"),
        ("2024. A year", "2024\\. A year"),
        ("  # indented", "  \\# indented"),
        ("mid-line # and - stay", "mid-line # and - stay"),
        (
            "||spoiler|| ~~strike~~ __under__ `code`",
            "\\|\\|spoiler\\|\\| \\~\\~strike\\~\\~ \\_\\_under\\_\\_ \\`code\\`",
        ),
        ("a\\b", "a\\\\b"),
        (":smile: and 12:30:00", "\\:smile: and 12\\:30:00"),
        ("ratio 3:2 stays", "ratio 3:2 stays"),
        ("see https://example.com/x", "see https\\://example.com/x"),
        ("bidi\u202eevil\u2066x\u2069", "bidievilx"),
        ("nul\x00bell\x07", "nulbell"),
        ("tab\there\r\nline", "tab here\nline"),
        ("emoji 😀 and ZWJ 👩\u200d💻", "emoji 😀 and ZWJ 👩\u200d💻"),
    ],
)
def test_escape_cases(text: str, escaped: str) -> None:
    assert escape_markdown(text) == escaped


def test_clean_text_strips_only_invisible_controls() -> None:
    assert clean_text("a\u200fb\u202ac\r\nd\te") == "abc\nd e"
    assert clean_text("unchanged ✓") == "unchanged ✓"


def test_neutralize_keeps_text_but_defuses_mentions_and_links() -> None:
    text = "<@123> @everyone <#4> <t:5> <:e:6> x < y [click](https://evil.example)"
    out = neutralize(text)
    for live in ("<@", "<#", "<t:", "<:", "@everyone", "](", "://"):
        assert live not in out
    assert visual(out) == text


@given(nasty_text)
def test_neutralized_text_cannot_mention_or_link(text: str) -> None:
    out = neutralize(text)
    assert not re.search(r"<[@#:/]|<[at]:|@(everyone|here)|\]\(|://", out, re.IGNORECASE)
    assert visual(out) == visual(clean_text(text))


# -- masked links ----------------------------------------------------------------------------

LINK = re.compile(r"\[([^\[\]]*)\]\(<(https?://[^\s<>()]+)>\)")


@settings(max_examples=300)
@given(nasty_text, st.one_of(urls(), st.sampled_from(["javascript:alert(1)", "", "https://x.y/)"])))
def test_masked_link_label_shows_literally(label: str, url: str) -> None:
    out = masked_link(label, url)
    link = safe_url(url)
    collapsed = " ".join(clean_text(label).split())
    if link is None:
        assert out == escape_markdown(collapsed)
        return
    match = LINK.fullmatch(out)
    if match:  # the label is used as it is: nothing in it that Markdown would act on
        assert match.group(2) == link
        label_out = match.group(1)
        assert not set(label_out) & (SPECIAL - set("()"))  # parentheses cannot end a label
        assert "://" not in label_out
        assert not re.search(r":[\w+-]+:", label_out)
        assert not re.search(r"@(everyone|here)", label_out, re.IGNORECASE)
        assert label_out == (collapsed or "link")
    else:  # escaped label, then a small link of its own
        text, _, tail = out.rpartition(" ")
        assert tail == f"[{LINK_ARROW}](<{link}>)"
        assert text == escape_markdown(collapsed)
        assert live_problems(text) == []


@pytest.mark.parametrize(
    ("label", "url", "out"),
    [
        (
            "Chrome (CVE-1) fix",
            "https://x.example/a(b)",
            "[Chrome (CVE-1) fix](<https://x.example/a%28b%29>)",
        ),
        (
            "Notepad learned **bold**",
            "https://x.example/",
            "Notepad learned \\*\\*bold\\*\\* [↗](<https://x.example/>)",
        ),
        (
            "[click](https://evil)",
            "https://x.example/",
            "\\[click\\]\\(https\\://evil\\) [↗](<https://x.example/>)",
        ),
        ("CNET", "javascript:alert(1)", "CNET"),
        ("", "https://x.example/", "[link](<https://x.example/>)"),
    ],
)
def test_masked_link_cases(label: str, url: str, out: str) -> None:
    assert masked_link(label, url) == out


# -- safe_url ----------------------------------------------------------------------------------

BREAKOUT = set(' <>()[]"`{}|\\^')


@settings(max_examples=500)
@given(
    st.one_of(
        urls(),
        st.text(),
        st.text(alphabet="hts:/<>()[] .%@\\#?ab\u200b\x00é", max_size=40).map(
            lambda t: "https://" + t
        ),
    )
)
def test_safe_url_output_cannot_break_out(url: str) -> None:
    out = safe_url(url)
    if out is None:
        return
    assert out.startswith(("http://", "https://"))
    assert out.isascii() and out.isprintable()
    assert not set(out) & BREAKOUT
    assert safe_url(out) == out  # idempotent: filters may apply it twice


@given(urls())
def test_safe_url_accepts_ordinary_urls(url: str) -> None:
    if "@" in url.split("/")[2]:  # user info is refused on purpose
        return
    assert safe_url(url) is not None


@pytest.mark.parametrize(
    ("url", "out"),
    [
        ("https://example.com/a", "https://example.com/a"),
        ("HTTPS://EXAMPLE.com/Path", "https://example.com/Path"),
        ("http://example.com:8080/x?q=1#frag", "http://example.com:8080/x?q=1#frag"),
        ("https://example.com/a(b)<c>[d]", "https://example.com/a%28b%29%3Cc%3E%5Bd%5D"),
        ("https://bücher.de/straße", "https://xn--bcher-kva.de/stra%C3%9Fe"),
        ("https://example.com/a|b`c", "https://example.com/a%7Cb%60c"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
        ("javascript:alert(1)", None),
        ("data:text/html,hi", None),
        ("ftp://example.com/", None),
        ("//example.com/x", None),
        ("https:///nohost", None),
        ("https://good.example@evil.example/", None),
        ("https://user:pw@example.com/", None),
        ("https://example.com:99999/", None),
        ("https://exa mple.com/", None),
        ("https://example.com/\u200bx", None),
        ("https://example.com/\u202ex", None),
        ("https://example.com/\x00", None),
        ("https://example.com\\@evil.example/", None),
        ("https://" + "a" * 2050 + ".com/", None),
        ("", None),
    ],
)
def test_safe_url_cases(url: str, out: str | None) -> None:
    assert safe_url(url) == out


def test_safe_url_rejects_non_strings() -> None:
    assert safe_url(None) is None
    assert safe_url(123) is None
