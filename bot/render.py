"""Digest rendering: the Jinja2 environment, the views templates see, and the block protocol.

**Environment.** An :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` with
``StrictUndefined`` (a typo is an error with file and line) and autoescape off (the output is
Discord Markdown, not HTML). Templates are looked up in the operator's folder first, then in the
built-ins (the ``templates/`` folder, shipped as the package ``bot.templates``); the built-ins
are also reachable as ``default:NAME`` so an override can ``{% extends "default:digest.md.j2" %}``
and replace one block. A partial such as ``_item.md.j2`` in the operator's folder replaces the
built-in one everywhere, also inside the built-in digest templates.

**Names.** ``DigestChannel.template`` is a short name: ``digest`` means ``digest.md.j2``,
``embed`` means ``embed.j2``; in general ``NAME`` is looked up as ``NAME.md.j2``, then
``NAME.j2``. A name ending in ``.j2`` is used as it is (``default:`` prefix allowed).

**Escaping cannot be forgotten.** Templates never see an Article: they get views whose text is
already escaped for Discord Markdown (a ``str`` subclass, :class:`Md`) and whose links already
passed :func:`~bot.markdown.safe_url` (:class:`SafeUrl`, or None when there is no safe link).
The context of a digest template:

- ``digest``: ``title``, ``channel``, ``timezone``, ``template``, ``related_limit``;
- ``items``: one view per article, in order: ``number`` (1-based), ``index`` (0-based),
  ``title``, ``url``, ``excerpt``, ``outlet`` (provider name, else its domain), ``domain``,
  ``date`` (``10 Jun 2020`` in the channel's time zone), ``published`` (datetime),
  ``timestamp`` (Unix seconds, for ``<t:...>``), ``category``, ``type``, ``topics``,
  ``quality``, ``heat``, ``thumbnail`` (first safe image URL) and ``related``: other outlets'
  coverage, deduplicated by canonical URL, without the article's own URL, at most
  ``related_limit``; each with ``title``, ``url``, ``outlet``, ``domain``, ``excerpt``,
  ``date``, ``published``, ``quality``;
- ``count`` (number of items), ``date`` (``Tuesday 1 December 2026``), ``now`` (datetime in the
  channel's time zone), ``ref`` (the digest's identity; newsbot adds it to every message).

Filters: ``|md`` escapes anything else (and leaves escaped text alone); ``|url`` passes only
http(s) URLs (else ``""``); ``label|link(url)`` makes a masked link ``[label](<url>)`` whose
label shows literally (Discord shows backslashes inside a label, so never write
``[{{ text }}](...)`` by hand; see :func:`~bot.markdown.masked_link`); ``|plain`` removes the
escapes, for places that render no Markdown (the result still cannot mention or link, but its
Markdown formatting would apply in a message); ``|shorten(n)`` cuts text to ``n`` characters at
a word boundary with ``…``, and ``|truncate`` works on the text before escaping too (so neither
ever cuts an escape).

**Prepared articles.** A renderer keeps the articles it rendered last (up to ``MAX_PREPARED``)
prepared for the next digest: related links deduplicated and every view field a template read,
escaped, per time zone and related limit. They are found again by the article fields rendering
reads, not by object, so an equal article loaded again from the store (a preview, then the
post) is not escaped again, and an article that changed in any of those fields is prepared
anew. Views are read-only to templates, so the renders sharing them cannot tell.

**Remembered items.** When the item block (with every block it calls, in every template of the
``extends`` chain) is pure, its output depends on nothing but the item: the compiler resolves no
context variable for it except ``item`` (no ``loop``, ``now``, ``count``, ``digest``, top-level
``{% set %}``, macro or global), it includes only templates named by a constant that are
pure in turn, and it has no ``{% import %}``, ``self`` or ``random`` (see
:class:`_BoundedLoops`; the sandbox refuses the clock methods of dates). Then an article's
rendered item is kept with the prepared article, under the functions that rendered it and its
position, and the next digest with that article at that position uses it without running the
block. Both built-in digests are pure. An edited template is reloaded with new functions, so
nothing rendered by the old one is used again.

**Block protocol.** A digest template is rendered once; only the output of these blocks is used
(anything outside them is ignored):

- ``header`` (once, starts the first message) and ``footer`` (once, ends the last message);
- ``item``: a ``scoped`` block inside ``{% for item in items %}``, rendered for every item, in
  order. Its text is the item's Markdown (text digest) unless it contains embed blocks:
- ``embed_title``, ``embed_description``, ``embed_author``, ``embed_footer``, ``embed_color``
  (``#RRGGBB``), ``embed_related_name`` and ``embed_related`` (one field), nested in ``item``:
  then the item is one embed and its other text is ignored. Discord renders no Markdown in an
  embed's title, author and footer, so newsbot turns those three into plain text (escapes
  removed, mentions still neutralised). The embed's ``url`` (the article's link),
  ``thumbnail`` (its first usable image) and ``timestamp`` (its time) are set by newsbot.

Each protocol block is wrapped (first in ``Context.blocks``, where Jinja looks a block up) so
that what it renders is recorded for newsbot instead of flowing into the template's output. An
item too large for one message is rendered again, shorter, through the same block with the
context it had (:func:`bot.pack.fit_item`; so use ``item.number`` rather than ``loop.index``
in an item), then :func:`bot.pack.pack_measured` makes the messages.

**Safety.** Sandbox violations, undefined names, syntax errors, missing templates and runtime
errors all become :class:`~bot.errors.TemplateProblem` naming the template file and line. Every
loop iteration and call counts against a per-render budget (and a time limit), ``range`` is
capped, ``*`` and ``**`` cannot build huge values, and the output is capped: a template mistake
cannot spin forever. (This guards against mistakes; like Jinja's sandbox it is no hard boundary
against a template author who sets out to exhaust memory.)
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from datetime import UTC, date, datetime, tzinfo
from datetime import time as dt_time
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from itertools import islice
from operator import attrgetter
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Generic, TypeVar, overload
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
    pass_environment,
)
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.filters import do_truncate
from jinja2.idtracking import VAR_LOAD_RESOLVE
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot import limits
from bot.articles import Article, Provider, Related
from bot.config import DigestChannel
from bot.errors import TemplateProblem
from bot.markdown import (
    clean_text,
    collapse,
    escape_markdown,
    masked_link,
    neutralize,
    safe_url,
    unescape_markdown,
)
from bot.pack import (
    Cut,
    Measured,
    PackedMessage,
    RenderedItem,
    allowed_mentions,
    cached_canonical_url,
    check_ref,
    content_budget,
    copy_embed,
    fit_item,
    fits_alone,
    measure,
    pack_measured,
    shorten_text,
)

__all__ = [
    "Md",
    "PackedMessage",
    "Renderer",
    "SafeUrl",
    "builtin_templates",
    "clear_caches",
    "sample_article",
]

log = logging.getLogger(__name__)

MAX_STEPS: Final = 1_000_000
"""Loop iterations plus calls one render may make."""
MAX_SECONDS: Final = 5.0
MAX_OUTPUT: Final = 2_000_000
"""Characters one render may produce."""
MAX_RANGE: Final = 10_000
MAX_SEQUENCE: Final = 100_000
"""Largest string or list ``*`` may build."""
MAX_OUTLET: Final = 100
MAX_RELATED_TITLE: Final = 200
MAX_PREPARED: Final = 512
"""Articles a renderer keeps prepared for the next digest (its view fields computed)."""
_MEMO_PER_ARTICLE: Final = 8
"""Rendered items a prepared article keeps (per template and position; see _memo_key)."""

PROTOCOL_BLOCKS: Final = (
    "header",
    "item",
    "footer",
    "embed_title",
    "embed_description",
    "embed_author",
    "embed_footer",
    "embed_color",
    "embed_related_name",
    "embed_related",
)
_EMBED_BLOCKS: Final = frozenset(PROTOCOL_BLOCKS[3:])
_PROTOCOL: Final = frozenset(PROTOCOL_BLOCKS)
"""Blocks wrapped by _Pass (first in their Context.blocks stack)."""
_TOP_BLOCKS: Final = frozenset(("header", "footer"))
_COLOR: Final = re.compile(r"#?([0-9a-fA-F]{6})")
# A printf-style width or precision taken from the arguments, and a str.format field whose
# spec holds another field: both let an argument choose any width.
_STAR_WIDTH: Final = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(?:\*|[0-9]*\.\*)")
_NESTED_FIELD: Final = re.compile(r"\{[^{}]*\{")
# A printf-style or str.format width or precision of 10,000 or more.
_BIG_WIDTH: Final = re.compile(
    r"%(?:\([^)]*\))?[-+ #0]*(?:[0-9]{5,}|[0-9]*\.[0-9]{5,})|\{[^{}]*:[^{}]*[0-9]{5,}[^{}]*\}"
)


class Md(str):
    """Text that is already escaped for Discord Markdown (safe to put anywhere in a message)."""

    __slots__ = ()


class SafeUrl(str):
    """A URL that passed :func:`~bot.markdown.safe_url` (http(s), safe inside ``<...>``)."""

    __slots__ = ()


_EMPTY: Final = Md("")


def _md(value: object) -> Md:
    if isinstance(value, Md):
        return value
    if value is None:
        return _EMPTY
    return Md(escape_markdown(str(value)))


def _url(value: object) -> SafeUrl:
    if isinstance(value, SafeUrl):
        return value
    return SafeUrl(safe_url(value) or "")


def _plain(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    return _plain_cached(text) if len(text) <= 1_024 else neutralize(unescape_markdown(text))


@lru_cache(maxsize=4_096)
def _plain_cached(text: str) -> str:
    return neutralize(unescape_markdown(text))


def _link(label: object, url: object) -> Md:
    if type(label) is Md and type(url) is SafeUrl and len(label) <= 1_024:
        return _link_cached(label, url)  # a view's field and link: the usual case
    return _make_link(label, url)


def _make_link(label: object, url: object) -> Md:
    raw = unescape_markdown(label) if isinstance(label, Md) else str(label or "")
    return Md(masked_link(raw, url))


# Only ever called with an Md label and a SafeUrl (an Md and a str that are equal would make
# different links).
_link_cached: Final = lru_cache(maxsize=4_096)(_make_link)


def _shorten(value: object, length: int = 400) -> Md:
    if isinstance(value, Md) and len(value) <= length:  # the raw text is never longer
        return value
    raw = unescape_markdown(value) if isinstance(value, Md) else clean_text(str(value))
    return Md(escape_markdown(shorten_text(raw, max(int(length), 0))))


def _finalize(value: object) -> object:
    return "" if value is None else value


# ---------------------------------------------------------------------------------------------
# Views: what templates see. Text is Md (escaped), links SafeUrl or None. Fields are computed
# when a template first reads them (most templates read a few), then kept. An article's full
# (uncut) views share one field dict (see _Source), so a field is computed once per article,
# time zone and related limit, however many digests render it.

_T = TypeVar("_T")


class _lazy(Generic[_T]):  # lower case: used like @property
    """A property computed once per instance, then stored in the instance ``__dict__``."""

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _lazy[_T]: ...
    @overload
    def __get__(self, obj: object, owner: type[Any]) -> _T: ...
    def __get__(self, obj: object, owner: type[Any]) -> _lazy[_T] | _T:
        if obj is None:
            return self
        value = self.compute(obj)
        obj.__dict__[self.name] = value
        return value


def _host(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def _outlet_name(provider: Provider | None, url: str) -> str:
    name = (provider.name if provider else "") or (provider.domain if provider else "")
    return shorten_text(collapse(name or _host(url)), MAX_OUTLET)


def _domain(provider: Provider | None, url: str) -> str:
    return collapse((provider.domain if provider else "") or _host(url))


def _local(when: datetime | None, tz: tzinfo) -> datetime | None:
    return None if when is None else when.astimezone(tz)


def _day(local: datetime | None) -> Md:
    return _EMPTY if local is None else Md(f"{local.day} {local:%b %Y}")


class RelatedView:
    """Another outlet's coverage of the item, as templates see it."""

    # Fields live in __dict__ (see _lazy); what they are computed from in slots.
    __slots__ = ("__dict__", "_entry", "_tz")

    def __init__(self, entry: Related, tz: tzinfo) -> None:
        self._entry = entry
        self._tz = tz

    @_lazy
    def title(self) -> Md:
        return _md(shorten_text(collapse(self._entry.title), MAX_RELATED_TITLE))

    @_lazy
    def url(self) -> SafeUrl:
        return _url(self._entry.url)

    @_lazy
    def outlet(self) -> Md:
        """The outlet's name (or its domain when the article names none)."""
        return _md(_outlet_name(self._entry.provider, self._entry.url))

    @_lazy
    def domain(self) -> Md:
        return _md(_domain(self._entry.provider, self._entry.url))

    @_lazy
    def excerpt(self) -> Md:
        return _md(collapse(self._entry.excerpt))

    @_lazy
    def published(self) -> datetime | None:
        """The time, in the digest's time zone."""
        return _local(self._entry.published_at, self._tz)

    @_lazy
    def date(self) -> Md:
        """The day, like ``10 Jun 2020``."""
        return _day(self.published)

    @_lazy
    def quality(self) -> int | None:
        return self._entry.quality


class ItemView:
    """One article of the digest, as templates see it.

    ``index`` is the position of the article in the list being rendered (0-based), ``number``
    its position in the digest as readers see it (1-based).
    """

    # The fields computed from the article live in __dict__ (see _lazy); the rest in slots.
    __slots__ = ("__dict__", "_cut", "_source", "index", "number")

    def __init__(
        self,
        source: _Source,
        index: int,
        number: int,
        cut: Cut,
        fields: dict[str, Any] | None = None,
    ) -> None:
        self._source = source
        self._cut = cut
        self.index = index
        self.number = number
        if fields is not None:
            self.__dict__ = fields

    @_lazy
    def title(self) -> Md:
        cut = self._cut.title
        title = self._source.title
        return _md(title if cut is None else shorten_text(title, cut))

    @_lazy
    def url(self) -> SafeUrl | None:
        """The article's link, or None when it has none that is safe (or links are cut)."""
        link = safe_url(self._source.article.web_url) if self._cut.links else None
        return SafeUrl(link) if link else None

    @_lazy
    def excerpt(self) -> Md:
        cut = self._cut.excerpt
        excerpt = self._source.excerpt
        return _md(excerpt if cut is None else shorten_text(excerpt, cut))

    @_lazy
    def outlet(self) -> Md:
        """The outlet's name (or its domain when the article names none)."""
        article = self._source.article
        return _md(_outlet_name(article.provider, article.web_url))

    @_lazy
    def domain(self) -> Md:
        article = self._source.article
        return _md(_domain(article.provider, article.web_url))

    @_lazy
    def published(self) -> datetime | None:
        """The article's time, in the digest's time zone."""
        return _local(self._source.article.published_at, self._source.tz)

    @_lazy
    def date(self) -> Md:
        """The day, like ``10 Jun 2020`` (empty when the time is unknown)."""
        return _day(self.published)

    @_lazy
    def timestamp(self) -> int | None:
        """Unix seconds, for Discord's ``<t:...>`` formatting."""
        when = self._source.article.published_at
        return None if when is None else int(when.timestamp())

    @_lazy
    def category(self) -> Md:
        return _md(collapse(self._source.article.category))

    @_lazy
    def type(self) -> Md:
        return _md(collapse(self._source.article.type))

    @_lazy
    def topics(self) -> tuple[Md, ...]:
        return tuple(_md(collapse(t)) for t in self._source.article.topics)

    @_lazy
    def quality(self) -> int | None:
        return self._source.article.quality

    @_lazy
    def heat(self) -> int | None:
        return self._source.article.heat

    @_lazy
    def thumbnail(self) -> SafeUrl | None:
        """The first image with a safe http(s) URL."""
        if not self._cut.links:
            return None
        for image in self._source.article.images:
            link = safe_url(image.url)
            if link:
                return SafeUrl(link)
        return None

    @_lazy
    def related(self) -> tuple[RelatedView, ...]:
        """Other outlets' coverage: deduplicated by canonical URL, without the article's own
        URL, capped by the channel's ``related_limit``."""
        cut = self._cut
        entries = (
            self._source.related if cut.related is None else self._source.related[: cut.related]
        )
        if not cut.links:
            entries = ()
        return tuple(RelatedView(entry, self._source.tz) for entry in entries)

    @_lazy
    def _utc(self) -> str | None:
        """The article's time for an embed's ``timestamp`` (not shown to templates)."""
        when = self._source.article.published_at
        return None if when is None else when.astimezone(UTC).isoformat()


class DigestView:
    """The digest channel's settings, as templates see them."""

    def __init__(self, digest: DigestChannel) -> None:
        self.title = _md(collapse(digest.title))
        self.channel = digest.channel
        self.timezone = digest.timezone
        self.template = digest.template
        self.related_limit = digest.related_limit


def _public(cls: type[Any], *extra: str) -> frozenset[str]:
    return frozenset({n for n in vars(cls) if not n.startswith("_")} | set(extra))


# Attribute reads on views skip the sandbox's generic checks: these are all plain data.
_VIEW_ATTRIBUTES: Final[dict[type[Any], frozenset[str]]] = {
    ItemView: _public(ItemView),
    RelatedView: _public(RelatedView),
    DigestView: frozenset(("title", "channel", "timezone", "template", "related_limit")),
    # Jinja's loop variable: what the sandbox allows of it anyway (public, read-only).
    LoopContext: frozenset(
        (
            "index",
            "index0",
            "revindex",
            "revindex0",
            "first",
            "last",
            "length",
            "depth",
            "depth0",
            "previtem",
            "nextitem",
            "cycle",
            "changed",
        )
    ),
}


_FULL: Final = Cut()

# What a view reads of an article: every field but those kept only for export and moderation.
# Two articles equal in these fields render alike, so they share a _Source (Renderer._source).
_NOT_RENDERED: Final = frozenset(("published", "source", "body", "source_hash", "warnings"))
_rendered_fields: Final = attrgetter(
    *(f.name for f in dataclass_fields(Article) if f.name not in _NOT_RENDERED)
)


class _Source:
    """One article prepared for rendering in one time zone with one related limit: cleaned raw
    text, related links deduplicated, and the fields its full views share."""

    __slots__ = ("article", "excerpt", "fields", "memo", "related", "rendered", "title", "tz")

    def __init__(
        self, article: Article, rendered: tuple[Any, ...], related_limit: int, tz: tzinfo
    ) -> None:
        if article.body or article.source:  # kept in a cache: do not hold on to the file
            article = replace(article, body="", source="")
        self.rendered = rendered
        """What rendering reads of the article (see _rendered_fields)."""
        seen = {article.url}
        related: list[Related] = []
        for entry in article.related:
            if len(related) >= related_limit:
                break
            if safe_url(entry.url) is None:
                continue
            key = cached_canonical_url(entry.url)
            if key in seen:
                continue
            seen.add(key)
            related.append(entry)
        self.article = article
        self.tz = tz
        self.title = collapse(article.title)
        self.excerpt = collapse(article.excerpt)
        self.related = tuple(related)
        self.fields: dict[str, Any] = {}
        self.memo: dict[tuple[Any, int], Measured] = {}
        """The article as pure item blocks rendered it: by block functions and position."""

    def remember(self, key: tuple[Any, int], item: Measured) -> None:
        memo = self.memo
        if len(memo) >= _MEMO_PER_ARTICLE:  # positions or templates come and go: start over
            memo.clear()
        memo[key] = item

    def view(self, index: int, number: int, cut: Cut = _FULL) -> ItemView:
        """A view of the article; full views share their computed fields."""
        if cut is _FULL:
            return ItemView(self, index, number, cut, self.fields)
        return ItemView(self, index, number, cut)


# ---------------------------------------------------------------------------------------------
# The sandbox: budgets for loops, calls, operators and output.


class RenderLimit(Exception):
    """A template exceeded its budget of steps, time or output."""


class _Budget:
    __slots__ = ("deadline", "drew", "left")

    def __init__(self) -> None:
        self.left = MAX_STEPS
        self.deadline = time.monotonic() + MAX_SECONDS
        self.drew = False
        """Whether the ``random`` filter ran (since _Pass._item reset it): that item's output
        is a draw, not a function of the item, so it is not remembered."""

    def tick(self) -> None:
        self.left -= 1
        if self.left & 0x3FF == 0:
            self.check()

    def check(self) -> None:
        """Raise when the steps or the time are used up (every 1,024 steps)."""
        if self.left <= 0:
            raise RenderLimit(f"the template ran more than {MAX_STEPS:,} loop iterations and calls")
        if time.monotonic() > self.deadline:
            raise RenderLimit(f"the template took longer than {MAX_SECONDS:g} seconds")


_SMALL: Final = 128
_SMALL_SIZED: Final = frozenset((tuple, list, range))


def _ticking(iterable: Iterable[_T], budget: _Budget) -> Iterator[_T]:
    for value in iterable:
        budget.left -= 1  # _Budget.tick, inlined: this runs for every loop iteration
        if budget.left & 0x3FF == 0:
            budget.check()
        yield value


_BUDGET: ContextVar[_Budget | None] = ContextVar("newsbot_render_budget", default=None)


def _tick() -> None:
    """One call or filter: a step, and the clock checked every time, since a single call
    (``wordwrap`` over a long text, say) can be slow where a loop iteration is not."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.left -= 1
        budget.check()


def _check_size(size: int, what: str) -> None:
    if size > MAX_OUTPUT:
        raise SecurityError(f"{what} would build {size:,} characters or items")


def _text_size(value: object) -> int:
    return len(value) if isinstance(value, str) else len(str(value))


def _replace_size(text: str, old: object, new: object, count: object = -1) -> int:
    """The length of ``text.replace(old, new, count)``, computed without building it."""
    if not isinstance(old, str) or not isinstance(new, str):
        return len(text)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * (len(new) - len(old))


def _join_size(separator: str, parts: Sequence[object]) -> int:
    return sum(_text_size(part) for part in parts) + len(separator) * max(len(parts) - 1, 0)


def bounded_concat(parts: tuple[Any, ...], join: Callable[[Iterable[Any]], str]) -> str:
    """``a ~ b``: refused before it is built when the result would be too large (a doubling
    loop otherwise reaches gigabytes in a few dozen steps)."""
    _check_size(sum(_text_size(part) for part in parts), "'~'")
    return join(parts)


def _bounded_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SecurityError(f"range() of {len(rng):,} numbers; at most {MAX_RANGE:,}")
    return rng


# The name under which a compiled template records which of its blocks render the same for
# the same item (see _BoundedLoops and _memo_key).
_PURITY: Final = "newsbot_block_purity"
_PURE_NAMES: Final = frozenset(("item",))
"""The only context variable a block may read and still be remembered per item."""
_CLOCK_METHODS: Final = frozenset(("now", "today", "utcnow"))
"""Methods of dates and times that read the clock (refused to templates)."""


class _BoundedLoops(CodeGenerator):
    """Compiles every ``{% for %}`` to iterate through ``environment.bounded_iter``, and
    records which blocks are pure: their output a function of ``item`` alone.

    A block is pure when the compiler resolves no context variable for it but ``item`` (so no
    ``loop``, ``now``, ``count``, top-level ``{% set %}`` or macro, nor a global, which a
    top-level ``{% set %}`` could shadow), it imports nothing, and it does not use ``self``
    (the sandbox keeps the clock out of reach: see ``_Sandbox.is_safe_attribute``; the
    ``random`` filter, which ``map`` can also call by name, is caught as it runs: see
    ``_Budget.drew``). It may call other blocks and ``{% include %}`` templates
    named by a constant: they are checked when a digest renders, when the templates they
    resolve to are known (see _memo_key). The template's own top-level code, under the name
    ``""``, is judged alike (it is what an include runs).

    The verdicts, with the blocks and templates each block calls, are written into the
    compiled template (``newsbot_block_purity``) so that they travel with the block functions,
    and a reloaded template brings its own.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._impure: set[str] = set()
        self._calls: dict[str, set[str]] = {}
        self._includes: dict[str, set[str]] = {}

    def _taint(self, frame: Frame) -> None:
        self._impure.add(frame.block or "")

    def enter_frame(self, frame: Frame) -> None:
        super().enter_frame(frame)
        for action, name in frame.symbols.loads.values():
            if action == VAR_LOAD_RESOLVE and name not in _PURE_NAMES:
                self._taint(frame)

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        super().visit_Template(node, frame)
        verdicts = {
            name: (
                name not in self._impure,
                tuple(sorted(self._calls.get(name, ()))),
                tuple(sorted(self._includes.get(name, ()))),
            )
            for name in ("", *self.blocks)
        }
        self.writeline(f"{_PURITY} = {verdicts!r}")

    def visit_Extends(self, node: nodes.Extends, frame: Frame) -> None:
        self._taint(frame)  # only the top-level code: a template included is never a child
        super().visit_Extends(node, frame)

    def visit_Block(self, node: nodes.Block, frame: Frame) -> None:
        self._calls.setdefault(frame.block or "", set()).add(node.name)
        super().visit_Block(node, frame)

    def visit_Include(self, node: nodes.Include, frame: Frame) -> None:
        template = node.template
        if (
            isinstance(template, nodes.Const)
            and isinstance(template.value, str)
            and not node.ignore_missing
        ):
            self._includes.setdefault(frame.block or "", set()).add(template.value)
        else:
            self._taint(frame)
        super().visit_Include(node, frame)

    def visit_Import(self, node: nodes.Import, frame: Frame) -> None:
        self._taint(frame)
        super().visit_Import(node, frame)

    def visit_FromImport(self, node: nodes.FromImport, frame: Frame) -> None:
        self._taint(frame)
        super().visit_FromImport(node, frame)

    def visit_Name(self, node: nodes.Name, frame: Frame) -> None:
        if node.name == "self" and node.ctx == "load":
            self._taint(frame)
        super().visit_Name(node, frame)

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("bounded_iter"),
            [node.iter],
            [],
            None,
            None,
            lineno=node.lineno,
        )
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # str_join: this environment never autoescapes (the output is Discord Markdown).
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("), str_join)")

    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        # The loop guard is newsbot's own function (no template can name it): call it directly
        # rather than through the sandbox's checks for calls a template makes. Its argument is
        # compiled as usual, sandboxed.
        callee = node.node
        if isinstance(callee, nodes.EnvironmentAttribute) and callee.name == "bounded_iter":
            self.write("environment.bounded_iter(")
            self.visit(node.args[0], frame)
            self.write(")")
            return
        super().visit_Call(node, frame, forward_caller=forward_caller)


def _size(value: object) -> int | None:
    return len(value) if isinstance(value, str | list | tuple) else None


_SIZED_FILTERS: Final = ("batch", "center", "indent", "slice", "wordwrap", "format")


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in filter as a counted step that refuses to build huge values: numbers that
    size the result (``"x"|center(10**9)``), and ``replace``/``join`` results sized first."""
    sized = name in _SIZED_FILTERS
    formats = name == "format"
    pass_arg = getattr(function, "jinja_pass_arg", None)
    skip = 0 if pass_arg is None else 1  # the context or environment Jinja passes first

    def bounded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        values = args[skip:]
        if sized:
            for arg in (*values, *kwargs.values()):
                if isinstance(arg, int) and not isinstance(arg, bool) and arg > MAX_SEQUENCE:
                    raise SecurityError(f"a filter called with {arg:,}")
        if formats and values and isinstance(values[0], str) and _BIG_WIDTH.search(values[0]):
            raise SecurityError("formatting with a width of 10,000 or more")
        if name == "replace" and len(values) >= 3 and isinstance(values[0], str):
            _check_size(_replace_size(*values[:4]), "replace")
        elif name == "join" and values and isinstance(values[0], list | tuple):
            separator = values[1] if len(values) > 1 else kwargs.get("d", "")
            _check_size(_join_size(str(separator), values[0]), "join")
        return function(*args, **kwargs)

    functools.update_wrapper(bounded, function)
    return bounded


def _drawing(function: Callable[..., Any]) -> Callable[..., Any]:
    """The ``random`` filter, noting in the render's budget that it ran (see _Budget.drew)."""

    def drawing(*args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.drew = True
        return function(*args, **kwargs)

    functools.update_wrapper(drawing, function)
    return drawing


@pass_environment
def _truncate(environment: Any, value: object, length: int = 255, *args: Any) -> str:
    """Jinja's ``truncate``, applied to the text before escaping (so it never cuts an escape)."""
    if isinstance(value, Md):
        cut = do_truncate(environment, unescape_markdown(value), length, *args)
        return Md(escape_markdown(cut))
    return do_truncate(environment, str(value), length, *args)


def _huge_power(base: object, exponent: object) -> bool:
    if not isinstance(base, int | float) or not isinstance(exponent, int | float):
        return False
    return abs(base) > 1 and exponent > 0 and exponent * math.log2(abs(base) + 1) > 4_096


class _Sandbox(ImmutableSandboxedEnvironment):
    code_generator_class = _BoundedLoops
    intercepted_binops = frozenset(("*", "**", "%", "+"))
    bounded_concat = staticmethod(bounded_concat)

    @staticmethod
    def bounded_iter(iterable: Iterable[Any]) -> Iterable[Any]:
        """``iterable``, each item (and the loop itself, as a call) counting against the
        render's budget."""
        budget = _BUDGET.get()
        if budget is None:
            return iterable
        if type(iterable) in _SMALL_SIZED and len(iterable) <= _SMALL:  # type: ignore[arg-type]
            # A short list, tuple or range (the items of a digest, an item's related links):
            # its iterations are counted before it runs instead of one by one, and the clock
            # is checked as it starts (so at least as often as every 1,024 steps).
            budget.left -= len(iterable) + 1  # type: ignore[arg-type]
            budget.check()
            return iterable
        budget.tick()
        return _ticking(iterable, budget)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                size = _size(seq)
                if size is not None and isinstance(times, int) and size * times > MAX_SEQUENCE:
                    raise SecurityError(f"'*' would build {size * times:,} items or characters")
        elif operator == "**" and _huge_power(left, right):
            raise SecurityError("'**' result too large")
        elif operator == "%" and isinstance(left, str) and _BIG_WIDTH.search(left):
            raise SecurityError("'%' formatting with a width of 10,000 or more")
        elif operator == "%" and isinstance(left, str) and _STAR_WIDTH.search(left):
            raise SecurityError("'%' formatting with a '*' width")
        elif operator == "+":
            sizes = (_size(left), _size(right))
            if sizes[0] is not None and sizes[1] is not None:
                _check_size(sizes[0] + sizes[1], "'+'")
        return super().call_binop(context, operator, left, right)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # Templates get the time as ``now``; an article's date must not be a way to read the
        # clock (a block's output would no longer depend on its item alone).
        if attr in _CLOCK_METHODS and isinstance(obj, date | dt_time | type):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        names = _VIEW_ATTRIBUTES.get(type(obj))
        if names is not None and attribute in names:
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _tick()
        owner = getattr(getattr(obj, "__wrapped__", obj), "__self__", None)
        if isinstance(owner, str):
            for arg in (*args, *kwargs.values()):
                if isinstance(arg, int) and not isinstance(arg, bool) and arg > MAX_SEQUENCE:
                    raise SecurityError(f"a string method called with {arg:,}")
            method = getattr(obj, "__name__", "")
            if method in ("format", "format_map"):
                if _BIG_WIDTH.search(owner):
                    raise SecurityError("format() with a width of 10,000 or more")
                if _NESTED_FIELD.search(owner):
                    raise SecurityError("format() with a nested replacement field")
            elif method == "replace" and args:
                _check_size(_replace_size(owner, *args[:3]), "replace")
            elif method == "join" and args:
                parts = list(args[0])  # a generator would be consumed: join the list instead
                _check_size(_join_size(owner, parts), "join")
                args = (parts, *args[1:])
        return super().call(context, obj, *args, **kwargs)


# ---------------------------------------------------------------------------------------------
# Loaders


def builtin_templates() -> Traversable:
    """The folder of built-in templates: the installed ``bot.templates`` package, or the
    ``templates/`` folder of a source checkout."""
    try:
        root = resources.files("bot.templates")
        if root.joinpath("digest.md.j2").is_file():
            return root
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent / "templates"


class _BuiltinLoader(BaseLoader):
    """Loads the built-in templates from a package folder (works inside a wheel or zip too)."""

    def __init__(self, root: Traversable) -> None:
        self.root = root

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        pieces = template.split("/")
        if any(p in ("", ".", "..") or "\\" in p for p in pieces):
            raise TemplateNotFound(template)
        node = self.root
        for piece in pieces:
            node = node.joinpath(piece)
        if not node.is_file():
            raise TemplateNotFound(template)
        return node.read_text(encoding="utf-8"), f"default:{template}", lambda: True

    def list_templates(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.name.endswith(".j2"))


# ---------------------------------------------------------------------------------------------
# The block protocol: each protocol block is wrapped (at the front of ``Context.blocks``) so
# that what it renders is recorded here instead of flowing into the template's output.


class _ProtocolError(Exception):
    pass


class _Block:
    """What one item block rendered: its text, or the texts of its embed blocks."""

    __slots__ = ("drew", "fields", "index", "measured", "text")

    def __init__(self, index: int) -> None:
        self.index = index
        self.text = ""
        self.fields: dict[str, str] = {}
        self.measured: Measured | None = None
        """The item as an earlier digest rendered it (see _memo_key), when it was not run."""
        self.drew = False
        """Whether rendering it ran the ``random`` filter (see _Budget.drew)."""


_MemoKey = tuple[Callable[..., Any], ...]
_Stacks = dict[str, list[Callable[..., Any]]]


def _memo_key(blocks: _Stacks, environment: Environment) -> _MemoKey | None:
    """The functions the item block may run (blocks, and the templates it includes), when
    every one of them is pure (see _BoundedLoops), else None. An item rendered by the same
    functions renders the same, so it is remembered under them; a template edited and
    reloaded has new functions."""
    functions: list[Callable[..., Any]] = []
    todo: list[tuple[object, _Stacks, str]] = [(None, blocks, "item")]
    seen: set[tuple[int, str]] = set()
    while todo:
        owner, stacks, name = todo.pop()
        if (id(owner), name) in seen:
            continue
        seen.add((id(owner), name))
        stack = stacks.get(name, [])
        # Every definition, not only the one that runs: an override may call super().
        for function in stack[1:] if owner is None and name in _PROTOCOL else stack:
            namespace = getattr(function, "__globals__", {})
            verdicts = namespace.get(_PURITY)
            verdict = verdicts.get(name) if isinstance(verdicts, dict) else None
            if not verdict or not verdict[0]:
                return None
            functions.append(function)
            todo.extend((owner, stacks, call) for call in verdict[1])
            for include in verdict[2]:
                try:
                    template = environment.get_template(include, namespace.get("name"))
                except Exception:  # the render itself will say what is wrong
                    return None
                own: _Stacks = {n: [f] for n, f in template.blocks.items()}
                own[""] = [template.root_render_func]
                todo.append((template, own, ""))
    return tuple(functions)


class _Pass:
    """One render of a digest template: what its protocol blocks rendered."""

    __slots__ = ("contexts", "current", "footer", "header", "items", "memo_key", "seen", "unkeyed")

    def __init__(self, *, memo: bool = False) -> None:
        self.memo_key: _MemoKey | None = None
        """What the item block runs, when its output depends on the item alone (see
        _memo_key); None when items are not remembered."""
        self.unkeyed = memo
        """Whether memo_key is still to be worked out, at the first item (a parent template's
        blocks are only known once it is extended)."""
        self.header = ""
        self.footer = ""
        self.items: list[_Block] = []
        self.seen: set[str] = set()
        self.current: _Block | None = None
        """The item whose block is rendering."""
        self.contexts: dict[int, Context] = {}

    def wrapper(self, name: str) -> Callable[[Context], Iterator[str]]:
        # A wrapper renders its block when the template calls it and yields nothing: a plain
        # function returning an exhausted iterator, no generator to drive for each block.
        if name == "item":
            return self._item
        if name in _TOP_BLOCKS:
            return functools.partial(self._top, name)

        def block(context: Context) -> Iterator[str]:
            item = self.current
            if item is None:
                raise _ProtocolError(f"block {name} must be inside the item block")
            fields = item.fields
            if name in fields:
                raise _ProtocolError(f"block {name} rendered twice for one item")
            stack = context.blocks[name]
            if len(stack) == 1:
                fields[name] = ""
                return _NOTHING
            # _drain, inlined for the usual short block (this runs for every embed field)
            chunks = stack[1](context)
            parts = list(islice(chunks, _BATCH))
            text = "".join(parts) if len(parts) < _BATCH else _drain_rest(parts, chunks)
            if len(text) > MAX_OUTPUT:
                raise _too_long()
            fields[name] = text.strip()
            return _NOTHING

        return block

    def _top(self, name: str, context: Context) -> Iterator[str]:
        if self.current is not None:
            raise _ProtocolError(f"block {name} must be outside the item block")
        stack = context.blocks[name]
        text = _drain(stack[1](context)).strip() if len(stack) > 1 else ""
        if name in self.seen:
            raise _ProtocolError(f"block {name} rendered more than once")
        self.seen.add(name)
        if name == "header":
            self.header = text
        else:
            self.footer = text
        return _NOTHING

    def _item(self, context: Context) -> Iterator[str]:
        if self.current is not None:
            raise _ProtocolError("block item must not be inside the item block")
        view = context.resolve_or_missing("item")
        record = self.current = _Block(view.index if type(view) is ItemView else -1)
        if record.index >= 0:
            self.contexts[record.index] = context
            if self.unkeyed:
                self.unkeyed = False
                self.memo_key = _memo_key(context.blocks, context.environment)
            if self.memo_key is not None:
                record.measured = view._source.memo.get((self.memo_key, record.index))
                if record.measured is not None:
                    self.current = None
                    self.items.append(record)
                    return _NOTHING
        budget = _BUDGET.get()
        if budget is not None:
            budget.drew = False
        try:
            stack = context.blocks["item"]
            record.text = _drain(stack[1](context)).strip() if len(stack) > 1 else ""
        finally:
            self.current = None
        record.drew = budget is not None and budget.drew
        self.items.append(record)
        return _NOTHING


_NOTHING: Final[Iterator[str]] = iter(())
"""What a wrapped block yields (an exhausted iterator stays exhausted: one serves all)."""
_BATCH: Final = 64


def _too_long() -> RenderLimit:
    return RenderLimit(f"the template produced more than {MAX_OUTPUT:,} characters")


def _drain(chunks: Iterator[str]) -> str:
    """The output of a render function, refused past MAX_OUTPUT characters.

    Taken in batches of up to 64 chunks (most blocks are one batch), so what is held before
    the check is at most MAX_OUTPUT plus one batch.
    """
    parts = list(islice(chunks, _BATCH))
    text = "".join(parts) if len(parts) < _BATCH else _drain_rest(parts, chunks)
    if len(text) > MAX_OUTPUT:
        raise _too_long()
    return text


def _drain_rest(parts: list[str], chunks: Iterator[str]) -> str:
    """The text of ``parts`` (a full batch) and the rest of ``chunks``; see _drain."""
    size = sum(map(len, parts))
    while size <= MAX_OUTPUT:
        batch = list(islice(chunks, _BATCH))
        if not batch:
            return "".join(parts)
        size += sum(map(len, batch))
        parts += batch
    raise _too_long()


def _embed(block: _Block, view: ItemView) -> dict[str, Any]:
    f = block.fields
    embed: dict[str, Any] = {}
    title = f.get("embed_title")
    if title:
        embed["title"] = _plain(title)
    url = view.url
    if url:
        embed["url"] = str(url)
    description = f.get("embed_description")
    if description:
        embed["description"] = description
    color = f.get("embed_color")
    if color:
        embed["color"] = _color(color)
    author = f.get("embed_author")
    if author:
        embed["author"] = {"name": _plain(author)}
    thumbnail = view.thumbnail
    if thumbnail:
        embed["thumbnail"] = {"url": str(thumbnail)}
    related = f.get("embed_related")
    if related:
        name = f.get("embed_related_name") or "Related"
        embed["fields"] = [{"name": name, "value": related, "inline": False}]
    footer = f.get("embed_footer")
    if footer:
        embed["footer"] = {"text": _plain(footer)}
    timestamp = view._utc
    if timestamp is not None:
        embed["timestamp"] = timestamp
    return embed


@lru_cache(maxsize=256)
def _color(text: str) -> int:
    color = _COLOR.fullmatch(text)
    if color is None:
        raise _ProtocolError(f"embed_color must be like #5865F2, got {text!r}")
    return int(color.group(1), 16)


def _rendered(block: _Block, view: ItemView) -> RenderedItem:
    if block.fields:
        return RenderedItem(view.index, "", _embed(block, view))
    return RenderedItem(view.index, block.text)


# ---------------------------------------------------------------------------------------------
# Errors


def _location(tb: TracebackType | None) -> tuple[str | None, int | None]:
    """The innermost template frame in ``tb``: its file name and template line."""
    where: tuple[str | None, int | None] = (None, None)
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if isinstance(template, Template):
            where = (
                template.filename or template.name,
                template.get_corresponding_lineno(tb.tb_lineno),
            )
        tb = tb.tb_next
    return where


def _problem(exc: BaseException, template: str) -> TemplateProblem:
    if isinstance(exc, TemplateProblem):
        return exc
    if isinstance(exc, TemplateSyntaxError):
        return TemplateProblem(
            exc.filename or exc.name or template, exc.lineno, f"syntax error: {exc.message}"
        )
    filename, line = _location(exc.__traceback__)
    where = filename or template
    if isinstance(exc, TemplateNotFound):
        problem = f"template {exc.name!r} not found"
    elif isinstance(exc, SecurityError):
        problem = f"not allowed in the template sandbox: {exc}"
    elif isinstance(exc, UndefinedError | RenderLimit):
        problem = str(exc)
    elif isinstance(exc, RecursionError):
        problem = "templates include, extend or call each other without end (recursion too deep)"
    else:
        problem = f"{type(exc).__name__}: {exc}"
    return TemplateProblem(where, line, problem)


# ---------------------------------------------------------------------------------------------
# The renderer


def _timezone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; showing dates in UTC", name)
        return UTC


class Renderer:
    """Renders digests and single items from the operator's templates and the built-ins."""

    def __init__(self, template_dir: Path | None = None) -> None:
        if template_dir is not None and not Path(template_dir).is_dir():
            raise TemplateProblem(str(template_dir), None, "template folder not found")
        self.template_dir = template_dir
        builtin = _BuiltinLoader(builtin_templates())
        loaders: list[BaseLoader] = [PrefixLoader({"default": builtin}, delimiter=":")]
        if template_dir is not None:
            loaders.append(FileSystemLoader(template_dir))
        loaders.append(builtin)
        self._builtin = builtin
        self._names: dict[str, str] = {}  # short name -> the file it resolved to
        # Articles prepared for rendering, most recently used last (see _source).
        self._sources: OrderedDict[tuple[str, str, int, tzinfo], _Source] = OrderedDict()
        self.env = _Sandbox(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            finalize=_finalize,
        )
        self.env.globals.pop("lipsum", None)
        self.env.globals["range"] = _bounded_range
        for name, function in list(self.env.filters.items()):
            self.env.filters[name] = _bounded_filter(name, function)
        self.env.filters.update(
            md=_md,
            url=_url,
            plain=_plain,
            shorten=_shorten,
            link=_link,
            truncate=_truncate,
            random=_drawing(self.env.filters["random"]),
        )

    # -- templates -----------------------------------------------------------------------------

    def template(self, name: str) -> Template:
        """The compiled template for a short or full name (see the module docstring)."""
        known = self._names.get(name)
        if known is not None:
            try:
                return self.env.get_template(known)
            except Exception as exc:
                raise _problem(exc, known) from None
        candidates = [name] if name.endswith(".j2") else [f"{name}.md.j2", f"{name}.j2"]
        for candidate in candidates:
            try:
                template = self.env.get_template(candidate)
            except TemplateNotFound as exc:
                if exc.name != candidate:  # an {% extends %} inside it is missing
                    raise _problem(exc, candidate) from None
                continue
            except Exception as exc:
                raise _problem(exc, candidate) from None
            self._names[name] = candidate
            return template
        folder = f"{self.template_dir} or the built-ins" if self.template_dir else "the built-ins"
        raise TemplateProblem(name, None, f"no template {' or '.join(candidates)} in {folder}")

    # -- rendering -----------------------------------------------------------------------------

    def _source(self, article: Article, related_limit: int, tz: tzinfo) -> _Source:
        """``article`` prepared for rendering. Articles are immutable, so the preparation and
        the fields its views compute are kept for the next digest with the same article (a
        preview, then the post). An article is found again by what rendering reads of it, not
        by the object, so an equal article loaded again from the store finds them too; the
        lookup hashes a few strings and compares the rest (fast when it is the same object)."""
        key = (article.url, article.title, related_limit, tz)
        rendered = _rendered_fields(article)
        sources = self._sources
        source = sources.get(key)
        if source is not None and source.rendered == rendered:
            with contextlib.suppress(KeyError):  # another thread dropped it meanwhile
                sources.move_to_end(key)
            return source
        source = sources[key] = _Source(article, rendered, related_limit, tz)
        if len(sources) > MAX_PREPARED:
            sources.popitem(last=False)
        return source

    def clear_caches(self) -> None:
        """Forget the prepared articles and the memoised escapes, links and URLs (for
        benchmarks of a first render)."""
        self._sources.clear()
        clear_caches()

    def _context(
        self,
        template: Template,
        views: Sequence[ItemView],
        digest: DigestChannel,
        local_now: datetime,
        ref: str,
    ) -> Context:
        count = len(views)
        context = template.new_context(
            {
                "digest": DigestView(digest),
                "items": tuple(views),
                "count": count,
                "date": Md(f"{local_now:%A} {local_now.day} {local_now:%B %Y}"),
                "now": local_now,
                "ref": ref,
            }
        )
        return context

    def _run(self, chunks: Callable[[], Iterator[str]], where: str) -> None:
        token = _BUDGET.set(_Budget())
        try:
            _drain(chunks())
        except _ProtocolError as exc:
            raise TemplateProblem(where, None, str(exc)) from None
        except Exception as exc:
            raise _problem(exc, where) from None
        finally:
            _BUDGET.reset(token)

    def _render(
        self,
        articles: Sequence[Article],
        digest: DigestChannel,
        now: datetime,
        ref: str,
        budget: int,
    ) -> tuple[str, list[Measured], str, str]:
        """Header, items (each fitted to ``budget``), footer, and the template's file name."""
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        template = self.template(digest.template)
        where = template.filename or template.name or digest.template
        tz = _timezone(digest.timezone)
        limit = max(digest.related_limit, 0)
        sources = [self._source(a, limit, tz) for a in articles]
        views = [s.view(i, i + 1) for i, s in enumerate(sources)]
        context = self._context(template, views, digest, now.astimezone(tz), ref)
        out = _Pass(memo=True)
        for name in PROTOCOL_BLOCKS:
            context.blocks.setdefault(name, []).insert(0, out.wrapper(name))
        self._run(lambda: template.root_render_func(context), where)
        indices = [block.index for block in out.items]
        if indices != list(range(len(articles))):
            raise TemplateProblem(where, None, _order_problem(indices, len(articles)))
        items: list[Measured] = []
        memo_key = out.memo_key
        for block, source, view in zip(out.items, sources, views, strict=True):
            item = block.measured
            if item is None:
                rendered = (
                    _item_or_problem(block, view, where)
                    if block.fields
                    else RenderedItem(view.index, block.text)
                )
                item = measure(rendered)
                if memo_key is not None and not block.drew:
                    source.remember((memo_key, view.index), item)
            if not item.fits(budget):  # rendered again, shorter: only when it must be
                item = measure(self._fit(out.contexts[view.index], source, view, budget, where))
            items.append(item)
        return out.header, items, out.footer, where

    def _fit(
        self,
        context: Context,
        source: _Source,
        view: ItemView,
        budget: int,
        where: str,
    ) -> RenderedItem:
        def render(cut: Cut) -> RenderedItem:
            shorter = source.view(view.index, view.number, cut)
            derived = context.derived({"item": shorter})
            out = _Pass()
            derived.blocks["item"][0] = out.wrapper("item")
            for name in _EMBED_BLOCKS:
                if name in derived.blocks:
                    derived.blocks[name][0] = out.wrapper(name)
            self._run(lambda: derived.blocks["item"][0](derived), where)
            if len(out.items) != 1:
                raise TemplateProblem(where, None, "the item block did not render its item")
            return _item_or_problem(out.items[0], shorter, where)

        fitted = fit_item(
            render,
            lambda item: fits_alone(item, budget),
            excerpt=len(source.excerpt),
            related=len(source.related),
            title=len(source.title),
        )
        if fitted is None:
            raise TemplateProblem(
                where,
                None,
                f"item {view.number} does not fit in one Discord message even with its excerpt,"
                " related links and title shortened (is the item block too long?)",
            )
        return fitted

    def render_digest(
        self, articles: Sequence[Article], digest: DigestChannel, *, now: datetime, ref: str
    ) -> list[PackedMessage]:
        """The messages of one digest of ``articles`` (in this order), ready to post.

        Each :class:`PackedMessage` has a message-create ``payload`` (``content``, ``embeds``
        when there are any, ``allowed_mentions`` that allow nothing) and the ``item_indices``
        of the articles in it. ``ref`` (1-16 letters, digits or hyphens) appears in every
        message's content. No articles: no messages.
        """
        check_ref(ref)
        if not articles:
            return []
        budget = content_budget(ref, len(articles) + 2)
        header, items, footer, where = self._render(articles, digest, now, ref, budget)
        for what, text in (("header", header), ("footer", footer)):
            if limits.length(text) > budget:
                raise TemplateProblem(
                    where,
                    None,
                    f"the {what} block renders {limits.length(text):,} characters"
                    f" (at most {budget:,})",
                )
        return pack_measured(header, items, footer, ref=ref)

    def render_item(self, article: Article, digest: DigestChannel) -> dict[str, Any]:
        """One article as the digest template shows it, as a single message payload."""
        _, items, _, _ = self._render(
            [article], digest, datetime.now(UTC), "item", limits.CONTENT_MAX
        )
        item = items[0].item
        payload: dict[str, Any] = {"content": item.text}
        if item.embed is not None:
            payload["embeds"] = [copy_embed(item.embed)]
        payload["allowed_mentions"] = allowed_mentions()
        return payload

    def renders_embeds(self, digest: DigestChannel) -> bool:
        """Whether the channel's template makes embeds (tried on the sample article). A broken
        template says False here: ``check-templates`` and the first digest report it."""
        try:
            return "embeds" in self.render_item(sample_article(), digest)
        except TemplateProblem:
            return False

    # -- checking ------------------------------------------------------------------------------

    def template_names(self) -> list[str]:
        """Digest templates to check: the built-ins and every ``.j2`` at the top of the operator's
        folder that is not a partial (partials start with ``_``; files in subfolders are taken
        for partials too)."""
        names = [f"default:{n}" for n in self._builtin.list_templates() if not n.startswith("_")]
        names += [n for n in self._operator_files() if "/" not in n and not n.startswith("_")]
        return names

    def _operator_files(self) -> list[str]:
        if self.template_dir is None:
            return []
        root = Path(self.template_dir)
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.j2") if p.is_file())

    def check(self, articles: Sequence[Article], digests: Sequence[DigestChannel]) -> list[str]:
        """Compile every template and render every digest template (built-ins, operator
        overrides) for every digest channel against ``articles`` (a built-in sample when
        empty); the problems as ``file:line: problem`` strings."""
        problems: list[str] = []

        def note(exc: TemplateProblem) -> None:
            if str(exc) not in problems:
                problems.append(str(exc))

        sample = list(articles) or [sample_article()]
        channels = list(digests) or [DigestChannel(channel=None)]
        everything = [f"default:{n}" for n in self._builtin.list_templates()]
        everything += self._operator_files()
        for name in everything:
            try:
                self.env.get_template(name)
            except Exception as exc:
                note(_problem(exc, name))
        now = datetime.now(UTC)
        for channel in channels:
            try:
                self.template(channel.template)
            except TemplateProblem as exc:
                note(exc)
            for name in self.template_names():
                digest = replace(channel, template=name)
                try:
                    self.render_digest(sample, digest, now=now, ref="check")
                    self.render_item(sample[0], digest)
                except TemplateProblem as exc:
                    note(exc)
        return problems


def _item_or_problem(block: _Block, view: ItemView, where: str) -> RenderedItem:
    try:
        return _rendered(block, view)
    except _ProtocolError as exc:
        raise TemplateProblem(where, None, str(exc)) from None


def _order_problem(indices: list[int], count: int) -> str:
    if not indices:
        return (
            "no item block was rendered: put {% block item scoped %}...{% endblock %}"
            " inside {% for item in items %}"
        )
    if -1 in indices:
        return "the item block must be a scoped block inside {% for item in items %}"
    return (
        f"the item block must render each of the {count} items once, in order"
        f" (it rendered items {', '.join(str(i + 1) for i in indices[:20])})"
    )


def clear_caches() -> None:
    """Forget the memoised escapes, links and URLs (for benchmarks of a first render)."""
    from bot import markdown, pack

    for cached in (
        markdown._escape_cached,
        markdown._masked_link_cached,
        _plain_cached,
        _link_cached,
        pack.cached_canonical_url,
    ):
        cached.cache_clear()


def sample_article() -> Article:
    """A small article with related coverage, for checking templates without a queue."""
    return Article(
        url="https://news.example.com/2024/05/sample",
        web_url="https://news.example.com/2024/05/sample",
        title="Sample *story* with [markdown] and @everyone",
        excerpt="A short excerpt <@123> with `code` and a link https://example.com/x.",
        published_at=datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
        category="news",
        type="article",
        provider=Provider(name="Example News", domain="news.example.com"),
        topics=("AI", "Policy"),
        quality=70,
        heat=5,
        related=(
            Related(
                title="Another outlet's take",
                url="https://other.example.org/take",
                provider=Provider(name="Other Outlet", domain="other.example.org"),
            ),
        ),
    )
