"""HTML from feeds to plain text, through the standard library's HTML parser.

Feed summaries and contents are HTML fragments of every quality (unclosed tags, entities,
scripts, CDATA already unwrapped by the XML parser). ``html.parser`` is a real tokenizer that
copes with all of it; this wrapper only decides what becomes text: character references are
decoded, tags dropped, ``script``/``style`` contents skipped, block elements become line
breaks, and the first ``<img src>`` is remembered for the thumbnail. No regular expression
touches the markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Final

# Elements whose text is never shown to a reader.
_SKIP: Final = frozenset(("script", "style", "template", "noscript", "head", "title", "svg"))
# Elements that start a new line of text when they open or close.
_BLOCK: Final = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.image: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag == "br":
            self.parts.append("\n")  # a line break inside a paragraph: joined by a space
        elif tag in _BLOCK:
            self.parts.append("\n\n")
        elif tag == "img" and self.image is None:
            src = dict(attrs).get("src")
            if src:
                self.image = src.strip()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and <img/>: no end tag follows, so a skipped element must not be entered.
        if tag in _SKIP:
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


@dataclass(frozen=True, slots=True)
class HtmlText:
    text: str
    """Paragraphs separated by one blank line, spaces inside each collapsed."""
    image: str | None
    """The ``src`` of the first image, as written (may be relative)."""


def html_to_text(markup: str) -> HtmlText:
    """The readable text of an HTML fragment, and its first image."""
    if "<" not in markup and "&" not in markup:  # plain text: nothing to parse
        return HtmlText(_paragraphs(markup), None)
    parser = _TextParser()
    parser.feed(markup)
    parser.close()
    return HtmlText(_paragraphs("".join(parser.parts)), parser.image)


def _paragraphs(text: str) -> str:
    """Blank lines separate paragraphs; other line breaks and runs of spaces are one space."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        words = " ".join(line.split())
        if words:
            current.append(words)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


def inline_text(markup: str) -> str:
    """HTML (or plain text with entities) as one line: for titles."""
    return " ".join(html_to_text(markup).text.split())


def shorten(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:") + "…"
