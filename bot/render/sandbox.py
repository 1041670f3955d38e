"""The template sandbox: Jinja's immutable sandbox plus a budget, so that a mistake in an
operator's template (a loop without end, a string doubled in a loop) stops with a clear problem
instead of hanging the bot or eating its memory.

One render of a digest gets a :class:`Budget` (:func:`budget`): every loop iteration, call and
filter is a step, the clock is checked as steps are taken, and values that ``*``, ``**``,
``%``, ``+``, ``~``, ``replace``, ``join``, ``center``... would build are sized before they are
built. Loops and ``~`` are routed through the budget by rewriting the parsed template (public
:mod:`jinja2.nodes` API) before it is compiled; calls, operators and attribute reads go through
the sandbox's documented hooks. Like Jinja's sandbox this guards against mistakes; it is no hard
boundary against a template author who sets out to exhaust memory.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final

from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_STEPS: Final = 1_000_000
"""Loop iterations plus calls one render may make."""
MAX_SECONDS: Final = 2.0
"""Well under Discord's 3 s for a first answer, so a slow template cannot time a command out."""
MAX_OUTPUT: Final = 2_000_000
"""Characters one render, or one value it builds, may reach."""
MAX_RANGE: Final = 10_000
MAX_SEQUENCE: Final = 100_000
"""Largest number a filter or string method may be asked to pad, wrap or repeat to."""

# printf-style or str.format widths that let one argument choose any size.
_STAR_WIDTH: Final = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(?:\*|[0-9]*\.\*)")
_NESTED_FIELD: Final = re.compile(r"\{[^{}]*\{")
_BIG_WIDTH: Final = re.compile(
    r"%(?:\([^)]*\))?[-+ #0]*(?:[0-9]{5,}|[0-9]*\.[0-9]{5,})|\{[^{}]*:[^{}]*[0-9]{5,}[^{}]*\}"
)
_SIZED_FILTERS: Final = frozenset(("batch", "center", "indent", "slice", "wordwrap", "format"))


class RenderLimit(Exception):
    """A template used up its budget of steps, time or output."""


class Budget:
    """Steps and time left to one render."""

    __slots__ = ("deadline", "left", "seconds")

    def __init__(self, steps: int = MAX_STEPS, seconds: float = MAX_SECONDS) -> None:
        self.left = steps
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def step(self) -> None:
        self.left -= 1
        if self.left <= 0:
            raise RenderLimit(f"the template ran more than {MAX_STEPS:,} loop iterations and calls")
        if time.monotonic() > self.deadline:
            raise RenderLimit(f"the template took longer than {self.seconds:g} seconds")


_BUDGET: ContextVar[Budget | None] = ContextVar("newsbot_render_budget", default=None)


@contextmanager
def budget() -> Iterator[Budget]:
    """Give the renders inside the block one shared budget (a context variable, so renders
    in other threads or tasks keep their own)."""
    current = Budget(seconds=MAX_SECONDS)
    token = _BUDGET.set(current)
    try:
        yield current
    finally:
        _BUDGET.reset(token)


def _step() -> None:
    current = _BUDGET.get()
    if current is not None:
        current.step()


def drain(chunks: Iterable[str]) -> str:
    """The text of a render function's output, refused past :data:`MAX_OUTPUT` characters
    (counted as it comes, so a runaway block never builds a huge list)."""
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise RenderLimit(f"the template produced more than {MAX_OUTPUT:,} characters")
        parts.append(chunk)
    return "".join(parts)


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


def _huge_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > MAX_SEQUENCE


def _sized(value: object) -> int | None:
    return len(value) if isinstance(value, str | list | tuple) else None


def _huge_power(base: object, exponent: object) -> bool:
    if not isinstance(base, int | float) or not isinstance(exponent, int | float):
        return False
    return abs(base) > 1 and exponent > 0 and exponent * math.log2(abs(base) + 1) > 4_096


def bounded_range(*args: int) -> range:
    """``range`` for templates: at most :data:`MAX_RANGE` numbers."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() of {len(numbers):,} numbers; at most {MAX_RANGE:,}")
    return numbers


def bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in filter as a step that refuses to build huge values."""
    skip = 0 if getattr(function, "jinja_pass_arg", None) is None else 1  # context/environment

    def bounded(*args: Any, **kwargs: Any) -> Any:
        _step()
        values = args[skip:]
        if name in _SIZED_FILTERS and any(map(_huge_int, (*values, *kwargs.values()))):
            big = next(v for v in (*values, *kwargs.values()) if _huge_int(v))
            raise SecurityError(f"a filter called with {big:,}")
        if name == "format" and values and isinstance(values[0], str):
            if _BIG_WIDTH.search(values[0]):
                raise SecurityError("formatting with a width of 10,000 or more")
        elif name == "replace" and len(values) >= 3 and isinstance(values[0], str):
            _check_size(_replace_size(*values[:4]), "replace")
        elif name == "join" and values and isinstance(values[0], list | tuple):
            separator = values[1] if len(values) > 1 else kwargs.get("d", "")
            _check_size(_join_size(str(separator), values[0]), "join")
        return function(*args, **kwargs)

    return functools.update_wrapper(bounded, function)


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the render budget applied to loops, ``~``, operators
    and calls."""

    intercepted_binops = frozenset(("*", "**", "%", "+"))

    @staticmethod
    def loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
        """What every ``{% for %}`` iterates: ``iterable``, one step per item."""
        for value in iterable:
            _step()
            yield value

    @staticmethod
    def bounded_concat(*parts: Any) -> str:
        """``a ~ b``: refused before it is built when the result would be too large."""
        _check_size(sum(_text_size(part) for part in parts), "'~'")
        return "".join(map(str, parts))

    def compile(self, source: Any, name: Any = None, filename: Any = None, *args: Any) -> Any:
        if isinstance(source, str):
            source = self.parse(source, name, filename)
        _route_through_budget(source)
        return super().compile(source, name, filename, *args)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                size = _sized(seq)
                if size is not None and isinstance(times, int) and size * times > MAX_SEQUENCE:
                    raise SecurityError(f"'*' would build {size * times:,} items or characters")
        elif operator == "**" and _huge_power(left, right):
            raise SecurityError("'**' result too large")
        elif operator == "%" and isinstance(left, str):
            if _BIG_WIDTH.search(left):
                raise SecurityError("'%' formatting with a width of 10,000 or more")
            if _STAR_WIDTH.search(left):
                raise SecurityError("'%' formatting with a '*' width")
        elif operator == "+":
            sizes = (_sized(left), _sized(right))
            if sizes[0] is not None and sizes[1] is not None:
                _check_size(sizes[0] + sizes[1], "'+'")
        return super().call_binop(context, operator, left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _step()
        owner = getattr(getattr(obj, "__wrapped__", obj), "__self__", None)
        if isinstance(owner, str):
            big = next((a for a in (*args, *kwargs.values()) if _huge_int(a)), None)
            if big is not None:
                raise SecurityError(f"a string method called with {big:,}")
            method = getattr(obj, "__name__", "")
            if method in ("format", "format_map"):
                if _BIG_WIDTH.search(owner):
                    raise SecurityError("format() with a width of 10,000 or more")
                if _NESTED_FIELD.search(owner):
                    raise SecurityError("format() with a nested replacement field")
            elif method == "replace" and args:
                _check_size(_replace_size(owner, *args[:3]), "replace")
            elif method == "join" and args:
                parts = list(args[0])  # a generator would be used up: join the list instead
                _check_size(_join_size(owner, parts), "join")
                args = (parts, *args[1:])
        return super().call(context, obj, *args, **kwargs)


def _guarded(node: nodes.Node, function: str) -> nodes.Call:
    call = nodes.Call(nodes.EnvironmentAttribute(function), [node], [], None, None)
    call.set_lineno(node.lineno)
    return call


def _route_through_budget(tree: nodes.Template) -> None:
    """Make every ``{% for %}`` iterate through :meth:`Sandbox.loop_guard` and every ``~``
    call :meth:`Sandbox.bounded_concat` (both then count as calls of the sandbox too)."""
    for loop in tree.find_all(nodes.For):
        loop.iter = _guarded(loop.iter, "loop_guard")
    for node in [tree, *tree.find_all(nodes.Node)]:
        for field, value in node.iter_fields():
            if isinstance(value, nodes.Concat):
                setattr(node, field, _concat_call(value))
            elif isinstance(value, list):
                value[:] = [_concat_call(v) if isinstance(v, nodes.Concat) else v for v in value]


def _concat_call(node: nodes.Concat) -> nodes.Call:
    call = nodes.Call(nodes.EnvironmentAttribute("bounded_concat"), node.nodes, [], None, None)
    call.set_lineno(node.lineno)
    return call
