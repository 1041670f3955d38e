"""Front matter in and out (DESIGN §3): one file's bytes to an :class:`Article`, and back.

Parsing is strict about the fields newsbot uses and lossless about everything else: the
front-matter source text and the Markdown body are kept verbatim, so ``newsbot export`` writes
back what was read. Every problem is reported as ``PATH:LINE: problem`` naming the field.

The YAML is read by PyYAML's safe loader (libyaml's when PyYAML has it). What the safe loader
already guarantees is relied on: no tag outside YAML's own builds anything (``!!python/...``
is refused), an alias is shared, never copied (a "billion laughs" document stays small), and
libyaml refuses nesting deeper than 1,000 levels. Added here: duplicate top-level keys are
refused, and a scalar the constructor cannot build (``0x_``, a 13th month) is an error at its
line instead of an exception from inside PyYAML.
"""

from __future__ import annotations

import hashlib
import re
import reprlib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import yaml

from bot.articles.model import Article, Image, Provider, Related
from bot.articles.urls import canonical_url, http_url_problem
from bot.errors import ArticleError

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

MAX_FILE_BYTES = 1024 * 1024
MAX_TITLE = 1_000
MAX_EXCERPT = 20_000
MAX_RELATED = 100
MAX_LIST = 200


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


# What PyYAML's SafeConstructor raises for a scalar the resolver accepted but it cannot build:
# ValueError and OverflowError for numbers and dates, KeyError for '!!bool maybe',
# AttributeError for '!!timestamp abc'.
_CONSTRUCTOR_ERRORS = (ValueError, OverflowError, KeyError, AttributeError, TypeError)


def _unbuildable(path: str, loader: Any, root: yaml.Node, exc: Exception) -> ArticleError:
    """The error for a value the constructor refused, at the first scalar (in document order)
    it cannot build: PyYAML's exception does not say where."""
    stack: list[yaml.Node] = [root]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:  # an alias
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            construct = loader.yaml_constructors.get(node.tag)
            try:
                if construct is not None:
                    construct(loader, node)
            except _CONSTRUCTOR_ERRORS as bad:
                problem = f"cannot read {_shown(node.value)} ({str(bad) or type(bad).__name__})"
                return ArticleError(path, node.start_mark.line + 1, f"YAML error: {problem}")
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            stack.extend(child for pair in reversed(node.value) for child in reversed(pair))
    return ArticleError(path, 1, f"YAML error: {exc}")


def _load(path: str, front: str) -> tuple[Any, dict[str, int], int]:
    """The YAML's value, the line of every top-level key, and the line the document starts on."""
    loader = _SafeLoader(front)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ArticleError(path, 1, "front matter is empty")
        try:
            data = loader.construct_document(node)
        except _CONSTRUCTOR_ERRORS as exc:
            raise _unbuildable(path, loader, node, exc) from None
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
    except RecursionError:  # the pure-Python composer recurses once per level
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
    return article_from_fields(_Doc(path, data, lines, start), front, body, source_hash(raw))


def article_from_mapping(where: str, data: Mapping[str, Any], source: str) -> Article:
    """An article from fields already read (a feed entry's), under exactly the rules of a
    file's; ``source`` is the front matter it is exported as. Problems are located at
    ``where`` (line 1)."""
    return article_from_fields(_Doc(where, data, {}, 1), source, "", source_hash(source.encode()))


def article_from_fields(doc: _Doc, front: str, body: str, digest: str) -> Article:
    path, data = doc.path, doc.data
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
        source_hash=digest,
        origin=path,
        warnings=tuple(warnings),
    )


def export_text(article: Article, *, published: bool) -> str:
    """The file ``newsbot export`` writes: the source as read, with ``published`` brought up to
    date when the queue has published the item since."""
    front = article.source
    if published and not article.published:
        yaml_text = front[: front.rstrip("\n").rfind("\n") + 1]
        data = yaml.load(yaml_text, Loader=_SafeLoader)
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
