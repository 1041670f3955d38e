"""What a message payload built from hostile article text must never contain (DESIGN §5).

:func:`payload_problems` lists every way a Discord message-create payload could ping, link
somewhere else than the article's own http(s) URLs, or let article text format the message.
It reads Discord Markdown the way Discord does: a backslash before punctuation escapes it, so
only *active* (unescaped) characters count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from bot.articles import Article
from bot.articles.urls import safe_url

_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
_ANGLE_LINK = re.compile(r"<(https?://[^\s<>]+)>")
_MASKED_TARGET = re.compile(r"\(<(https?://[^\s<>]+)>\)")
_BIDI_AND_CONTROLS = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
# Line starts that article text must not produce (the built-in templates start lines only
# with "## ", "-# ", "**" or plain text).
_INJECTED_LINE = re.compile(r"^[ \t]*(?:>|# |#{2,3} heading|- list|\d+\. numbered)", re.MULTILINE)
# Markdown the built-in templates never use: when active, it came from an article.
_FOREIGN_MARKUP = frozenset("`|~_")
# In text Discord shows without Markdown (embed title, author, footer) these would still look
# like, or become, mentions and links once copied into a message.
_PLAIN_FORMS = re.compile(r"<[@#/:]|<a:|<t:|\]\(|://")


def allowed_urls(article: Article) -> set[str]:
    """The links a digest of ``article`` may contain: its own, its related coverage's and its
    images', each as :func:`safe_url` gives it."""
    urls = [article.web_url, *(r.url for r in article.related), *(i.url for i in article.images)]
    return {u for u in (safe_url(url) for url in urls) if u is not None}


def _active(text: str) -> str:
    """``text`` with every escaped character (and its backslash) blanked out."""
    out = list(text)
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            following = text[i + 1]
            if not following.isalnum() and not following.isspace():
                out[i] = out[i + 1] = " "
                i += 2
                continue
        i += 1
    return "".join(out)


def markdown_problems(where: str, text: str, urls: set[str]) -> list[str]:
    """Problems in text Discord renders as Markdown (content, description, field values)."""
    problems: list[str] = []
    if _BIDI_AND_CONTROLS.search(text):
        problems.append(f"{where}: control or bidi character in {text!r}")
    active = _active(text)
    # Links the templates make: <url> and [label](<url>); each must be one of the article's.
    # Inside them (an "@" in a URL path) nothing is Markdown or a mention.
    links = list(_ANGLE_LINK.finditer(active))
    for match in links:
        if match.group(1) not in urls:
            problems.append(f"{where}: links to {match.group(1)!r}, not one of the article's")
    masked, unlinked = active, text
    for match in links:
        start, end = match.span()
        masked = masked[:start] + " " * (end - start) + masked[end:]
        unlinked = unlinked[:start] + " " * (end - start) + unlinked[end:]
    if _MASS_MENTION.search(unlinked):
        problems.append(f"{where}: mass mention in {text!r}")
    for index, char in enumerate(masked):
        if char == "<":
            problems.append(f"{where}: active '<' at {index} in {text[index : index + 40]!r}")
    for match in re.finditer(r"\]\(", active):
        target = _MASKED_TARGET.match(active, match.end() - 1)
        if target is None or target.group(1) not in urls:
            snippet = text[match.start() : match.start() + 60]
            problems.append(f"{where}: masked link to something else in {snippet!r}")
    if "://" in masked:
        index = masked.index("://")
        problems.append(f"{where}: autolink in {text[max(0, index - 20) : index + 30]!r}")
    foreign = sorted(_FOREIGN_MARKUP & set(masked))
    if foreign:
        problems.append(f"{where}: active Markdown {foreign} in {text!r}")
    for match in _INJECTED_LINE.finditer(active):
        problems.append(f"{where}: a line starting {match.group(0)!r}")
    return problems


def plain_problems(where: str, text: str) -> list[str]:
    """Problems in text Discord shows literally (embed title, author name, footer)."""
    problems: list[str] = []
    if _MASS_MENTION.search(text):
        problems.append(f"{where}: mass mention in {text!r}")
    if _BIDI_AND_CONTROLS.search(text):
        problems.append(f"{where}: control or bidi character in {text!r}")
    if _PLAIN_FORMS.search(text):
        problems.append(f"{where}: mention or link form in {text!r}")
    return problems


def _url_problems(where: str, url: object, urls: set[str]) -> list[str]:
    if not isinstance(url, str) or url not in urls:
        return [f"{where}: {url!r} is not one of the article's http(s) URLs"]
    return []


def payload_problems(payload: Mapping[str, Any], urls: Iterable[str]) -> list[str]:
    """Everything wrong with one message-create ``payload`` built from articles whose own
    links are ``urls``."""
    allowed = set(urls)
    problems: list[str] = []
    if payload.get("allowed_mentions") != {"parse": []}:
        problems.append(f"allowed_mentions is {payload.get('allowed_mentions')!r}")
    problems += markdown_problems("content", str(payload.get("content") or ""), allowed)
    for number, embed in enumerate(payload.get("embeds") or [], 1):
        at = f"embeds[{number}]"
        problems += plain_problems(f"{at}.title", str(embed.get("title", "")))
        problems += plain_problems(f"{at}.author", str(embed.get("author", {}).get("name", "")))
        problems += plain_problems(f"{at}.footer", str(embed.get("footer", {}).get("text", "")))
        description = str(embed.get("description", ""))
        problems += markdown_problems(f"{at}.description", description, allowed)
        for field in embed.get("fields", []):
            problems += markdown_problems(f"{at}.field.name", str(field.get("name", "")), allowed)
            problems += markdown_problems(f"{at}.field", str(field.get("value", "")), allowed)
        if "url" in embed:
            problems += _url_problems(f"{at}.url", embed["url"], allowed)
        if "thumbnail" in embed:
            problems += _url_problems(f"{at}.thumbnail", embed["thumbnail"].get("url"), allowed)
        if "image" in embed:
            problems += _url_problems(f"{at}.image", embed["image"].get("url"), allowed)
    return problems
