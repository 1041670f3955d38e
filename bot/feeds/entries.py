"""Feed entries to articles, under every rule of DESIGN §3.

An entry becomes the fields of a front-matter document (title, webUrl, excerpt,
publishedDateTime, provider, topics, images, quality, published, plus the feed and guid as
extra fields) read by the same code as a file's fields (``article_from_mapping``). So a feed's
article obeys exactly the limits and URL rules a file's does, is exported by ``newsbot export``
like any other (its front matter is written as JSON, which is YAML too: PyYAML's representer
cost more than the rest of turning an entry into an article), and is recognised as unchanged
by its source hash when a feed repeats it. A bad entry is reported as ``FEED_URL: entry N:
problem`` and the others are kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

from bot.articles import Article
from bot.articles.frontmatter import article_from_mapping
from bot.articles.urls import safe_url
from bot.config import FeedSettings
from bot.errors import ArticleError, one_line
from bot.feeds.html import html_to_text, inline_text, shorten
from bot.feeds.parse import FeedEntry, ParsedFeed

EXCERPT_CHARS = 1_000
"""An excerpt made from a whole article's content is cut here (at a word)."""


@dataclass(frozen=True, slots=True)
class EntryArticle:
    article: Article
    guid: str
    number: int


def provider_of(feed: FeedSettings, parsed: ParsedFeed, link: str) -> dict[str, str]:
    """The outlet: the config's name, else the feed's title; its domain from the link."""
    host = (urlsplit(link).hostname or "").removeprefix("www.")
    name = feed.provider or inline_text(parsed.title) or host
    return {"name": name, "domain": host}


def _absolute(base: str, url: str) -> str:
    """``url`` resolved against ``base``; most feed URLs are absolute already."""
    if url.startswith(("https://", "http://")):
        return url
    return urljoin(base, url)


def _image(entry: FeedEntry, content_image: str | None, base: str) -> list[dict[str, str]]:
    for candidate in (*entry.images, content_image):
        if candidate:
            url = safe_url(_absolute(base, candidate.strip()))
            if url is not None:
                return [{"url": url}]
    return []


def _topics(feed: FeedSettings, entry: FeedEntry) -> list[str]:
    topics: list[str] = []
    for topic in (*feed.topics, *entry.categories):
        text = " ".join(topic.split())[:100]
        if text and text not in topics:
            topics.append(text)
    return topics[:50]


# Characters YAML does not allow raw in a document (C0 and C1 controls but tab, newline and
# NEL; the non-characters FFFE and FFFF) are escaped by JSON or dropped here, so the front
# matter always reads back (export, then ingest).
_UNREADABLE: Final = dict.fromkeys([*range(0x7F, 0x85), *range(0x86, 0xA0), 0xFFFE, 0xFFFF])


def _readable(value: Any) -> Any:
    """``value`` with every string cleaned of what YAML cannot read back."""
    if isinstance(value, str):
        # A lone surrogate (JSON Feed may carry one) cannot be encoded; '?' stands in for it.
        return value.translate(_UNREADABLE).encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {k: _readable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_readable(v) for v in value]
    return value


def _front_matter(data: dict[str, Any]) -> str:
    # One line: json's C encoder does not indent. Controls are escaped by JSON.
    return f"---\n{json.dumps(data, ensure_ascii=False)}\n---\n"


def entry_article(
    feed: FeedSettings,
    parsed: ParsedFeed,
    entry: FeedEntry,
    base: str,
    *,
    published: bool,
) -> EntryArticle:
    """One entry as an article; ArticleError (located at the entry) if it cannot be one.

    ``base`` resolves relative links (the address the feed was fetched from); ``published``
    stores the entry as already out (the first fetch of a new feed)."""
    where = f"{feed.url}: entry {entry.number}"
    raw_link = entry.link.strip()
    if not raw_link:
        raise ArticleError(where, 0, "no link (an article needs its web address)")
    link = _absolute(base, raw_link)
    title = inline_text(entry.title)
    body = html_to_text(entry.summary or entry.content)
    if not title:
        title = shorten(body.text.split("\n\n", 1)[0], 200) if body.text else ""
    if not title:
        raise ArticleError(where, 0, "no title")
    image = body.image
    if image is None and entry.content and entry.content != entry.summary:
        image = html_to_text(entry.content).image
    data: dict[str, Any] = {"title": title, "webUrl": link}
    if body.text:
        data["excerpt"] = shorten(body.text, EXCERPT_CHARS)
    if entry.published_at is not None:
        data["publishedDateTime"] = entry.published_at.isoformat()
    data["provider"] = provider_of(feed, parsed, link)
    topics = _topics(feed, entry)
    if topics:
        data["topics"] = topics
    images = _image(entry, image, base)
    if images:
        data["images"] = images
    if feed.quality is not None:
        data["quality"] = feed.quality
    data["published"] = published
    data["feed"] = feed.url
    guid = entry.guid.strip()
    if guid:
        data["guid"] = guid
    data = _readable(data)
    try:
        article = article_from_mapping(where, data, _front_matter(data))
    except ArticleError as exc:
        raise ArticleError(where, 0, exc.problem) from None
    return EntryArticle(replace(article, origin=feed.url), guid or article.url, entry.number)


def entry_problem(error: ArticleError) -> str:
    """``FEED_URL: entry N: problem`` (the line number of an entry's document means nothing
    to the operator)."""
    return f"{one_line(error.path)}: {one_line(error.problem)}"


def _queued(entries: tuple[FeedEntry, ...], backfill: int) -> set[int]:
    """The numbers of the ``backfill`` newest entries that can be articles (a link, a guid not
    seen before in the document): dated ones newest first, then undated ones in feed order
    (feeds list their newest first)."""
    usable: list[FeedEntry] = []
    seen: set[str] = set()
    for entry in entries:
        key = entry.guid.strip() or entry.link.strip()
        if entry.link.strip() and key not in seen:
            seen.add(key)
            usable.append(entry)
    dated = sorted((e for e in usable if e.published_at), key=_when, reverse=True)
    ordered = dated + [e for e in usable if e.published_at is None]
    return {e.number for e in ordered[:backfill]}


def _when(entry: FeedEntry) -> datetime:
    assert entry.published_at is not None
    return entry.published_at


def articles_of(
    feed: FeedSettings,
    parsed: ParsedFeed,
    base: str,
    *,
    first_fetch: bool,
) -> tuple[list[EntryArticle], list[str]]:
    """Every usable entry as an article, and one problem line per unusable one. A guid seen
    twice in one document keeps its first entry. On a feed's first fetch, all but the newest
    ``backfill`` usable entries are stored as already published."""
    queued = _queued(parsed.entries, feed.backfill) if first_fetch else None
    found: list[EntryArticle] = []
    problems: list[str] = []
    guids: set[str] = set()
    for entry in parsed.entries:
        published = queued is not None and entry.number not in queued
        try:
            item = entry_article(feed, parsed, entry, base, published=published)
        except ArticleError as exc:
            problems.append(entry_problem(exc))
            continue
        if item.guid in guids:
            problems.append(
                f"{feed.url}: entry {entry.number}: duplicate guid {item.guid!r}; skipped"
            )
            continue
        guids.add(item.guid)
        found.append(item)
    return found, problems


def with_known_identity(items: list[EntryArticle], known: dict[str, str]) -> list[Article]:
    """The articles, each under the URL its guid was first stored under: a feed that changed
    an entry's link (a new slug, tracking added) updates the item instead of adding one."""
    out: list[Article] = []
    for item in items:
        first = known.get(item.guid)
        article = item.article
        if first is not None and first != article.url:
            article = replace(article, url=first)
        out.append(article)
    return out
