"""A feed's bytes to entries: RSS 0.9x/1.0/2.0 and Atom through feedparser, JSON Feed 1.1
through a small reader of our own (feedparser does not read JSON Feed).

Both produce the same :class:`FeedEntry`, still raw (HTML in the summary, links as written);
``bot.feeds.entries`` turns entries into articles. Parsing never raises for one bad entry:
only a document that is not a feed at all is a :class:`NotAFeed`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from bot.articles.frontmatter import parse_datetime


class NotAFeed(Exception):
    """The document is not RSS, Atom or JSON Feed; the message says what it looked like."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    guid: str
    link: str
    title: str
    """As in the feed: may hold HTML or entities."""
    summary: str = ""
    """HTML or text: the summary, else the content."""
    content: str = ""
    published_at: datetime | None = None
    categories: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    """Thumbnail candidates in order of preference (media:thumbnail, media:content, an image
    enclosure); the first image of the content is tried after these."""
    number: int = 0
    """Its position in the document, from 1: how a problem with it is reported."""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str
    link: str
    entries: tuple[FeedEntry, ...]
    warnings: tuple[str, ...] = field(default=())
    """About the document (read leniently); logged."""
    problems: tuple[str, ...] = field(default=())
    """``entry N: problem`` for entries that could not be read at all; reported."""


JSON_FEED_VERSIONS = ("https://jsonfeed.org/version/1", "https://jsonfeed.org/version/1.1")


def _looks_like_json(body: bytes, content_type: str) -> bool:
    if "json" in content_type.lower():
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def parse_feed(body: bytes, headers: Mapping[str, str]) -> ParsedFeed:
    """Parse a fetched document; ``headers`` are the response's (for its encoding)."""
    content_type = headers.get("content-type", "")
    if _looks_like_json(body, content_type):
        return _parse_json_feed(body)
    return _parse_xml_feed(body, headers)


# --- RSS and Atom -----------------------------------------------------------------------------
def _struct_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _text_of(entry: Any) -> tuple[str, str]:
    summary = str(entry.get("summary") or "")
    content = ""
    for part in entry.get("content") or ():
        value = part.get("value")
        if value:
            content = str(value)
            break
    return summary, content


def _xml_images(entry: Any) -> tuple[str, ...]:
    found: list[str] = []
    for thumb in entry.get("media_thumbnail") or ():
        if thumb.get("url"):
            found.append(str(thumb["url"]))
    for media in entry.get("media_content") or ():
        kind = str(media.get("medium") or media.get("type") or "")
        if media.get("url") and (kind.startswith("image") or not kind):
            found.append(str(media["url"]))
    for link in entry.get("links") or ():
        image = link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/")
        if image and link.get("href"):
            found.append(str(link["href"]))
    return tuple(found)


def _parse_xml_feed(body: bytes, headers: Mapping[str, str]) -> ParsedFeed:
    # feedparser takes the headers for the declared encoding; it never fetches anything when
    # given bytes. Relative links are resolved by ``bot.feeds.entries`` against the address
    # the feed came from (feedparser still applies xml:base), and feedparser's HTML
    # sanitizer and rewriting of URIs inside HTML are off: newsbot never shows feed HTML, only
    # the text ``bot.feeds.html`` takes out of it, and resolves the one image it keeps itself.
    # Together these took half of the parse.
    given = {k.lower(): v for k, v in headers.items()}
    parsed = feedparser.parse(
        body, response_headers=given, sanitize_html=False, resolve_relative_uris=False
    )
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        detail = f" ({type(problem).__name__}: {problem})" if problem else ""
        raise NotAFeed(f"not an RSS, Atom or JSON feed{detail}")
    warnings: list[str] = []
    broken = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(broken, feedparser.CharacterEncodingOverride):
        broken = None  # a wrong charset declaration, read correctly anyway
    entries = []
    for number, entry in enumerate(parsed.entries, 1):
        summary, content = _text_of(entry)
        tags = tuple(
            str(tag.get("label") or tag.get("term") or "").strip()
            for tag in entry.get("tags") or ()
        )
        entries.append(
            FeedEntry(
                guid=str(entry.get("id") or ""),
                link=str(entry.get("link") or ""),
                title=str(entry.get("title") or ""),
                summary=summary or content,
                content=content,
                published_at=_struct_time(entry.get("published_parsed"))
                or _struct_time(entry.get("updated_parsed")),
                categories=tuple(t for t in tags if t),
                images=_xml_images(entry),
                number=number,
            )
        )
    if broken is not None:
        # feedparser reads what it can of broken XML. A document cut short usually leaves
        # half an entry without a link: then it is a failure to fix, not a feed to trust.
        if not any(e.link for e in entries):
            raise NotAFeed(f"malformed XML ({broken})")
        warnings.append(f"malformed XML, read leniently ({broken})")
    feed = parsed.get("feed", {})
    return ParsedFeed(
        title=str(feed.get("title") or ""),
        link=str(feed.get("link") or ""),
        entries=tuple(entries),
        warnings=tuple(warnings),
    )


# --- JSON Feed 1.1 ----------------------------------------------------------------------------
def _string(value: object) -> str:
    return value if isinstance(value, str) else ""


def _json_entry(item: Mapping[str, Any], number: int) -> FeedEntry:
    html = _string(item.get("content_html"))
    text = _string(item.get("content_text"))
    summary = _string(item.get("summary")) or html or text
    images = tuple(
        url for url in (_string(item.get("image")), _string(item.get("banner_image"))) if url
    )
    for attachment in item.get("attachments") or ():
        if isinstance(attachment, dict) and _string(attachment.get("mime_type")).startswith(
            "image/"
        ):
            url = _string(attachment.get("url"))
            if url:
                images += (url,)
    tags = item.get("tags")
    return FeedEntry(
        guid=str(item["id"]) if isinstance(item.get("id"), str | int) else "",
        link=_string(item.get("url")) or _string(item.get("external_url")),
        title=_string(item.get("title")),
        summary=summary,
        content=html or text,
        published_at=parse_datetime(_string(item.get("date_published")) or None)
        or parse_datetime(_string(item.get("date_modified")) or None),
        categories=tuple(t.strip() for t in tags if isinstance(t, str) and t.strip())
        if isinstance(tags, list)
        else (),
        images=images,
        number=number,
    )


def _parse_json_feed(body: bytes) -> ParsedFeed:
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotAFeed(f"not a JSON feed (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("version") not in JSON_FEED_VERSIONS:
        raise NotAFeed("not a JSON feed (no jsonfeed.org version)")
    items = data.get("items")
    if not isinstance(items, list):
        raise NotAFeed("not a JSON feed (items is not a list)")
    problems: list[str] = []
    entries: list[FeedEntry] = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            problems.append(f"entry {number}: not an object; skipped")
            continue
        entries.append(_json_entry(item, number))
    return ParsedFeed(
        title=_string(data.get("title")),
        link=_string(data.get("home_page_url")),
        entries=tuple(entries),
        problems=tuple(problems),
    )
