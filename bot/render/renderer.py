"""The renderer: a digest of articles in, Discord message payloads out.

:meth:`Renderer.render_digest` renders the channel's template block by block
(:mod:`bot.render.blocks`) from views of the articles (:mod:`bot.render.views`), shortens an
item that does not fit one message by rendering it again from a shorter view
(:func:`~bot.render.pack.fit_item`), then packs the messages (:func:`~bot.render.pack.pack`).
Everything runs inside one sandbox budget (:mod:`bot.render.sandbox`), and every failure is a
:class:`~bot.errors.TemplateProblem` naming the template file and line.

Rendering is pure and synchronous; async callers run it in a worker thread
(``asyncio.to_thread``), so a slow template never stalls the bot's event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Template

from bot import limits
from bot.articles import Article, Provider, Related
from bot.config import DigestChannel
from bot.errors import TemplateProblem
from bot.render import pack
from bot.render.blocks import Blocks
from bot.render.environment import (
    BuiltinLoader,
    builtin_templates,
    find_template,
    make_environment,
    problem,
)
from bot.render.filters import Md, plain
from bot.render.sandbox import budget
from bot.render.views import DigestView, ItemView, full_lengths, item_view

log = logging.getLogger(__name__)


def _timezone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; showing dates in UTC", name)
        return UTC


def default_thread_name(digest: DigestChannel, created_at: datetime) -> str:
    """A digest's post or thread without a ``thread_name`` block is named like the digest: its
    title and its day in the channel's time zone, within Discord's 100 characters."""
    local = created_at.astimezone(_timezone(digest.timezone))
    day = f" · {local.day} {local:%B %Y}"
    return pack.shorten_text(digest.title, limits.THREAD_NAME_MAX - len(day)) + day


class Renderer:
    """Renders digests and single items from the operator's templates and the built-ins."""

    def __init__(self, template_dir: Path | None = None) -> None:
        if template_dir is not None and not Path(template_dir).is_dir():
            raise TemplateProblem(str(template_dir), None, "template folder not found")
        self.template_dir = template_dir
        self._builtin = BuiltinLoader(builtin_templates())
        self.env = make_environment(template_dir, self._builtin)

    def template(self, name: str) -> Template:
        """The compiled template for a channel's short or full template name."""
        return find_template(self.env, name, self.template_dir)

    def _blocks(
        self,
        digest: DigestChannel,
        articles: Sequence[Article],
        now: datetime,
        ref: str,
        retracted: Mapping[int, str] | None = None,
    ) -> tuple[Blocks, list[ItemView], tzinfo]:
        """The channel's template loaded for a digest of ``articles``, their full views, and
        the channel's time zone; ``retracted`` maps an article's index to why it was."""
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        template = self.template(digest.template)
        where = template.filename or template.name or digest.template
        tz = _timezone(digest.timezone)
        local = now.astimezone(tz)
        length = digest.excerpt_length
        gone = retracted or {}
        views = [
            item_view(
                article,
                index,
                tz,
                digest.related_limit,
                pack.Cut(),
                excerpt_length=length,
                retraction=gone.get(index),
            )
            for index, article in enumerate(articles)
        ]
        variables = {
            "digest": DigestView.of(digest),
            "items": tuple(views),
            "count": len(views),
            "date": Md(f"{local:%A} {local.day} {local:%B %Y}"),
            "now": local,
            "ref": ref,
        }
        try:
            return Blocks.load(template, variables), views, tz
        except Exception as exc:
            raise problem(exc, where) from None

    def _items(
        self,
        blocks: Blocks,
        articles: Sequence[Article],
        views: Sequence[ItemView],
        digest: DigestChannel,
        tz: tzinfo,
        room: int,
        only: Sequence[int] | None = None,
    ) -> list[pack.Measured]:
        """Every article (or those at the indices ``only``) rendered, each shortened until it
        fits ``room`` characters alone."""
        measured: list[pack.Measured] = []
        for index in range(len(articles)) if only is None else only:
            article, view = articles[index], views[index]
            render = self._renderer(blocks, article, view, digest, tz)

            item = pack.measure(blocks.item(article, view))
            if not item.fits(room):
                excerpt, related, title = full_lengths(
                    article, digest.related_limit, digest.excerpt_length
                )
                fitted = pack.fit_item(
                    render,
                    lambda candidate: pack.fits_alone(candidate, room),
                    excerpt=excerpt,
                    related=related,
                    title=title,
                )
                if fitted is None:
                    raise TemplateProblem(
                        blocks.where,
                        None,
                        f"item {index + 1} does not fit in one Discord message even with its"
                        " excerpt, related links and title shortened (is the item block too"
                        " long?)",
                    )
                item = pack.measure(fitted)
            measured.append(item)
        return measured

    @staticmethod
    def _renderer(
        blocks: Blocks, article: Article, view: ItemView, digest: DigestChannel, tz: tzinfo
    ) -> Callable[[pack.Cut], pack.RenderedItem]:
        """How :func:`~bot.render.pack.fit_item` renders ``article`` shorter."""
        limit, length = digest.related_limit, digest.excerpt_length
        retraction = str(view.retraction_reason) if view.retracted else None

        def render(cut: pack.Cut) -> pack.RenderedItem:
            shorter = item_view(
                article, view.index, tz, limit, cut, excerpt_length=length, retraction=retraction
            )
            return blocks.item(article, shorter)

        return render

    def render_part(
        self,
        articles: Sequence[Article],
        digest: DigestChannel,
        *,
        now: datetime,
        ref: str,
        indices: Sequence[int],
        first: bool,
        last: bool,
        retracted: Mapping[int, str] | None = None,
        current: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One posted message of a digest of ``articles`` rendered again, for an edit (a
        correction, a retraction): the items at ``indices`` only, so no item moves to another
        message; the header (and ping) when it is the ``first`` message, the footer when the
        ``last``, as :meth:`render_digest` made them (same ``now`` and ``ref``). When the items
        no longer fit together, one is shortened as packing does: first one whose rendering
        is not in ``current`` (the message as it reads), so the others stay as they were.
        ``allowed_mentions`` allow nothing: an edit pings no one."""
        pack.check_ref(ref)
        with budget():
            blocks, views, tz = self._blocks(digest, articles, now, ref, retracted)
            try:
                header = blocks.render("header") if first else ""
                items = self._items(
                    blocks, articles, views, digest, tz, pack.CONTENT_BUDGET, only=indices
                )
                footer = blocks.render("footer") if last else ""
                shown = pack.with_ping(header, digest.ping_role) if first else ""
                message = pack.assemble(shown, items, footer)
                if message is None:
                    parts = (shown, footer)
                    shorter = self._shortened(
                        blocks, articles, views, digest, tz, items, parts, current
                    )
                    message = pack.assemble(shown, shorter, footer)
            except TemplateProblem:
                raise
            except Exception as exc:
                raise problem(exc, blocks.where) from None
        if message is None:
            raise TemplateProblem(
                blocks.where, None, "the message no longer fits even with an item shortened"
            )
        payload = message.payload
        if last and digest.notify_button and digest.ping_role is not None:
            payload["components"] = [pack.notify_row(digest.ping_role)]
        return payload

    def _shortened(
        self,
        blocks: Blocks,
        articles: Sequence[Article],
        views: Sequence[ItemView],
        digest: DigestChannel,
        tz: tzinfo,
        items: list[pack.Measured],
        parts: tuple[str, str],
        current: Mapping[str, Any] | None,
    ) -> list[pack.Measured]:
        """``items`` with one of them shortened to fit beside the others and the message's
        header and footer (``parts``): a changed one (not in ``current``) first, the longest
        first."""
        content = str((current or {}).get("content") or "")
        embeds = list((current or {}).get("embeds") or [])
        header, footer = parts

        def unchanged(m: pack.Measured) -> bool:
            item = m.item
            return item.embed in embeds if item.embed is not None else item.text in content

        order = sorted(
            range(len(items)),
            key=lambda k: (unchanged(items[k]), -items[k].text_length - items[k].embed_length),
        )
        for k in order:
            index = items[k].item.index
            article = articles[index]
            before, after = items[:k], items[k + 1 :]
            excerpt, related, title = full_lengths(
                article, digest.related_limit, digest.excerpt_length
            )

            def fits(
                candidate: pack.RenderedItem,
                before: list[pack.Measured] = before,
                after: list[pack.Measured] = after,
            ) -> bool:
                together = [*before, pack.measure(candidate), *after]
                return pack.assemble(header, together, footer) is not None

            fitted = pack.fit_item(
                self._renderer(blocks, article, views[index], digest, tz),
                fits,
                excerpt=excerpt,
                related=related,
                title=title,
            )
            if fitted is not None:
                return [*before, pack.measure(fitted), *after]
        return items

    def render_digest(
        self, articles: Sequence[Article], digest: DigestChannel, *, now: datetime, ref: str
    ) -> list[pack.PackedMessage]:
        """The messages of one digest of ``articles`` (in this order), ready to post.

        Each :class:`~bot.render.pack.PackedMessage` has a message-create ``payload``
        (``content``, ``embeds`` when there are any, ``allowed_mentions`` that allow nothing)
        and the ``item_indices`` of the articles in it. ``ref`` (1-16 letters, digits or
        hyphens) is the digest's identity, for templates that want to show it; newsbot adds
        nothing of its own to what readers see. No articles: no messages.
        """
        pack.check_ref(ref)
        if not articles:
            return []
        room = pack.CONTENT_BUDGET
        with budget():
            blocks, views, tz = self._blocks(digest, articles, now, ref)
            try:
                header = blocks.render("header")
                items = self._items(blocks, articles, views, digest, tz, room)
                footer = blocks.render("footer")
            except Exception as exc:
                raise problem(exc, blocks.where) from None
        # The first message starts with the ping, if any: the header has to fit beside it.
        shown = pack.with_ping(header, digest.ping_role)
        for what, text in (("header", shown), ("footer", footer)):
            size = limits.length(text)
            if size > room:
                raise TemplateProblem(
                    blocks.where,
                    None,
                    f"the {what} block renders {size:,} characters (at most {room:,})",
                )
        return pack.pack_measured(
            header, items, footer, ping_role=digest.ping_role, notify_button=digest.notify_button
        )

    def thread_name(
        self, articles: Sequence[Article], digest: DigestChannel, *, now: datetime, ref: str
    ) -> str:
        """The name of the digest's forum post or discussion thread: the template's
        ``thread_name`` block (same variables as ``header``) as plain text on one line (Discord
        shows no Markdown there) within 100 characters; :func:`default_thread_name` when the
        template has none or it renders nothing."""
        with budget():
            blocks, _, _ = self._blocks(digest, articles, now, ref)
            try:
                text = blocks.render("thread_name")
            except Exception as exc:
                raise problem(exc, blocks.where) from None
        name = " ".join(plain(text).split())
        if not name:
            return default_thread_name(digest, now)
        short = pack.shorten_text(name, limits.THREAD_NAME_MAX)
        # One word longer than the limit: cut inside it rather than name the post "…".
        return short if short.strip("…") else name[: limits.THREAD_NAME_MAX - 1] + "…"

    def render_item(
        self, article: Article, digest: DigestChannel, *, now: datetime
    ) -> dict[str, Any]:
        """One article as the channel's template shows it, as a single message payload."""
        with budget():
            blocks, views, tz = self._blocks(digest, [article], now, "item")
            try:
                [measured] = self._items(blocks, [article], views, digest, tz, limits.CONTENT_MAX)
            except Exception as exc:
                raise problem(exc, blocks.where) from None
        item = measured.item
        payload: dict[str, Any] = {"content": item.text}
        if item.embed is not None:
            payload["embeds"] = [dict(item.embed)]
        payload["allowed_mentions"] = pack.allowed_mentions()
        return payload

    def renders_embeds(self, digest: DigestChannel) -> bool:
        """Whether the channel's template makes embeds. A broken template says False here:
        ``check-templates`` and the first digest report it."""
        try:
            blocks, _, _ = self._blocks(digest, [sample_article()], _SAMPLE_TIME, "x")
        except TemplateProblem:
            return False
        return blocks.makes_embeds

    # -- checking ------------------------------------------------------------------------------

    def template_names(self) -> list[str]:
        """Digest templates to check: the built-ins and every ``.j2`` at the top of the
        operator's folder that is not a partial (partials start with ``_``; files in subfolders
        are taken for partials too)."""
        names = [f"default:{n}" for n in self._builtin.list_templates() if not n.startswith("_")]
        names += [n for n in self._operator_files() if "/" not in n and not n.startswith("_")]
        return names

    def _operator_files(self) -> list[str]:
        if self.template_dir is None:
            return []
        root = Path(self.template_dir)
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.j2") if p.is_file())

    def check(
        self, articles: Sequence[Article], digests: Sequence[DigestChannel], *, now: datetime
    ) -> list[str]:
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
                note(problem(exc, name))
        for channel in channels:
            try:
                self.template(channel.template)
            except TemplateProblem as exc:
                note(exc)
            for name in self.template_names():
                digest = replace(channel, template=name)
                try:
                    self.render_digest(sample, digest, now=now, ref="check")
                    self.thread_name(sample, digest, now=now, ref="check")
                    self.render_item(sample[0], digest, now=now)
                except TemplateProblem as exc:
                    note(exc)
        return problems


_SAMPLE_TIME = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def sample_article() -> Article:
    """A small article with related coverage, for checking templates without a queue."""
    return Article(
        url="https://news.example.com/2024/05/sample",
        web_url="https://news.example.com/2024/05/sample",
        title="Sample *story* with [markdown] and @everyone",
        excerpt="A short excerpt <@123> with `code` and a link https://example.com/x.",
        published_at=_SAMPLE_TIME,
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
