"""Pure packing of rendered digest parts into Discord message payloads (DESIGN §6).

The renderer produces a header, one :class:`RenderedItem` per article (Markdown text, or an
embed) and a footer. :func:`pack` fills messages greedily in order:

- the header starts the first message and the footer ends the last one, each exactly once (a
  header or footer that does not fit next to its neighbouring item gets a message of its own);
- items keep their order and each appears in exactly one message: a message is only ever split
  between items, never inside one (so never inside a link);
- every message stays within :mod:`bot.limits`: 2,000 characters of content, at most 10 embeds
  and 6,000 embed characters, and never two embeds with the same URL (Discord would show only
  the first of them);
- every message's content ends with a subtext line ``-# newsbot · part 2/3 · ref <ref>`` that
  identifies the digest, so a part that was posted but not recorded can be found again in the
  channel (DESIGN §5); every payload carries ``allowed_mentions`` that allow nothing.

:func:`pack` needs every item to fit a message on its own; :func:`fit_item` gets an item there by
re-rendering it shorter (excerpt first, then fewer related links, then the title; dropping the
links as a last resort) through a callback, and :func:`shorten_text` cuts raw text at a word
boundary with an ellipsis. Shortening works on the article text before it is escaped and
rendered, so it can never cut an escape sequence, a mention guard or a link.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from bot import limits
from bot.articles import canonical_url
from bot.limits import length

ELLIPSIS: Final = "…"
_canonical: Final = lru_cache(maxsize=4_096)(canonical_url)
REF_PATTERN: Final = re.compile(r"[A-Za-z0-9-]{1,16}")
_BLOCK_SEP: Final = "\n\n"
_TRAILING: Final = " \t\n,;:-–—"
_LAST_SPACE: Final = re.compile(r"\s(?=\S*$)")


def allowed_mentions() -> dict[str, list[str]]:
    """``allowed_mentions`` that allow nothing (a fresh dict for every payload)."""
    return {"parse": []}


@dataclass(frozen=True, slots=True)
class RenderedItem:
    """One article as rendered: Markdown for a message's content, or an embed object."""

    index: int
    text: str = ""
    embed: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PackedMessage:
    """One message-create payload and the articles (indices into the rendered list) in it."""

    payload: dict[str, Any]
    item_indices: tuple[int, ...]

    @property
    def content(self) -> str:
        content: str = self.payload["content"]
        return content


def check_ref(ref: str) -> str:
    """``ref`` if it is a valid digest identity (1-16 letters, digits or hyphens)."""
    if not isinstance(ref, str) or not REF_PATTERN.fullmatch(ref):
        raise ValueError(f"digest ref must be 1-16 letters, digits or hyphens, got {ref!r}")
    return ref


def ref_line(ref: str, part: int, total: int) -> str:
    """The subtext line that ends every message of a digest."""
    return f"-# newsbot · part {part}/{total} · ref {ref}"


def content_budget(ref: str, parts: int) -> int:
    """Characters of content left in a message for a digest of up to ``parts`` messages."""
    return limits.CONTENT_MAX - length(ref_line(ref, parts, parts)) - 1


def _text_of(obj: object, key: str) -> str:
    if type(obj) is dict or isinstance(obj, Mapping):
        value = obj.get(key)
        if type(value) is str or isinstance(value, str):
            return value
    return ""


def _measure(embed: Mapping[str, Any]) -> tuple[int, list[str]]:
    """The characters of ``embed`` that count towards the 6,000 per message, and every limit
    it breaks on its own."""
    problems: list[str] = []
    total = 0

    def check(what: str, text: str, limit: int) -> None:
        nonlocal total
        size = length(text)
        total += size
        if size > limit:
            problems.append(f"{what} has {size:,} characters (at most {limit:,})")

    check("title", _text_of(embed, "title"), limits.EMBED_TITLE_MAX)
    check("description", _text_of(embed, "description"), limits.EMBED_DESCRIPTION_MAX)
    check("footer", _text_of(embed.get("footer"), "text"), limits.EMBED_FOOTER_MAX)
    check("author", _text_of(embed.get("author"), "name"), limits.EMBED_AUTHOR_MAX)
    fields = embed.get("fields") or ()
    if len(fields) > limits.EMBED_FIELDS_MAX:
        problems.append(f"{len(fields)} fields (at most {limits.EMBED_FIELDS_MAX})")
    for number, item in enumerate(fields, 1):
        check(f"field {number} name", _text_of(item, "name"), limits.EMBED_FIELD_NAME_MAX)
        check(f"field {number} value", _text_of(item, "value"), limits.EMBED_FIELD_VALUE_MAX)
    if total > limits.EMBEDS_TOTAL_MAX:
        problems.append(f"{total:,} characters in all (at most {limits.EMBEDS_TOTAL_MAX:,})")
    return total, problems


def embed_length(embed: Mapping[str, Any]) -> int:
    """Characters of ``embed`` that count towards the 6,000 per message."""
    return _measure(embed)[0]


def embed_problems(embed: Mapping[str, Any]) -> list[str]:
    """Every limit ``embed`` breaks on its own (empty when it is valid alone)."""
    return _measure(embed)[1]


def fits_alone(item: RenderedItem, budget: int) -> bool:
    """Whether ``item`` fits a message on its own, ``budget`` being the content left."""
    if length(item.text) > budget:
        return False
    return item.embed is None or not embed_problems(item.embed)


def _url_key(embed: Mapping[str, Any]) -> str | None:
    """Discord shows only the first of several embeds with the same URL in one message; two
    URLs that differ only in case of scheme or host, or in the fragment, count as the same."""
    url = embed.get("url")
    if not isinstance(url, str) or not url:
        return None
    return _canonical(url)


@dataclass(slots=True)
class _Draft:
    budget: int
    blocks: list[str] = field(default_factory=list)
    embeds: list[dict[str, Any]] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    content_length: int = 0
    embeds_length: int = 0
    urls: set[str] = field(default_factory=set)

    def takes_text(self, text: str) -> bool:
        if not text:
            return True
        sep = len(_BLOCK_SEP) if self.blocks else 0
        return self.content_length + sep + length(text) <= self.budget

    def add_text(self, text: str) -> None:
        if text:
            sep = len(_BLOCK_SEP) if self.blocks else 0
            self.content_length += sep + length(text)
            self.blocks.append(text)

    def takes(self, item: RenderedItem, size: int) -> bool:
        if not self.takes_text(item.text):
            return False
        if item.embed is None:
            return True
        key = _url_key(item.embed)
        return (
            len(self.embeds) < limits.EMBEDS_PER_MESSAGE
            and self.embeds_length + size <= limits.EMBEDS_TOTAL_MAX
            and (key is None or key not in self.urls)
        )

    def add(self, item: RenderedItem, size: int) -> None:
        self.add_text(item.text)
        if item.embed is not None:
            self.embeds.append(dict(item.embed))
            self.embeds_length += size
            key = _url_key(item.embed)
            if key is not None:
                self.urls.add(key)
        self.indices.append(item.index)

    def finish(self, ref: str, part: int, total: int) -> PackedMessage:
        line = ref_line(ref, part, total)
        content = _BLOCK_SEP.join(self.blocks) + "\n" + line if self.blocks else line
        payload: dict[str, Any] = {"content": content}
        if self.embeds:
            payload["embeds"] = self.embeds
        payload["allowed_mentions"] = allowed_mentions()
        return PackedMessage(payload=payload, item_indices=tuple(self.indices))


def pack(
    header: str, items: Sequence[RenderedItem], footer: str, *, ref: str
) -> list[PackedMessage]:
    """Pack ``items`` (in order) with ``header`` and ``footer`` into message payloads.

    No items: no messages. Raises ValueError when ``ref`` is invalid or when the header, the
    footer or an item does not fit a message on its own (use :func:`fit_item` first).
    """
    if not items:
        return []
    check_ref(ref)
    budget = content_budget(ref, len(items) + 2)
    for what, text in (("header", header), ("footer", footer)):
        if length(text) > budget:
            raise ValueError(f"the {what} has {length(text):,} characters (at most {budget:,})")
    sizes: list[int] = []
    for item in items:
        size, problems = (0, []) if item.embed is None else _measure(item.embed)
        if problems or length(item.text) > budget:
            raise ValueError(f"item {item.index} does not fit in one message")
        sizes.append(size)
    drafts: list[_Draft] = []
    draft = _Draft(budget)
    draft.add_text(header)
    for item, size in zip(items, sizes, strict=True):
        if not draft.takes(item, size):
            drafts.append(draft)
            draft = _Draft(budget)
        draft.add(item, size)
    if not draft.takes_text(footer):
        drafts.append(draft)
        draft = _Draft(budget)
    draft.add_text(footer)
    drafts.append(draft)
    return [d.finish(ref, part, len(drafts)) for part, d in enumerate(drafts, 1)]


def shorten_text(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, ending with ``…``.

    Never cuts inside a word (so never inside a URL written in the text): when even the first
    word is too long the result is just the ellipsis. ``limit`` < 1 gives the empty string.
    """
    if len(text) <= limit:
        return text
    if limit < 1:
        return ""
    head = text[: limit - 1]
    if not text[limit - 1].isspace():
        space = _LAST_SPACE.search(head)
        head = head[: space.start()] if space else ""
    return head.rstrip(_TRAILING) + ELLIPSIS


@dataclass(frozen=True, slots=True)
class Cut:
    """How far to shorten an article for :func:`fit_item`; None means "as it is".

    ``excerpt`` and ``title`` are lengths in characters for :func:`shorten_text`; ``related``
    is how many related links to keep; ``links=False`` drops the article's own link and all
    related links.
    """

    excerpt: int | None = None
    related: int | None = None
    title: int | None = None
    links: bool = True


def _largest(
    lo: int, hi: int, attempt: Callable[[int], RenderedItem | None]
) -> RenderedItem | None:
    """The item for the largest n in [lo, hi] that ``attempt`` accepts (assumed monotonic)."""
    best = attempt(lo)
    if best is None:
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        got = attempt(mid)
        if got is None:
            hi = mid - 1
        else:
            lo, best = mid, got
    return best


def fit_item(
    render: Callable[[Cut], RenderedItem],
    fits: Callable[[RenderedItem], bool],
    *,
    excerpt: int,
    related: int,
    title: int,
) -> RenderedItem | None:
    """The longest rendering of one article that ``fits``, or None if even the shortest does not.

    Shortens in the order DESIGN §6 asks: the excerpt (``excerpt`` characters long at full
    length), then the related links (``related`` of them), then the title (``title``
    characters); as a last resort without links, with as much of the title as fits.
    """
    item = render(Cut())
    if fits(item):
        return item

    def trying(make: Callable[[int], Cut]) -> Callable[[int], RenderedItem | None]:
        def attempt(n: int) -> RenderedItem | None:
            got = render(make(n))
            return got if fits(got) else None

        return attempt

    steps: list[tuple[int, int, Callable[[int], Cut]]] = [
        (0, max(excerpt - 1, 0), lambda n: Cut(excerpt=n)),
        (0, max(related - 1, 0), lambda n: Cut(excerpt=0, related=n)),
        (1, max(title - 1, 1), lambda n: Cut(excerpt=0, related=0, title=n)),
        (1, max(title, 1), lambda n: Cut(excerpt=0, related=0, title=n, links=False)),
    ]
    for lo, hi, make in steps:
        found = _largest(lo, hi, trying(make))
        if found is not None:
            return found
    return None
