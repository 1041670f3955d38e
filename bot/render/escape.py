"""Discord-Markdown escaping and the http(s)-only URL filter (DESIGN §5: text from articles is
escaped, only http(s) URLs are ever linked).

:func:`escape_markdown` turns any text into Discord Markdown that shows exactly that text and
cannot format, link, ping or embed anything:

- these characters get a backslash everywhere: ``\\ * _ ~ ` | [ ] ( ) < >`` (emphasis, code,
  spoilers, masked links, quotes, and every ``<...>`` form: ``<@id>``, ``<@&id>``, ``<#id>``,
  ``<t:...>``, ``<:emoji:id>``, ``</command:id>``, ``<https://...>``);
- at the start of a line: ``#`` (headings), ``-`` (lists and ``-#`` subtext), ``+`` and
  ``1.`` (lists);
- ``:`` before ``//`` (so ``https://...`` in text is not turned into a link) and the first
  ``:`` of ``:name:`` (so ``:smile:`` is not turned into an emoji);
- ``@everyone`` and ``@here`` get a zero-width space after the ``@`` (Discord parses those
  without angle brackets; the substring never appears in the output);
- control characters, bidi overrides/isolates/marks and the byte-order mark are removed; tabs
  become spaces, ``\\r\\n``, ``\\r`` and the Unicode line/paragraph separators become ``\\n``.

A backslash before a punctuation character is Discord's escape (``\\*`` shows ``*``), so the
output renders as the cleaned input: :func:`unescape_markdown` (what Discord shows) of the output
is the cleaned input plus the invisible zero-width spaces. The tests check exactly that
property, and that no unescaped special character or mention survives, with hypothesis.

:func:`safe_url` passes only absolute http(s) URLs with a host and returns them in a form that
cannot break out of ``<...>``, ``(...)`` or ``[...](...)``.

:func:`masked_link` builds ``[label](<url>)``. Discord turns escaping off inside a masked link's
label (the backslashes would show, discord-api-docs#6185), so a label is used as it is only when
it holds nothing Markdown could act on; otherwise the escaped label is followed by a small
``[↗](<url>)`` link. Either way the label shows literally and the link is the safe URL.
"""

from __future__ import annotations

import re
from typing import Final

from bot.articles.urls import safe_url

ZWSP: Final = "\u200b"

_REMOVED: Final = (
    [cp for cp in range(0x20) if cp not in (0x09, 0x0A, 0x0D)]
    + [0x7F, *range(0x80, 0xA0)]
    + [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF]
)
_CLEAN: Final[dict[int, str | None]] = {cp: None for cp in _REMOVED} | {
    0x09: " ",
    0x0D: "\n",
    0x2028: "\n",
    0x2029: "\n",
}
_NEEDS_CLEAN: Final = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff]"
)
_SPECIAL: Final = re.compile(r"[\\*_~`|\[\]()<>]")

_MASS_MENTION: Final = re.compile(r"@(?=everyone|here)", re.IGNORECASE)
_LINE_START: Final = re.compile(r"^([^\S\n]*)(?:([#+-])|(\d+)\.)", re.MULTILINE)
_UNESCAPE: Final = re.compile(r"\\([^0-9A-Za-z\s])")
_ANGLE_FORM: Final = re.compile(r"<(?=[@#:/]|[at]:)")
_COLON: Final = re.compile(r":(?=//|[\w+-]+:)")  # an autolink's scheme or an emoji's name
_LABEL_UNSAFE: Final = re.compile(
    r"[\\*_~`|\[\]<>]|:(?=//|[\w+-]+:)|@(?:everyone|here)", re.IGNORECASE
)
LINK_ARROW: Final = "↗"


def clean_text(text: str) -> str:
    """``text`` without control and bidi characters, with tabs and newlines normalised."""
    if _NEEDS_CLEAN.search(text) is None:
        return text
    return text.replace("\r\n", "\n").translate(_CLEAN)


def _line_start(match: re.Match[str]) -> str:
    lead, mark, number = match.groups()
    if mark is not None:
        return f"{lead}\\{mark}"
    return f"{lead}{number}\\."


def escape_markdown(text: str) -> str:
    """``text`` as Discord Markdown that displays literally (see the module docstring)."""
    out = _SPECIAL.sub(r"\\\g<0>", clean_text(text))
    if "@" in out:
        out = _MASS_MENTION.sub("@" + ZWSP, out)
    if ":" in out:
        out = _COLON.sub(r"\\:", out)
    return _LINE_START.sub(_line_start, out)


def unescape_markdown(text: str) -> str:
    """What Discord shows for escaped text: a backslash before punctuation is dropped.

    The exact inverse of :func:`escape_markdown` on cleaned text (zero-width spaces aside).
    """
    if "\\" not in text:
        return text
    return _UNESCAPE.sub(r"\1", text)


def neutralize(text: str) -> str:
    """Clean text for places that render no Markdown (an embed's title, author or footer), made
    unable to mention or link even if it lands in Markdown after all: a zero-width space
    follows the ``@`` of ``@everyone``/``@here``, the ``<`` of every ``<@...>``-like form, the
    ``]`` of ``](`` (a masked link) and the ``:`` of ``://`` (an autolink)."""
    out = clean_text(text)
    if "@" in out:
        out = _MASS_MENTION.sub("@" + ZWSP, out)
    if "<" in out:
        out = _ANGLE_FORM.sub("<" + ZWSP, out)
    if "](" in out:
        out = out.replace("](", "]" + ZWSP + "(")
    if "://" in out:
        out = out.replace("://", ":" + ZWSP + "//")
    return out


def masked_link(label: str, url: object) -> str:
    """A masked link ``[label](<url>)`` that shows ``label`` literally; just the escaped label
    when ``url`` is not a safe http(s) URL (see the module docstring)."""
    text = collapse(label)
    link = safe_url(url)
    if link is None:
        return escape_markdown(text)
    if not text:
        return f"[link](<{link}>)"
    if _LABEL_UNSAFE.search(text):
        return f"{escape_markdown(text)} [{LINK_ARROW}](<{link}>)"
    return f"[{text}](<{link}>)"


def collapse(text: str) -> str:
    """``text`` cleaned (see clean_text) on one line, runs of whitespace made one space."""
    return " ".join(clean_text(text).split())
