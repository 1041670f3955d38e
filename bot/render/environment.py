"""The Jinja2 environment: where templates come from, how they are named, and what a failing
one is reported as.

Templates are looked up in the operator's folder first, then in the built-ins (the
``templates/`` folder, shipped as the package ``bot.templates``); the built-ins are also
reachable as ``default:NAME`` so an override can ``{% extends "default:digest.md.j2" %}`` and
replace one block. A partial such as ``_item.md.j2`` in the operator's folder replaces the
built-in one everywhere, also inside the built-in digest templates.

A channel's ``template`` is a short name: ``digest`` means ``digest.md.j2``, ``embed`` means
``embed.j2``; ``NAME`` is looked up as ``NAME.md.j2``, then ``NAME.j2``. A name ending in
``.j2`` is used as it is (``default:`` prefix allowed).

The environment is :class:`~bot.render.sandbox.Sandbox` with ``StrictUndefined`` (a typo is an
error with file and line) and autoescape off (the output is Discord Markdown, not HTML; the
views escape instead). Every failure becomes a :class:`~bot.errors.TemplateProblem` naming the
template file and line.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.exceptions import SecurityError

from bot.errors import TemplateProblem
from bot.render.filters import FILTERS
from bot.render.sandbox import RenderLimit, Sandbox, bounded_filter, bounded_range


def builtin_templates() -> Traversable:
    """The folder of built-in templates: the installed ``bot.templates`` package, or the
    ``templates/`` folder of a source checkout."""
    try:
        root = resources.files("bot.templates")
        if root.joinpath("digest.md.j2").is_file():
            return root
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[2] / "templates"


class BuiltinLoader(BaseLoader):
    """Loads the built-in templates from a package folder (inside a wheel or zip too)."""

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


def make_environment(template_dir: Path | None, builtin: BuiltinLoader) -> Sandbox:
    loaders: list[BaseLoader] = [PrefixLoader({"default": builtin}, delimiter=":")]
    if template_dir is not None:
        loaders.append(FileSystemLoader(template_dir))
    loaders.append(builtin)
    env = Sandbox(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=lambda value: "" if value is None else value,
    )
    env.globals.pop("lipsum", None)
    env.globals["range"] = bounded_range
    for name, function in list(env.filters.items()):
        env.filters[name] = bounded_filter(name, function)
    env.filters.update((name, bounded_filter(name, f)) for name, f in FILTERS.items())
    return env


def candidates(name: str) -> list[str]:
    """The file names a channel's short template name may mean, in the order they are tried."""
    return [name] if name.endswith(".j2") else [f"{name}.md.j2", f"{name}.j2"]


def find_template(env: Sandbox, name: str, template_dir: Path | None) -> Template:
    """The compiled template for a short or full name."""
    for candidate in candidates(name):
        try:
            return env.get_template(candidate)
        except TemplateNotFound as exc:
            if exc.name != candidate:  # an {% extends %} or {% include %} inside it is missing
                raise problem(exc, candidate) from None
        except Exception as exc:
            raise problem(exc, candidate) from None
    folder = f"{template_dir} or the built-ins" if template_dir else "the built-ins"
    tried = " or ".join(candidates(name))
    raise TemplateProblem(name, None, f"no template {tried} in {folder}")


def _location(tb: TracebackType | None) -> tuple[str | None, int | None]:
    """The innermost template frame in ``tb``: its file name and template line."""
    where: tuple[str | None, int | None] = (None, None)
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if isinstance(template, Template):
            line = template.get_corresponding_lineno(tb.tb_lineno)
            where = (template.filename or template.name, line)
        tb = tb.tb_next
    return where


def problem(exc: BaseException, template: str, line: int | None = None) -> TemplateProblem:
    """``exc``, raised while loading or rendering ``template``, as a TemplateProblem naming the
    innermost template file and line (``line`` when no template frame is on the traceback)."""
    if isinstance(exc, TemplateProblem):
        return exc
    if isinstance(exc, TemplateSyntaxError):
        where = exc.filename or exc.name or template
        return TemplateProblem(where, exc.lineno, f"syntax error: {exc.message}")
    filename, found = _location(exc.__traceback__)
    if isinstance(exc, TemplateNotFound):
        text = f"template {exc.name!r} not found"
    elif isinstance(exc, SecurityError):
        text = f"not allowed in the template sandbox: {exc}"
    elif isinstance(exc, UndefinedError | RenderLimit):
        text = str(exc)
    elif isinstance(exc, RecursionError):
        text = "templates include, extend or call each other without end (recursion too deep)"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return TemplateProblem(filename or template, found or line, text)
