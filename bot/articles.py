"""The article model and the parser for one front-matter document (DESIGN §3).

Parsing is strict about the fields newsbot uses and lossless about everything else: the
front-matter source text and the Markdown body are kept verbatim, so ``newsbot export`` writes
back what was read. Every problem is reported as ``PATH:LINE: problem`` naming the field.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from bot.errors import ArticleError
from bot.markdown import MAX_URL, safe_url

try:  # libyaml's C loader is several times faster; fall back to pure Python where it is missing.
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

MAX_FILE_BYTES = 1024 * 1024
MAX_TITLE = 1_000
MAX_EXCERPT = 20_000
MAX_RELATED = 100
MAX_LIST = 200

_DEFAULT_PORTS = {"http": 80, "https": 443}


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
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def thumbnail(self) -> str | None:
        return self.images[0].url if self.images else None


def canonical_url(url: str) -> str:
    """The identity of an article: lower-case scheme and host, no fragment, no default port."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = f"[{host}]" if ":" in host else host  # IPv6 literals keep their brackets
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def http_url_problem(value: str) -> str | None:
    """Why ``value`` is not a linkable http(s) URL, or None when it is."""
    if not value.strip():
        return "is empty"
    if value != value.strip() or any(ch.isspace() for ch in value):
        return "contains whitespace"
    # Control characters, and format characters (zero-width, bidi) that can disguise a URL.
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        return "contains control or invisible characters"
    if len(value) > MAX_URL:
        return f"is too long ({len(value):,} characters; at most {MAX_URL:,})"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "is not an http(s) URL"
    if not parts.hostname:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        return "has user info before the host (user@host)"
    if safe_url(value) is None:  # what the renderer would refuse to link, refused here already
        return "is not a valid URL"
    return None


class _Doc:
    """One front-matter mapping with the line of each key, for located error messages."""

    def __init__(self, path: str, data: Mapping[Any, Any], lines: Mapping[str, int], start: int):
        self.path = path
        self.data = data
        self.lines = lines
        self.start = start

    def line(self, key: str) -> int:
        return self.lines.get(key, self.start)

    def error(self, key: str, problem: str) -> ArticleError:
        return ArticleError(self.path, self.line(key), f"{key}: {problem}")


def _type_name(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime | date):
        return "a date"
    return type(value).__name__


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def split_front_matter(path: str, text: str) -> tuple[str, str, str]:
    """Split a document into (YAML to parse, front matter with its fences, Markdown body)."""
    if not text.strip():
        raise ArticleError(path, 1, "empty file")
    if text.startswith("\ufeff"):
        text = text[1:]
    first_end = text.find("\n")
    if (text if first_end < 0 else text[:first_end]).rstrip() != "---":
        raise ArticleError(path, 1, "not a front-matter document (the first line must be '---')")
    pos = first_end + 1
    while pos < len(text):
        end = text.find("\n", pos)
        line_end = len(text) if end < 0 else end
        if text[pos:line_end].rstrip() in ("---", "..."):
            after = len(text) if end < 0 else end + 1
            return text[:pos], text[:after], text[after:]
        pos = line_end + 1
    raise ArticleError(path, 1, "front matter is not closed (no '---' line after the opening one)")


def _load(path: str, front: str) -> tuple[Any, dict[str, int], int]:
    """Compose and construct the YAML, keeping the line of every top-level key."""
    loader = _Loader(front)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ArticleError(path, 1, "front matter is empty")
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise ArticleError(path, line, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise ArticleError(path, 1, f"YAML error: {exc}") from None
    except RecursionError:
        raise ArticleError(path, 1, "YAML is nested too deeply") from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    start = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            key = key_node.value
            if isinstance(key, str):
                if key in lines:
                    raise ArticleError(path, key_node.start_mark.line + 1, f"{key}: duplicate key")
                lines[key] = key_node.start_mark.line + 1
    return data, lines, start


def _str(doc: _Doc, key: str, *, required: bool = False, limit: int | None = None) -> str:
    value = doc.data.get(key)
    if value is None:
        if required:
            if key in doc.data:
                raise doc.error(key, "must not be empty")
            raise ArticleError(doc.path, doc.start, f"{key}: missing (required)")
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool) and not required:
        value = str(value)
    if not isinstance(value, str):
        raise doc.error(key, f"expected a string, got {_type_name(value)}")
    if required and not value.strip():
        raise doc.error(key, "must not be empty")
    if limit is not None and len(value) > limit:
        raise doc.error(key, f"too long ({len(value):,} characters; at most {limit:,})")
    return value


def _int(doc: _Doc, key: str) -> int | None:
    value = doc.data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise doc.error(key, f"expected an integer, got {_type_name(value)} ({_shown(value)})")
    return value


def _bool(doc: _Doc, key: str) -> bool:
    value = doc.data.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise doc.error(key, f"expected true or false, got {_type_name(value)} ({_shown(value)})")
    return value


def parse_datetime(value: object) -> datetime | None:
    """An aware UTC datetime from a YAML timestamp or ISO 8601 string; None if unparsable."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _datetime(doc: _Doc, key: str) -> datetime | None:
    value = doc.data.get(key)
    if value is None:
        return None
    dt = parse_datetime(value)
    if dt is None:
        raise doc.error(key, f"not an ISO 8601 timestamp ({_shown(value)})")
    return dt


def _provider(doc: _Doc, key: str, value: object) -> Provider | None:
    if value is None:
        return None
    if isinstance(value, str):
        return Provider(name=value) if value.strip() else None
    if not isinstance(value, dict):
        raise doc.error(key, f"expected a mapping with name and domain, got {_type_name(value)}")
    name, domain = value.get("name"), value.get("domain")
    if name is not None and not isinstance(name, str):
        raise doc.error(key, f"name: expected a string, got {_type_name(name)}")
    if domain is not None and not isinstance(domain, str):
        raise doc.error(key, f"domain: expected a string, got {_type_name(domain)}")
    if not name and not domain:
        return None
    return Provider(name=name or domain or "", domain=domain or "")


def _topics(doc: _Doc) -> tuple[str, ...]:
    value = doc.data.get("topics")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise doc.error("topics", f"expected a list of strings, got {_type_name(value)}")
    if len(value) > MAX_LIST:
        raise doc.error("topics", f"too many entries ({len(value):,}; at most {MAX_LIST})")
    topics: list[str] = []
    for index, topic in enumerate(value):
        if not isinstance(topic, str | int) or isinstance(topic, bool):
            raise doc.error(
                "topics", f"entry {index + 1}: expected a string, got {_type_name(topic)}"
            )
        text = str(topic).strip()
        if text and text not in topics:
            topics.append(text)
    return tuple(topics)


def _images(doc: _Doc, key: str, value: object, warn: Callable[[str], None]) -> tuple[Image, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise doc.error(key, f"expected a list of images, got {_type_name(value)}")
    images: list[Image] = []
    for index, item in enumerate(value[:MAX_LIST]):
        if not isinstance(item, dict):
            raise doc.error(key, f"entry {index + 1}: expected a mapping, got {_type_name(item)}")
        url = item.get("url")
        if not isinstance(url, str) or http_url_problem(url) is not None:
            warn(f"{key}[{index + 1}]: url is not an http(s) URL; image ignored")
            continue
        width, height = item.get("width"), item.get("height")
        title = item.get("title")
        images.append(
            Image(
                url=url,
                width=width if isinstance(width, int) and not isinstance(width, bool) else None,
                height=height if isinstance(height, int) and not isinstance(height, bool) else None,
                title=title if isinstance(title, str) else "",
            )
        )
    return tuple(images)


def _related(doc: _Doc, own_url: str, warn: Callable[[str], None]) -> tuple[Related, ...]:
    value = doc.data.get("related")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise doc.error("related", f"expected a list of articles, got {_type_name(value)}")
    if len(value) > MAX_RELATED:
        raise doc.error("related", f"too many entries ({len(value):,}; at most {MAX_RELATED})")
    related: list[Related] = []
    for index, item in enumerate(value):
        where = f"related[{index + 1}]"
        if not isinstance(item, dict):
            raise doc.error(
                "related", f"entry {index + 1}: expected a mapping, got {_type_name(item)}"
            )
        url = item.get("webUrl")
        if url is None or (isinstance(url, str) and not url.strip()):
            warn(f"{where}: no webUrl; entry dropped")
            continue
        if not isinstance(url, str):
            warn(f"{where}: webUrl is {_type_name(url)}, not a URL; entry dropped")
            continue
        problem = http_url_problem(url)
        if problem is not None:
            warn(f"{where}: webUrl {_shown(url)} {problem}; entry dropped")
            continue
        title = item.get("title")
        if not isinstance(title, str) or not title.strip():
            warn(f"{where}: no title; entry dropped")
            continue
        excerpt = item.get("excerpt")
        quality = item.get("quality")
        images = _images(doc, "related", item.get("images"), lambda _msg: None)
        related.append(
            Related(
                title=title[:MAX_TITLE],
                url=url,
                excerpt=excerpt[:MAX_EXCERPT] if isinstance(excerpt, str) else "",
                provider=_provider(doc, "related", item.get("provider")),
                published_at=parse_datetime(item.get("publishedDateTime")),
                quality=quality
                if isinstance(quality, int) and not isinstance(quality, bool)
                else None,
                image=images[0].url if images else None,
            )
        )
    return tuple(related)


def decode(path: str, raw: bytes) -> str:
    """Bytes to text, or an ArticleError naming the first bad byte's line."""
    if len(raw) > MAX_FILE_BYTES:
        raise ArticleError(path, 1, f"file too large ({len(raw):,} bytes; at most 1 MiB)")
    if not raw.strip():
        raise ArticleError(path, 1, "empty file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ArticleError(
            path, line, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None


def source_hash(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def parse_article(path: str, raw: bytes) -> Article:
    """Parse one article file; raises ArticleError for anything that makes it unusable.

    Problems that only lose a detail (a related entry without a URL, an image with a bad URL)
    are kept as ``warnings`` and the article is still returned.
    """
    text = decode(path, raw)
    if "\x00" in text:
        raise ArticleError(
            path, text.count("\n", 0, text.index("\x00")) + 1, "contains NUL bytes (a binary file?)"
        )
    yaml_text, front, body = split_front_matter(path, text)
    data, lines, start = _load(path, yaml_text)
    if data is not None and not isinstance(data, dict):
        raise ArticleError(
            path, start, f"front matter must be a mapping of fields, got {_type_name(data)}"
        )
    if data is None:
        raise ArticleError(path, 1, "front matter is empty")
    doc = _Doc(path, data, lines, start)
    warnings: list[str] = []

    def warn(message: str) -> None:
        warnings.append(f"{path}:{doc.line('related')}: warning: {message}")

    title = _str(doc, "title", required=True, limit=MAX_TITLE).strip()
    web_url = _str(doc, "webUrl", required=True)
    problem = http_url_problem(web_url)
    if problem is not None:
        raise doc.error("webUrl", f"{_shown(web_url)} {problem}")
    url = canonical_url(web_url)
    article = Article(
        url=url,
        web_url=web_url,
        title=title,
        excerpt=_str(doc, "excerpt", limit=MAX_EXCERPT).strip(),
        published_at=_datetime(doc, "publishedDateTime"),
        category=_str(doc, "category", limit=200),
        type=_str(doc, "type", limit=200),
        provider=_provider(doc, "provider", data.get("provider")),
        topics=_topics(doc),
        images=_images(
            doc,
            "images",
            data.get("images"),
            lambda m: warnings.append(f"{path}:{doc.line('images')}: warning: {m}"),
        ),
        quality=_int(doc, "quality"),
        heat=_int(doc, "heat"),
        published=_bool(doc, "published"),
        related=(),
        source=front,
        body=body,
        source_hash=source_hash(raw),
    )
    related = _related(doc, url, warn)
    return replace(article, related=related, warnings=tuple(warnings))


def export_text(article: Article, *, published: bool) -> str:
    """The file ``newsbot export`` writes: the source as read, with ``published`` brought up to
    date when the queue has published the item since."""
    front = article.source
    if published and not article.published:
        yaml_text = front[: front.rstrip("\n").rfind("\n") + 1]
        data = yaml.load(yaml_text, Loader=_Loader)  # noqa: S506 - the safe C loader
        data["published"] = True
        dumped = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1_000_000)
        front = f"---\n{dumped}---\n"
    return front + article.body


def submitted_article(url: str, title: str, *, where: str) -> Article:
    """An article suggested by a user (``/news submit``): validated like a file, with a
    front-matter source so it exports like any other. Nothing is fetched over the network."""
    url, title = url.strip(), " ".join(title.split())
    source = yaml.safe_dump(
        {"title": title, "webUrl": url, "published": False},
        sort_keys=False,
        allow_unicode=True,
        width=1_000_000,
    )
    raw = f"---\n{source}---\n".encode()
    return parse_article(where, raw)
