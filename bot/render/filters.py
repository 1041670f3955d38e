"""The two string types that carry escaping through templates, and the filters built on them.

Templates never see raw article text: views hold :class:`Md` (already escaped for Discord
Markdown) and :class:`SafeUrl` (passed :func:`~bot.render.escape.safe_url`). The filters keep
that guarantee: ``|md`` escapes anything else and leaves escaped text alone, ``|url`` passes
only http(s), ``label|link(url)`` makes a masked link whose label shows literally, ``|plain``
removes escapes for places that render no Markdown (still unable to mention or link),
``|shorten(n)`` and ``|truncate`` cut the text before escaping, so neither ever cuts an escape.
"""

from __future__ import annotations

from typing import Any

from jinja2 import pass_environment
from jinja2.filters import do_truncate

from bot.articles.urls import safe_url
from bot.render.escape import (
    clean_text,
    escape_markdown,
    masked_link,
    neutralize,
    unescape_markdown,
)
from bot.render.pack import shorten_text


class Md(str):
    """Text that is already escaped for Discord Markdown (safe to put anywhere in a message)."""

    __slots__ = ()


class SafeUrl(str):
    """A URL that passed :func:`~bot.render.escape.safe_url` (http(s), safe inside ``<...>``)."""

    __slots__ = ()


def md(value: object) -> Md:
    if isinstance(value, Md):
        return value
    return Md("") if value is None else Md(escape_markdown(str(value)))


def url(value: object) -> SafeUrl:
    if isinstance(value, SafeUrl):
        return value
    return SafeUrl(safe_url(value) or "")


def plain(value: object) -> str:
    return "" if value is None else neutralize(unescape_markdown(str(value)))


def link(label: object, target: object) -> Md:
    raw = unescape_markdown(label) if isinstance(label, Md) else str(label or "")
    return Md(masked_link(raw, target))


def shorten(value: object, length: int = 400) -> Md:
    if isinstance(value, Md) and len(value) <= length:  # the raw text is never longer
        return value
    raw = unescape_markdown(value) if isinstance(value, Md) else clean_text(str(value))
    return Md(escape_markdown(shorten_text(raw, max(int(length), 0))))


@pass_environment
def truncate(environment: Any, value: object, length: int = 255, *args: Any) -> str:
    """Jinja's ``truncate``, applied to the text before escaping."""
    if isinstance(value, Md):
        return Md(
            escape_markdown(do_truncate(environment, unescape_markdown(value), length, *args))
        )
    return do_truncate(environment, str(value), length, *args)


FILTERS: dict[str, Any] = {
    "md": md,
    "url": url,
    "plain": plain,
    "shorten": shorten,
    "link": link,
    "truncate": truncate,
}
