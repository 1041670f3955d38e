"""Reading one value of the YAML config: the checks every key of the schema in
:mod:`bot.config` is built from. A bad value raises :class:`Invalid` with what is wrong; the
schema adds where (the key's path), so an operator reads ``digests[1].max_items: expected a
positive integer, got 0``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar

E = TypeVar("E", bound=StrEnum)


class Invalid(Exception):
    """One bad value: ``problem`` says what is wrong, ``key`` is the path below the key being
    read ("" for a plain value, ``.min_quality`` or ``[2].channel`` inside a nested one)."""

    def __init__(self, problem: str, key: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.key = key


Parse = Callable[[Any], Any]


def choice(kind: type[E], wanted: str, *, false: E | None = None) -> Callable[[Any], E]:
    """A reader of one of ``kind``'s values (``wanted`` lists them for the message). YAML 1.1
    reads a bare ``off`` or ``no`` as false: ``false`` is the value that stands for."""

    def read(value: Any) -> E:
        if value is False and false is not None:
            return false
        try:
            return kind(value)
        except ValueError:
            raise Invalid(f"expected {wanted}, got {value!r}") from None

    return read


def integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"expected an integer, got {value!r}")
    return value


def positive(value: Any) -> int:
    if integer(value) <= 0:
        raise Invalid(f"expected a positive integer, got {value!r}")
    return int(value)


def zero_or_more(value: Any) -> int:
    if integer(value) < 0:
        raise Invalid(f"expected 0 or more, got {value}")
    return int(value)


def snowflake(value: Any) -> int:
    # Ids are often quoted in YAML so that no tool rounds them; accept "123" too.
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Invalid(f"expected a Discord id (a positive integer), got {value!r}")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"expected a non-empty string, got {value!r}")
    return value


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {value!r}")
    return value


def strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list):
        raise Invalid(f"expected a list of strings, got {value!r}")
    for item in value:
        if not isinstance(item, str | int) or isinstance(item, bool):
            raise Invalid(f"expected a list of strings, got an entry {item!r}")
    return tuple(str(item) for item in value)


def lower_strings(value: Any) -> tuple[str, ...]:
    return tuple(item.lower() for item in strings(value))


def roles(value: Any) -> tuple[str | int, ...]:
    return tuple(int(role) if role.isdigit() else role for role in strings(value))


UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def duration(value: Any) -> timedelta:
    """``30m``, ``6h``, ``7d``, ``2w`` or a number of hours."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return timedelta(hours=value)
    if isinstance(value, str) and value[-1:] in UNITS and value[:-1].strip().isdigit():
        amount = int(value[:-1])
        if amount > 0:
            return timedelta(**{UNITS[value[-1]]: amount})
    raise Invalid(f"expected a duration like 30m, 6h or 7d, got {value!r}")


def cron_text(value: Any) -> str:
    """Only the type; the expression is checked with its channel's time zone (``_digest``)."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"expected a cron expression string, got {value!r}")
    return value


def folder(value: Any) -> str | None:
    if not isinstance(value, str):
        raise Invalid(f"expected a folder path, got {value!r}")
    return value or None


def fields(
    data: Mapping[Any, Any], schema: Mapping[str, Parse], *, nested: bool = True
) -> dict[str, Any]:
    """The values of ``data`` read through ``schema``; absent and null keys are left out, so
    that the dataclass defaults apply. Keys in problems start with a dot when ``nested``."""
    dot = "." if nested else ""
    for key in data:
        if key not in schema:
            known = ", ".join(sorted(schema))
            raise Invalid(f"unknown setting (known: {known})", f"{dot}{key}")
    values: dict[str, Any] = {}
    for key, parse in schema.items():
        value = data.get(key)
        if value is None:
            continue
        try:
            parsed = parse(value)
        except Invalid as exc:
            raise Invalid(exc.problem, f"{dot}{key}{exc.key}") from None
        if parsed is not None:
            values[key] = parsed
    return values
