"""The article as newsbot knows it (DESIGN §3): frozen values, free of YAML and of storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    domain: str = ""


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    width: int | None = None
    height: int | None = None
    title: str = ""


@dataclass(frozen=True, slots=True)
class Related:
    """Another outlet's coverage of the same story."""

    title: str
    url: str
    excerpt: str = ""
    provider: Provider | None = None
    published_at: datetime | None = None
    quality: int | None = None
    image: str | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """One news article as read from its file.

    ``url`` is the canonical identity; ``web_url`` is the link as written. ``source`` is the
    front-matter YAML exactly as read and ``body`` the Markdown after it, kept for export.
    ``origin`` is where it came from: the file path, or the feed URL.
    """

    url: str
    web_url: str
    title: str
    excerpt: str = ""
    published_at: datetime | None = None
    category: str = ""
    type: str = ""
    provider: Provider | None = None
    topics: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    quality: int | None = None
    heat: int | None = None
    published: bool = False
    related: tuple[Related, ...] = ()
    source: str = ""
    body: str = ""
    source_hash: str = ""
    origin: str = ""
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def thumbnail(self) -> str | None:
        return self.images[0].url if self.images else None
