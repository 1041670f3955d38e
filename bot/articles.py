"""The article model and the parser for one front-matter document (DESIGN §3).

Parsing is strict about the fields newsbot uses and lossless about everything else: the
front-matter source text and the Markdown body are kept verbatim, so ``newsbot export`` writes
back what was read. Every problem is reported as ``PATH:LINE: problem`` naming the field.

The YAML is composed by libyaml and built into Python values by a lean constructor that gives
exactly what PyYAML's safe loader gives (PyYAML's own constructor takes over for anything
unusual: aliases of collections, merge keys, explicit tags); ingest of a large feed is bound by
this module, so its hot paths are kept close to the cost of reading the YAML at all.
"""

from __future__ import annotations

import hashlib
import re
import reprlib
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from bot.errors import ArticleError
from bot.urls import MAX_URL, safe_url

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

# A lower-case http(s) URL with a plain host, optional port 1-9999 and only unreserved or
# sub-delimiter characters after it: no whitespace, control characters, user info, brackets or
# bad port can hide in it, so it passes every check in http_url_problem (safe_url is still asked).
_PLAIN_URL = re.compile(
    r"https?://[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?(?::[1-9][0-9]{0,3})?"
    r"(?:[/?][A-Za-z0-9/:@!$&'*+,;=._~%?-]*)?(?:#[A-Za-z0-9/:@!$&'*+,;=._~%?-]*)?"
)

# ASCII URLs (nearly all of them) are checked with two regexes instead of a per-character
# Unicode lookup; the classes are built from the same predicates the general path uses.
_ASCII_SPACE = re.compile(
    "[" + re.escape("".join(chr(c) for c in range(128) if chr(c).isspace())) + "]"
)
_ASCII_CONTROL = re.compile(
    "["
    + re.escape("".join(chr(c) for c in range(128) if unicodedata.category(chr(c)) in ("Cc", "Cf")))
    + "]"
)


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


# Already canonical: lower-case http(s) scheme and plain host, no port, a path, no query or
# fragment, nothing urlsplit would strip or re-quote. Most URLs are; they skip the round trip.
_CANONICAL_URL = re.compile(
    r"https?://[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?/[A-Za-z0-9/:@!$&'*+,;=._~%-]*"
)


def canonical_url(url: str) -> str:
    """The identity of an article: lower-case scheme and host, no fragment, no default port."""
    if _CANONICAL_URL.fullmatch(url):
        return url
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
    if len(value) <= MAX_URL and _PLAIN_URL.fullmatch(value) and safe_url(value) is not None:
        return None  # the common case: nothing below can object to such a URL
    if not value.strip():
        return "is empty"
    if value.isascii():
        if _ASCII_SPACE.search(value):
            return "contains whitespace"
        if _ASCII_CONTROL.search(value):
            return "contains control or invisible characters"
    else:
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


_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlevel = 2


def _shown(value: object) -> str:
    """A short repr for messages: bounded before it is built (an alias bomb must not expand,
    and repr() refuses integers of more than 4,300 digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of {value.bit_length():,} bits"
    text = _REPR.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_INT64 = range(-(2**63), 2**63)


def _small_int(value: object) -> int | None:
    """``value`` if it is an integer SQLite can store (64 bits), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value in _INT64:
        return value
    return None


# A line that is '---' or '...' and trailing whitespace (what str.rstrip removes), found from
# the newline before it: one regex pass (which skips ahead to each newline) instead of a Python
# loop over the lines.
_CLOSING_FENCE = re.compile(r"\n(?:---|\.\.\.)[^\S\n]*(?=\n|\Z)")


def split_front_matter(path: str, text: str) -> tuple[str, str, str]:
    """Split a document into (YAML to parse, front matter with its fences, Markdown body)."""
    if not text.strip():
        raise ArticleError(path, 1, "empty file")
    if text.startswith("\ufeff"):
        text = text[1:]
    first_end = text.find("\n")
    if (text if first_end < 0 else text[:first_end]).rstrip() != "---":
        raise ArticleError(path, 1, "not a front-matter document (the first line must be '---')")
    if first_end < 0:  # the '---' line alone: it is also taken as the closing fence
        return "", text, ""
    fence = _CLOSING_FENCE.search(text, first_end)
    if fence is not None:
        after = min(fence.end() + 1, len(text))
        return text[: fence.start() + 1], text[:after], text[after:]
    raise ArticleError(path, 1, "front matter is not closed (no '---' line after the opening one)")


_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
ScalarConstructor = Callable[[Any, yaml.ScalarNode], Any]


def _stock_scalar_constructors() -> dict[str, ScalarConstructor]:
    """PyYAML's own constructors for the plain scalar tags, as registered on our loader; a tag
    whose constructor someone replaced is left to the general path."""
    stock = yaml.constructor.SafeConstructor.yaml_constructors
    ours = _Loader.yaml_constructors
    tags = [f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp")]
    return {tag: ours[tag] for tag in tags if tag in ours and ours[tag] is stock.get(tag)}


_SCALARS = _stock_scalar_constructors()

# Tags of short plain scalars (keys, numbers, dates, names), which repeat from file to file.
_PLAIN_TAGS: dict[str, str] = {}
_PLAIN_TAGS_MAX = 4_096


class _ArticleLoader(_Loader):  # type: ignore[misc, valid-type]
    """libyaml's safe loader, remembering the tag it resolved for each short plain scalar.

    libyaml calls ``resolve`` for every node it composes, and for a plain scalar PyYAML tries
    its implicit resolvers' regexes one by one; that was a fifth of the time spent composing.
    Without path resolvers (the safe loader has none) a plain scalar's tag depends on its text
    alone, so the remembered tag is the one PyYAML would resolve."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            tag = _PLAIN_TAGS.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(value) <= 64:
                    if len(_PLAIN_TAGS) >= _PLAIN_TAGS_MAX:
                        _PLAIN_TAGS.clear()  # start over rather than keep a stale vocabulary
                    _PLAIN_TAGS[value] = tag
            return tag
        return super().resolve(kind, value, implicit)


# With path resolvers (someone added one to the safe loader) a tag depends on the path too.
_PARSER: type[yaml.SafeLoader] = _Loader if _Loader.yaml_path_resolvers else _ArticleLoader


class _General(Exception):
    """The document needs PyYAML's general constructor (aliases of collections, merge keys,
    explicit tags, ...); raised by the lean one, which then steps aside."""


# What PyYAML's SafeConstructor raises for a tagged scalar it cannot read: ValueError and
# OverflowError for numbers and dates, KeyError for '!!bool maybe', AttributeError for
# '!!timestamp abc'.
_CONSTRUCTOR_ERRORS = (ValueError, OverflowError, KeyError, AttributeError, TypeError)


class _BadScalar(Exception):
    """A scalar the YAML resolver accepted but its constructor refused (``0x_``, a timestamp
    with month 13)."""

    def __init__(self, node: yaml.ScalarNode, problem: str) -> None:
        super().__init__(problem)
        self.node = node
        self.problem = problem


def _construct(loader: Any, node: yaml.Node, seen: set[int]) -> Any:
    """The value PyYAML's safe constructor builds for ``node``, for what articles are made of:
    str/int/float/bool/null/timestamp scalars in plain mappings and lists; anything else raises
    _General. It takes a third of the time of ``construct_document``, whose generic machinery
    (per-node dispatch, recursion guards, two-step generators) was a fifth of all ingest time.
    The scalar constructors are PyYAML's own, so values are built identically."""
    if isinstance(node, yaml.ScalarNode):
        tag = node.tag
        if tag == _STR_TAG:
            return node.value
        constructor = _SCALARS.get(tag)
        if constructor is None:
            raise _General
        try:
            return constructor(loader, node)
        except _CONSTRUCTOR_ERRORS as exc:
            raise _BadScalar(node, str(exc) or type(exc).__name__) from None
    # A collection met twice is an alias; PyYAML shares (and may recurse into) it.
    if id(node) in seen:
        raise _General
    seen.add(id(node))
    # Plain strings, most of any document, are taken inline rather than through a call.
    if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            # Collection keys are unhashable errors, merge (<<) and value (=) keys are special:
            # all of them the general path's business.
            if type(key_node) is not yaml.ScalarNode:
                raise _General
            key = key_node.value if key_node.tag == _STR_TAG else _construct(loader, key_node, seen)
            mapping[key] = (
                value_node.value
                if type(value_node) is yaml.ScalarNode and value_node.tag == _STR_TAG
                else _construct(loader, value_node, seen)
            )
        return mapping
    if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
        return [
            child.value
            if type(child) is yaml.ScalarNode and child.tag == _STR_TAG
            else _construct(loader, child, seen)
            for child in node.value
        ]
    raise _General


def _bad_value(path: str, node: yaml.ScalarNode, problem: str) -> ArticleError:
    return ArticleError(
        path, node.start_mark.line + 1, f"YAML error: cannot read {_shown(node.value)} ({problem})"
    )


def _document(path: str, loader: Any, node: yaml.Node) -> Any:
    """The value of a composed document: the lean constructor when it can, PyYAML's own
    otherwise (same result); a scalar neither can read is an error at its line."""
    try:
        return _construct(loader, node, set())
    except _BadScalar as exc:
        raise _bad_value(path, exc.node, exc.problem) from None
    except (_General, RecursionError):
        pass
    try:
        return loader.construct_document(node)
    except _CONSTRUCTOR_ERRORS as exc:
        # PyYAML's constructor does not say where; find the scalar it refused.
        raise _located_bad_value(path, loader, node, exc) from None


def _load(path: str, front: str) -> tuple[Any, dict[str, int], int]:
    """Compose and construct the YAML, keeping the line of every top-level key."""
    loader = _PARSER(front)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ArticleError(path, 1, "front matter is empty")
        data = _document(path, loader, node)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, e.g. ESC
        line = front.count("\n", 0, exc.position) + 1
        problem = f"unacceptable character #x{exc.character:04x}: {exc.reason}"
        raise ArticleError(path, line, f"YAML error: {problem}") from None
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


def _located_bad_value(path: str, loader: Any, node: yaml.Node, exc: Exception) -> ArticleError:
    """The error for a scalar the general constructor refused, at that scalar's line."""
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.ScalarNode):
            constructor = _SCALARS.get(current.tag)
            if constructor is None:
                continue
            try:
                constructor(loader, current)
            except _CONSTRUCTOR_ERRORS as bad:
                return _bad_value(path, current, str(bad))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(reversed(current.value))
        elif isinstance(current, yaml.MappingNode):
            stack.extend(n for pair in reversed(current.value) for n in reversed(pair))
    return ArticleError(path, 1, f"YAML error: {exc}")


def _str(doc: _Doc, key: str, *, required: bool = False, limit: int | None = None) -> str:
    value = doc.data.get(key)
    if value is None:
        if required:
            if key in doc.data:
                raise doc.error(key, "must not be empty")
            raise ArticleError(doc.path, doc.start, f"{key}: missing (required)")
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool) and not required:
        if isinstance(value, int) and value not in _INT64:
            raise doc.error(key, f"number out of range ({_shown(value)})")
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
    if value not in _INT64:
        raise doc.error(key, f"out of range ({_shown(value)}; at most 64 bits)")
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
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # an offset that moves year 1 or 9999 out of range
        return None


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
        if isinstance(topic, int) and not isinstance(topic, bool):
            if _small_int(topic) is None:
                raise doc.error("topics", f"entry {index + 1}: number out of range")
            topic = str(topic)
        if not isinstance(topic, str):
            raise doc.error(
                "topics", f"entry {index + 1}: expected a string, got {_type_name(topic)}"
            )
        text = topic.strip()
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
                width=_small_int(width),
                height=_small_int(height),
                title=title if isinstance(title, str) else "",
            )
        )
    return tuple(images)


def _related(doc: _Doc, warn: Callable[[str], None]) -> tuple[Related, ...]:
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
                quality=_small_int(quality),
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
    # Fields are read in this order so that the first problem reported stays the same.
    excerpt = _str(doc, "excerpt", limit=MAX_EXCERPT).strip()
    published_at = _datetime(doc, "publishedDateTime")
    category = _str(doc, "category", limit=200)
    type_ = _str(doc, "type", limit=200)
    provider = _provider(doc, "provider", data.get("provider"))
    topics = _topics(doc)
    images = _images(
        doc,
        "images",
        data.get("images"),
        lambda m: warnings.append(f"{path}:{doc.line('images')}: warning: {m}"),
    )
    quality = _int(doc, "quality")
    heat = _int(doc, "heat")
    published = _bool(doc, "published")
    related = _related(doc, warn)
    return Article(
        url=url,
        web_url=web_url,
        title=title,
        excerpt=excerpt,
        published_at=published_at,
        category=category,
        type=type_,
        provider=provider,
        topics=topics,
        images=images,
        quality=quality,
        heat=heat,
        published=published,
        related=related,
        source=front,
        body=body,
        source_hash=source_hash(raw),
        warnings=tuple(warnings),
    )


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
