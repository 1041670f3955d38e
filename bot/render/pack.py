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
- readers see news, not machinery: no internal id or part counter is added to what they read
  (a part that was posted but not recorded is found again by its exact content, DESIGN §5);
  every payload carries ``allowed_mentions`` that allow nothing, except that with a
  ``ping_role`` the first message starts with that role's mention and allows exactly that
  role (never users, ``@everyone`` or another role: article text cannot ping anyone);
- with ``notify_button`` the last message carries "Notify me" / "Stop" buttons that give and
  take the ``ping_role`` (custom ids :data:`NOTIFY_BUTTON_ID`).

Every item is measured once (:func:`measure`: its content length and embed characters, and the
limits it breaks on its own); :func:`pack_measured` packs measured items, so a renderer that
already measured its items to see whether they fit does not measure them again. :func:`pack`
measures, then packs.

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
from typing import Any, Final, NamedTuple

from bot import limits
from bot.articles import canonical_url
from bot.limits import length

ELLIPSIS: Final = "…"
REF_PATTERN: Final = re.compile(r"[A-Za-z0-9-]{1,16}")
_BLOCK_SEP: Final = "\n\n"
_TRAILING: Final = " \t\n,;:-–—"
_LAST_SPACE: Final = re.compile(r"\s(?=\S*$)")
# A sentence ends with . ! ? or … (and any closing quotes or brackets) before a space; it only
# counts when the next sentence starts with a capital, so "Aug. 2" or "e.g. this" do not end one.
_SENTENCE_END: Final = re.compile(r"[.!?…][\"'”’»)\]]*\s+")
_OPENERS: Final = "\"'“‘«(¿¡"


def allowed_mentions() -> dict[str, list[str]]:
    """``allowed_mentions`` that allow nothing (a fresh dict for every payload)."""
    return {"parse": []}


def role_mentions(role: int) -> dict[str, list[str]]:
    """``allowed_mentions`` that allow exactly ``role`` to be pinged, and nothing else."""
    return {"parse": [], "roles": [str(role)]}


def ping_line(role: int) -> str:
    """The mention a digest with ``ping_role`` starts with."""
    return f"<@&{role}>"


NOTIFY_BUTTON_ID: Final = r"newsbot:notify:(?P<action>on|off):(?P<role>[0-9]{1,19})"
"""The custom id of a digest's "Notify me" (on) and "Stop" (off) buttons; written once here,
since the core builds the payload and the Discord adapter answers the click."""


def notify_button_id(action: str, role: int) -> str:
    return f"newsbot:notify:{action}:{role}"


def notify_row(role: int) -> dict[str, Any]:
    """The action row with a digest's "Notify me" / "Stop" buttons for ``role``."""
    return {
        "type": 1,
        "components": [
            {
                "type": 2,
                "style": 1,
                "label": "Notify me",
                "custom_id": notify_button_id("on", role),
            },
            {"type": 2, "style": 2, "label": "Stop", "custom_id": notify_button_id("off", role)},
        ],
    }


def with_ping(header: str, role: int | None) -> str:
    """``header`` as the first message shows it: after the role's mention, with one."""
    if role is None:
        return header
    return ping_line(role) + ("\n" + header if header else "")


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
    """``ref`` if it is a valid digest identity (1-16 letters, digits or hyphens). Templates
    may show it (``{{ ref }}``); newsbot itself no longer puts it in what readers see."""
    if not isinstance(ref, str) or not REF_PATTERN.fullmatch(ref):
        raise ValueError(f"digest ref must be 1-16 letters, digits or hyphens, got {ref!r}")
    return ref


CONTENT_BUDGET: Final = limits.CONTENT_MAX
"""Characters of content a message of a digest may have: all of Discord's 2,000, since no
line of newsbot's own is added to it."""


def _text_of(obj: object, key: str) -> str:
    if obj is None:
        return ""
    if isinstance(obj, Mapping):
        value = obj.get(key)
        if type(value) is str or isinstance(value, str):
            return value
    return ""


_TITLE_MAX: Final = limits.EMBED_TITLE_MAX
_DESCRIPTION_MAX: Final = limits.EMBED_DESCRIPTION_MAX
_FOOTER_MAX: Final = limits.EMBED_FOOTER_MAX
_AUTHOR_MAX: Final = limits.EMBED_AUTHOR_MAX
_FIELD_NAME_MAX: Final = limits.EMBED_FIELD_NAME_MAX
_FIELD_VALUE_MAX: Final = limits.EMBED_FIELD_VALUE_MAX
_FIELDS_MAX: Final = limits.EMBED_FIELDS_MAX
_EMBEDS_TOTAL_MAX: Final = limits.EMBEDS_TOTAL_MAX


def _text_in(holder: object, key: str) -> str:
    """``holder[key]`` when ``holder`` is a mapping and that is a string, else ``""``."""
    if type(holder) is dict:
        value = holder.get(key)
        if type(value) is str:
            return value
    return _text_of(holder, key)


def _measure(embed: Mapping[str, Any]) -> tuple[int, list[str]]:
    """The characters of ``embed`` that count towards the 6,000 per message, and every limit
    it breaks on its own."""
    # Written for speed (every embed of every digest comes through here, and the slow parts
    # of CPython are calls): plain dicts of strings need no helper, one look at all texts
    # together gives their lengths, and messages are only written for an embed that breaks a
    # limit.
    get = embed.get
    title = get("title")
    if type(title) is not str:
        title = _text_of(embed, "title")
    description = get("description")
    if type(description) is not str:
        description = _text_of(embed, "description")
    texts = [title, description, _text_in(get("footer"), "text"), _text_in(get("author"), "name")]
    fields = get("fields") or ()
    for item in fields:
        texts.append(_text_in(item, "name"))
        texts.append(_text_in(item, "value"))
    joined = "".join(texts)
    # Without characters beyond the Basic Multilingual Plane (the usual case) the length of
    # each text is its len().
    bmp = joined.isascii() or len(joined.encode("utf-16-le")) == 2 * len(joined)
    sizes = list(map(len, texts)) if bmp else list(map(length, texts))
    total = sum(sizes)
    if (
        sizes[0] <= _TITLE_MAX
        and sizes[1] <= _DESCRIPTION_MAX
        and sizes[2] <= _FOOTER_MAX
        and sizes[3] <= _AUTHOR_MAX
        and total <= _EMBEDS_TOTAL_MAX
        and len(fields) <= _FIELDS_MAX
    ):
        for i in range(4, len(sizes), 2):
            if sizes[i] > _FIELD_NAME_MAX or sizes[i + 1] > _FIELD_VALUE_MAX:
                break
        else:
            return total, []
    return total, _problems(sizes, len(fields), total)


def _problems(sizes: list[int], fields: int, total: int) -> list[str]:
    """Every limit broken by an embed with texts of ``sizes`` (see _measure)."""
    problems: list[str] = []
    for what, size, limit in zip(
        ("title", "description", "footer", "author"),
        sizes,
        (_TITLE_MAX, _DESCRIPTION_MAX, _FOOTER_MAX, _AUTHOR_MAX),
        strict=False,
    ):
        if size > limit:
            problems.append(f"{what} has {size:,} characters (at most {limit:,})")
    if fields > _FIELDS_MAX:
        problems.append(f"{fields} fields (at most {_FIELDS_MAX})")
    for number in range(1, fields + 1):
        name, value = sizes[2 + 2 * number], sizes[3 + 2 * number]
        if name > _FIELD_NAME_MAX:
            problems.append(
                f"field {number} name has {name:,} characters (at most {_FIELD_NAME_MAX:,})"
            )
        if value > _FIELD_VALUE_MAX:
            problems.append(
                f"field {number} value has {value:,} characters (at most {_FIELD_VALUE_MAX:,})"
            )
    if total > _EMBEDS_TOTAL_MAX:
        problems.append(f"{total:,} characters in all (at most {_EMBEDS_TOTAL_MAX:,})")
    return problems


def embed_length(embed: Mapping[str, Any]) -> int:
    """Characters of ``embed`` that count towards the 6,000 per message."""
    return _measure(embed)[0]


def embed_problems(embed: Mapping[str, Any]) -> list[str]:
    """Every limit ``embed`` breaks on its own (empty when it is valid alone)."""
    return _measure(embed)[1]


class Measured(NamedTuple):
    """A rendered item with its lengths, as :func:`measure` found them."""

    item: RenderedItem
    text_length: int
    """Length of the item's text (:func:`bot.limits.length`)."""
    embed_length: int
    """Characters of its embed that count towards the 6,000 per message (0 without one)."""
    embed_problems: tuple[str, ...]
    """Every limit its embed breaks on its own."""

    def fits(self, budget: int) -> bool:
        """Whether the item fits a message on its own, ``budget`` being the content left."""
        return self.text_length <= budget and not self.embed_problems


def measure(item: RenderedItem) -> Measured:
    """``item`` with its lengths, for :meth:`Measured.fits` and :func:`pack_measured`."""
    if item.embed is None:
        return Measured(item, length(item.text), 0, ())
    size, problems = _measure(item.embed)
    return Measured(item, length(item.text), size, tuple(problems))


def fits_alone(item: RenderedItem, budget: int) -> bool:
    """Whether ``item`` fits a message on its own, ``budget`` being the content left."""
    return measure(item).fits(budget)


def _url_key(embed: Mapping[str, Any]) -> str | None:
    """Discord shows only the first of several embeds with the same URL in one message; two
    URLs that differ only in case of scheme or host, or in the fragment, count as the same."""
    url = embed.get("url")
    if not isinstance(url, str) or not url:
        return None
    return canonical_url(url)


@dataclass(slots=True)
class _Draft:
    budget: int
    blocks: list[str] = field(default_factory=list)
    embeds: list[dict[str, Any]] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    content_length: int = 0
    embeds_length: int = 0
    urls: set[str] = field(default_factory=set)

    def takes_text(self, size: int) -> bool:
        """Whether a block of text ``size`` long (0: no text) fits."""
        if not size:
            return True
        sep = len(_BLOCK_SEP) if self.blocks else 0
        return self.content_length + sep + size <= self.budget

    def add_text(self, text: str, size: int) -> None:
        if text:
            sep = len(_BLOCK_SEP) if self.blocks else 0
            self.content_length += sep + size
            self.blocks.append(text)

    def takes(self, measured: Measured, key: str | None) -> bool:
        if not self.takes_text(measured.text_length):
            return False
        if measured.item.embed is None:
            return True
        return (
            len(self.embeds) < limits.EMBEDS_PER_MESSAGE
            and self.embeds_length + measured.embed_length <= limits.EMBEDS_TOTAL_MAX
            and (key is None or key not in self.urls)
        )

    def add(self, measured: Measured, key: str | None) -> None:
        item = measured.item
        self.add_text(item.text, measured.text_length)
        if item.embed is not None:
            self.embeds.append(dict(item.embed))  # each render builds its items afresh
            self.embeds_length += measured.embed_length
            if key is not None:
                self.urls.add(key)
        self.indices.append(item.index)

    def finish(self) -> PackedMessage:
        payload: dict[str, Any] = {"content": _BLOCK_SEP.join(self.blocks)}
        if self.embeds:
            payload["embeds"] = self.embeds
        payload["allowed_mentions"] = allowed_mentions()
        return PackedMessage(payload=payload, item_indices=tuple(self.indices))


def pack(
    header: str,
    items: Sequence[RenderedItem],
    footer: str,
    *,
    ping_role: int | None = None,
    notify_button: bool = False,
) -> list[PackedMessage]:
    """Pack ``items`` (in order) with ``header`` and ``footer`` into message payloads; with
    ``ping_role`` the first message pings that role, with ``notify_button`` the last carries
    the buttons that give and take it.

    No items: no messages. Raises ValueError when the header, the footer or an item does not
    fit a message on its own (use :func:`fit_item` first).
    """
    measured = [measure(item) for item in items]
    return pack_measured(header, measured, footer, ping_role=ping_role, notify_button=notify_button)


def pack_measured(
    header: str,
    items: Sequence[Measured],
    footer: str,
    *,
    ping_role: int | None = None,
    notify_button: bool = False,
) -> list[PackedMessage]:
    """:func:`pack` for items already measured with :func:`measure`."""
    if not items:
        return []
    if notify_button and ping_role is None:
        raise ValueError("notify_button needs a ping_role")
    header = with_ping(header, ping_role)
    budget = CONTENT_BUDGET
    sizes: dict[str, int] = {}
    for what, text in (("header", header), ("footer", footer)):
        size = sizes[what] = length(text)
        if size > budget:
            raise ValueError(f"the {what} has {size:,} characters (at most {budget:,})")
    for measured in items:
        if not measured.fits(budget):
            raise ValueError(f"item {measured.item.index} does not fit in one message")
    drafts: list[_Draft] = []
    draft = _Draft(budget)
    draft.add_text(header, sizes["header"])
    for measured in items:
        item = measured.item
        if item.embed is None:  # text only (the text digest): the usual case, inlined
            if not draft.takes_text(measured.text_length):
                drafts.append(draft)
                draft = _Draft(budget)
            draft.add_text(item.text, measured.text_length)
            draft.indices.append(item.index)
            continue
        key = _url_key(item.embed)
        if not draft.takes(measured, key):
            drafts.append(draft)
            draft = _Draft(budget)
        draft.add(measured, key)
    if not draft.takes_text(sizes["footer"]):
        drafts.append(draft)
        draft = _Draft(budget)
    draft.add_text(footer, sizes["footer"])
    drafts.append(draft)
    messages = [d.finish() for d in drafts]
    if ping_role is not None:
        messages[0].payload["allowed_mentions"] = role_mentions(ping_role)
        if notify_button:
            messages[-1].payload["components"] = [notify_row(ping_role)]
    return messages


def assemble(header: str, items: Sequence[Measured], footer: str) -> PackedMessage | None:
    """One message of exactly ``header`` (the ping included), ``items`` and ``footer``, as
    :func:`pack` joins them, or None when they no longer fit one message together: how a
    posted message is rendered again for an edit, without moving an item to another one.
    Its ``allowed_mentions`` allow nothing (an edit pings no one)."""
    draft = _Draft(CONTENT_BUDGET)
    if not draft.takes_text(length(header)):
        return None
    draft.add_text(header, length(header))
    for measured in items:
        key = _url_key(measured.item.embed) if measured.item.embed is not None else None
        if measured.embed_problems or not draft.takes(measured, key):
            return None
        draft.add(measured, key)
    if not draft.takes_text(length(footer)):
        return None
    draft.add_text(footer, length(footer))
    return draft.finish()


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


def lead(text: str, limit: int) -> str:
    """The opening sentences of ``text`` that fit ``limit`` characters: as many whole sentences
    as fit, or, when even the first one is longer, the first words with an ellipsis
    (:func:`shorten_text`). How a digest's excerpts stay at a sentence or two
    (``excerpt_length``) without ending mid-thought where that can be helped."""
    if len(text) <= limit:
        return text
    end = 0
    for match in _SENTENCE_END.finditer(text):
        stop = match.start() + len(match.group().rstrip())
        if stop > limit:
            break
        following = text[match.end() : match.end() + 2].lstrip(_OPENERS)
        if following[:1].isupper():
            end = stop
    return text[:end] if end else shorten_text(text, limit)


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
