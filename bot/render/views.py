"""What templates see of a digest: read-only views whose text is escaped and whose links are safe.

Templates never get an :class:`~bot.articles.Article`, so a template cannot forget to escape:

- ``digest``: ``title``, ``channel``, ``timezone``, ``template``, ``related_limit``,
  ``excerpt_length``;
- ``item`` (one per article): ``number`` (1-based), ``index`` (0-based), ``title``, ``url``,
  ``excerpt`` (its opening sentences within the digest's ``excerpt_length``), ``outlet``
  (provider name, else its domain), ``domain``, ``date`` (``10 Jun 2020`` in the channel's
  time zone), ``published`` (datetime), ``timestamp`` (Unix seconds,
  for ``<t:...>``), ``category``, ``type``, ``topics``, ``quality``, ``heat``, ``thumbnail``
  (first safe image URL) and ``related``: other outlets' coverage, deduplicated by canonical
  URL, without the article's own URL, at most ``related_limit``; each with ``title``, ``url``,
  ``outlet``, ``domain``, ``excerpt``, ``date``, ``published``, ``quality``; ``retracted``
  (True when a moderator retracted it, in a published message being edited) and
  ``retraction_reason`` (why, escaped; empty when not retracted).

A :class:`~bot.render.pack.Cut` makes a shorter view of the same article, for an item that does
not fit one message: the raw text is cut before it is escaped, so no escape is ever cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Final
from urllib.parse import urlsplit

from bot.articles import Article, Provider, Related, canonical_url
from bot.articles.urls import safe_url
from bot.config import DigestChannel
from bot.render.escape import collapse
from bot.render.filters import Md, SafeUrl, md
from bot.render.pack import Cut, lead, shorten_text

MAX_OUTLET: Final = 100
MAX_RELATED_TITLE: Final = 200
NO_REASON: Final = Md("")


def _host(link: str) -> str:
    try:
        host = urlsplit(link).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def _outlet(provider: Provider | None, link: str) -> Md:
    name = (provider.name or provider.domain) if provider else ""
    return md(shorten_text(collapse(name or _host(link)), MAX_OUTLET))


def _domain(provider: Provider | None, link: str) -> Md:
    return md(collapse((provider.domain if provider else "") or _host(link)))


def _day(local: datetime | None) -> Md:
    return Md("") if local is None else Md(f"{local.day} {local:%b %Y}")


def _safe(link: str | None) -> SafeUrl | None:
    checked = safe_url(link)
    return SafeUrl(checked) if checked else None


@dataclass(frozen=True, slots=True)
class RelatedView:
    """Another outlet's coverage of the item."""

    title: Md
    url: SafeUrl | None
    outlet: Md
    domain: Md
    excerpt: Md
    published: datetime | None
    date: Md
    quality: int | None

    @classmethod
    def of(cls, entry: Related, tz: tzinfo) -> RelatedView:
        local = entry.published_at.astimezone(tz) if entry.published_at else None
        return cls(
            title=md(shorten_text(collapse(entry.title), MAX_RELATED_TITLE)),
            url=_safe(entry.url),
            outlet=_outlet(entry.provider, entry.url),
            domain=_domain(entry.provider, entry.url),
            excerpt=md(collapse(entry.excerpt)),
            published=local,
            date=_day(local),
            quality=entry.quality,
        )


@dataclass(frozen=True, slots=True)
class ItemView:
    """One article of the digest."""

    index: int
    number: int
    title: Md
    url: SafeUrl | None
    excerpt: Md
    outlet: Md
    domain: Md
    published: datetime | None
    date: Md
    timestamp: int | None
    category: Md
    type: Md
    topics: tuple[Md, ...]
    quality: int | None
    heat: int | None
    thumbnail: SafeUrl | None
    related: tuple[RelatedView, ...]
    retracted: bool = False
    retraction_reason: Md = NO_REASON


def related_entries(article: Article, limit: int) -> list[Related]:
    """The article's related coverage as shown: linkable, one per canonical URL, not the
    article itself, at most ``limit``."""
    seen = {article.url}
    shown: list[Related] = []
    for entry in article.related:
        if len(shown) >= limit:
            break
        if safe_url(entry.url) is None:
            continue
        key = canonical_url(entry.url)
        if key not in seen:
            seen.add(key)
            shown.append(entry)
    return shown


def shown_excerpt(article: Article, excerpt_length: int | None) -> str:
    """The article's excerpt as a digest shows it: its opening sentences within
    ``excerpt_length`` characters (None: all of it), before any cut to fit a message."""
    excerpt = collapse(article.excerpt)
    return excerpt if excerpt_length is None else lead(excerpt, excerpt_length)


def item_view(
    article: Article,
    index: int,
    tz: tzinfo,
    related_limit: int,
    cut: Cut,
    *,
    excerpt_length: int | None = None,
    retraction: str | None = None,
) -> ItemView:
    """The view of the ``index``-th article of a digest, its excerpt at most
    ``excerpt_length`` characters of whole sentences, shortened further as ``cut`` says;
    ``retraction`` is the reason it was retracted, if it was."""
    title, excerpt = collapse(article.title), shown_excerpt(article, excerpt_length)
    related = related_entries(article, max(related_limit, 0))
    if cut.related is not None:
        related = related[: cut.related]
    when = article.published_at
    local = when.astimezone(tz) if when else None
    links = cut.links
    return ItemView(
        index=index,
        number=index + 1,
        title=md(title if cut.title is None else shorten_text(title, cut.title)),
        url=_safe(article.web_url) if links else None,
        excerpt=md(excerpt if cut.excerpt is None else shorten_text(excerpt, cut.excerpt)),
        outlet=_outlet(article.provider, article.web_url),
        domain=_domain(article.provider, article.web_url),
        published=local,
        date=_day(local),
        timestamp=int(when.timestamp()) if when else None,
        category=md(collapse(article.category)),
        type=md(collapse(article.type)),
        topics=tuple(md(collapse(topic)) for topic in article.topics),
        quality=article.quality,
        heat=article.heat,
        thumbnail=next(filter(None, (_safe(i.url) for i in article.images)), None)
        if links
        else None,
        related=tuple(RelatedView.of(entry, tz) for entry in related) if links else (),
        retracted=retraction is not None,
        retraction_reason=md(collapse(retraction or "")),
    )


def full_lengths(
    article: Article, related_limit: int, excerpt_length: int | None = None
) -> tuple[int, int, int]:
    """How long the excerpt and title are and how many related links show, uncut: where
    :func:`~bot.render.pack.fit_item` starts shortening."""
    return (
        len(shown_excerpt(article, excerpt_length)),
        len(related_entries(article, max(related_limit, 0))),
        len(collapse(article.title)),
    )


@dataclass(frozen=True, slots=True)
class DigestView:
    """The digest channel's settings."""

    title: Md
    channel: int | None
    timezone: str
    template: str
    related_limit: int
    excerpt_length: int

    @classmethod
    def of(cls, digest: DigestChannel) -> DigestView:
        return cls(
            title=md(collapse(digest.title)),
            channel=digest.channel,
            timezone=digest.timezone,
            template=digest.template,
            related_limit=digest.related_limit,
            excerpt_length=digest.excerpt_length,
        )


def utc_timestamp(article: Article) -> str | None:
    """The article's time as an embed's ``timestamp``."""
    when = article.published_at
    return None if when is None else when.astimezone(UTC).isoformat()
