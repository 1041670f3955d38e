"""The block protocol: which blocks of a digest template newsbot renders, and how.

Only the output of these blocks is used; anything else the template writes is ignored:

- ``header`` (starts the first message) and ``footer`` (ends the last one), once each;
- ``thread_name``, once: the name of the digest's forum post or discussion thread (plain
  text, one line, at most 100 characters), when its channel makes one;
- ``item``, once per article, with ``item`` set to that article's view. Its text is the
  item's Markdown, unless the template (or one it extends) defines embed blocks:
- ``embed_title``, ``embed_description``, ``embed_author``, ``embed_footer``, ``embed_color``
  (``#RRGGBB``), ``embed_related_name`` and ``embed_related`` (one field): then each item is
  one embed, made of those blocks rendered for it. Discord renders no Markdown in an embed's
  title, author and footer, so newsbot turns those into plain text (escapes removed, mentions
  still neutralised). newsbot sets the embed's ``url`` (the article's link), ``thumbnail``
  (its first usable image) and ``timestamp`` (its time).

First the template's top-level code runs once with those blocks skipped, as Jinja runs it
when it renders a whole template: that defines its macros and top-level ``{% set %}``
variables, and an ``{% extends %}`` brings in the blocks of its parents. Then each block is
rendered on its own through Jinja's block functions (``Template.blocks``), in a context of the
digest's variables, the top-level names and, for an item, ``item``. An item is a block of its
own, so ``loop`` is not defined in it: use ``item.number``. Rendering an item again with a
shorter view is a plain second call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from jinja2 import Template
from jinja2.runtime import Context

from bot.articles import Article
from bot.errors import TemplateProblem
from bot.render.environment import problem
from bot.render.filters import plain
from bot.render.pack import RenderedItem
from bot.render.sandbox import RenderLimit, drain
from bot.render.views import ItemView, utc_timestamp

EMBED_BLOCKS: Final = (
    "embed_title",
    "embed_description",
    "embed_author",
    "embed_footer",
    "embed_color",
    "embed_related_name",
    "embed_related",
)
_TOP_LEVEL: Final = ("header", "item", "footer", "thread_name")
_COLOR: Final = re.compile(r"#?([0-9a-fA-F]{6})")

BlockFunction = Callable[[Context], Iterator[str]]


def _skipped(context: Context) -> Iterator[str]:
    return iter(())


def _origin(function: BlockFunction, where: str) -> tuple[str, int | None]:
    """The template file and line where block ``function`` starts."""
    template = getattr(function, "__globals__", {}).get("__jinja_template__")
    if not isinstance(template, Template):
        return where, None
    line = template.get_corresponding_lineno(function.__code__.co_firstlineno)
    return template.filename or template.name or where, line


@dataclass(frozen=True, slots=True)
class Blocks:
    """One digest template, ready to render block by block."""

    template: Template
    where: str
    stacks: Mapping[str, list[BlockFunction]]
    """Every block's definitions, the template's own first, then its parents' (for
    ``super()``)."""
    names: Mapping[str, Any]
    """The digest's variables and the template's top-level names."""

    @classmethod
    def load(cls, template: Template, variables: Mapping[str, Any]) -> Blocks:
        """Run ``template``'s top-level code (see the module docstring) in a context of
        ``variables``. Raises the template's error as it is; the caller locates it."""
        where = template.filename or template.name or "template"
        context = template.new_context(dict(variables))
        for name in _TOP_LEVEL:
            context.blocks.setdefault(name, []).insert(0, _skipped)
        drain(template.root_render_func(context))
        stacks = {
            name: [f for f in functions if f is not _skipped]
            for name, functions in context.blocks.items()
        }
        if not stacks.get("item"):
            raise TemplateProblem(
                where,
                None,
                "no item block: define {% block item %}...{% endblock %}, rendered once per"
                " article",
            )
        return cls(template, where, stacks, {**variables, **context.get_exported()})

    @property
    def makes_embeds(self) -> bool:
        return any(self.stacks.get(name) for name in EMBED_BLOCKS)

    def context(self, **extra: Any) -> Context:
        """A context to render blocks in: the digest's and the template's names, and
        ``extra``."""
        context = self.template.new_context({**self.names, **extra})
        context.blocks.update((block, list(f)) for block, f in self.stacks.items())
        return context

    def render(self, name: str, context: Context | None = None) -> str:
        """The stripped output of block ``name`` (empty when the template has none)."""
        functions = self.stacks.get(name)
        if not functions:
            return ""
        try:
            return drain(functions[0](context or self.context())).strip()
        except RenderLimit as exc:  # too much output: no template line is on the traceback
            raise problem(exc, *_origin(functions[0], self.where)) from None

    def item(self, article: Article, view: ItemView) -> RenderedItem:
        """One article rendered as text or as an embed."""
        context = self.context(item=view)
        if not self.makes_embeds:
            return RenderedItem(view.index, self.render("item", context))
        fields = {name: self.render(name, context) for name in EMBED_BLOCKS}
        return RenderedItem(view.index, "", self._embed(fields, article, view))

    def _embed(self, f: dict[str, str], article: Article, view: ItemView) -> dict[str, Any]:
        embed: dict[str, Any] = {}
        if f["embed_title"]:
            embed["title"] = plain(f["embed_title"])
        if view.url:
            embed["url"] = str(view.url)
        if f["embed_description"]:
            embed["description"] = f["embed_description"]
        if f["embed_color"]:
            color = _COLOR.fullmatch(f["embed_color"])
            if color is None:
                raise TemplateProblem(
                    self.where, None, f"embed_color must be like #5865F2, got {f['embed_color']!r}"
                )
            embed["color"] = int(color.group(1), 16)
        if f["embed_author"]:
            embed["author"] = {"name": plain(f["embed_author"])}
        if view.thumbnail:
            embed["thumbnail"] = {"url": str(view.thumbnail)}
        if f["embed_related"]:
            name = f["embed_related_name"] or "Related"
            embed["fields"] = [{"name": name, "value": f["embed_related"], "inline": False}]
        if f["embed_footer"]:
            embed["footer"] = {"text": plain(f["embed_footer"])}
        timestamp = utc_timestamp(article)
        if timestamp is not None:
            embed["timestamp"] = timestamp
        return embed
