"""Settings: the YAML config file and the environment, parsed once into frozen dataclasses.

Every error names the file and the key (``newsbot.yaml: digests[1].max_items: expected a
positive integer, got 'ten'``) so an operator can fix it without reading code. Defaults are
safe and contain no real ids.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigError

DEFAULT_CONFIG = Path("newsbot.yaml")
DEFAULT_DB = Path("newsbot.db")
DEFAULT_API_BASE = "https://discord.com/api/v10"
ORDERS = ("quality", "heat", "newest")


class Secret:
    """A string that never shows itself in reprs, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class DigestChannel:
    """One channel that receives digests, and how its digest is chosen and rendered."""

    channel: int | None
    schedule: str | None = None
    timezone: str = "UTC"
    template: str = "digest"
    max_items: int = 10
    topics: tuple[str, ...] = ()
    min_quality: int | None = None
    providers: tuple[str, ...] = ()
    max_age: timedelta | None = None
    order: tuple[str, ...] = ("quality", "newest")
    related_limit: int = 3
    title: str = "News digest"
    post_empty: bool = False


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything newsbot reads from its config file and the environment."""

    database: Path = DEFAULT_DB
    templates: Path | None = None
    guild: int | None = None
    moderator_roles: tuple[str | int, ...] = ()
    review_channel: int | None = None
    auto_approve_min_quality: int | None = None
    digests: tuple[DigestChannel, ...] = ()
    catch_up_grace: timedelta = timedelta(hours=6)
    token: Secret = field(default_factory=lambda: Secret(""))
    api_base: str = DEFAULT_API_BASE
    gateway: str | None = None
    source: str = "built-in defaults"

    def digest_for(self, channel: int | None) -> DigestChannel:
        """The digest settings for ``channel``; with no channel, the first configured one or a
        default over all approved items (so preview works on a fresh machine)."""
        if channel is None:
            return self.digests[0] if self.digests else DigestChannel(channel=None)
        for digest in self.digests:
            if digest.channel == channel:
                return digest
        raise ConfigError(
            f"{self.source}: digests: channel {channel} is not configured"
            f" (configured: {', '.join(str(d.channel) for d in self.digests) or 'none'})"
        )


class _Reader:
    """Typed access to one mapping of the config, naming file and key in every error."""

    def __init__(self, source: str, data: Mapping[str, Any], prefix: str = "") -> None:
        self.source = source
        self.data = data
        self.prefix = prefix

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.prefix}{key}: {problem}")

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def int_or_none(self, key: str, *, positive: bool = False) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {value!r}")
        if positive and value <= 0:
            raise self.fail(key, f"expected a positive integer, got {value!r}")
        return value

    def snowflake(self, key: str) -> int | None:
        value = self.data.get(key)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.fail(key, f"expected a Discord id (a positive integer), got {value!r}")
        return value

    def string(self, key: str, default: str) -> str:
        value = self.data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected a non-empty string, got {value!r}")
        return value

    def bool(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if isinstance(value, str) or not isinstance(value, list):
            raise self.fail(key, f"expected a list of strings, got {value!r}")
        for item in value:
            if not isinstance(item, str | int) or isinstance(item, bool):
                raise self.fail(key, f"expected a list of strings, got an entry {item!r}")
        return tuple(str(item) for item in value)

    def unknown(self, known: set[str]) -> None:
        for key in self.data:
            if key not in known:
                raise self.fail(str(key), f"unknown setting (known: {', '.join(sorted(known))})")


def _duration(reader: _Reader, key: str) -> timedelta | None:
    """``30m``, ``6h``, ``7d`` or a number of hours."""
    value = reader.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return timedelta(hours=value)
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    if isinstance(value, str) and value[-1:] in units and value[:-1].strip().isdigit():
        amount = int(value[:-1])
        if amount > 0:
            return timedelta(**{units[value[-1]]: amount})
    raise reader.fail(key, f"expected a duration like 30m, 6h or 7d, got {value!r}")


_DIGEST_KEYS = {
    "channel",
    "schedule",
    "timezone",
    "template",
    "max_items",
    "topics",
    "min_quality",
    "providers",
    "max_age",
    "order",
    "related_limit",
    "title",
    "post_empty",
}


def _digest(reader: _Reader) -> DigestChannel:
    reader.unknown(_DIGEST_KEYS)
    channel = reader.snowflake("channel")
    if channel is None:
        raise reader.fail("channel", "missing (the id of the channel that receives digests)")
    schedule = reader.get("schedule")
    if schedule is not None and (not isinstance(schedule, str) or not schedule.strip()):
        raise reader.fail("schedule", f"expected a cron expression string, got {schedule!r}")
    order = reader.strings("order") or ("quality", "newest")
    for key in order:
        if key not in ORDERS:
            raise reader.fail("order", f"unknown order {key!r} (use {', '.join(ORDERS)})")
    max_items = reader.int_or_none("max_items", positive=True)
    related_limit = reader.int_or_none("related_limit")
    if related_limit is not None and related_limit < 0:
        raise reader.fail("related_limit", f"expected 0 or more, got {related_limit}")
    return DigestChannel(
        channel=channel,
        schedule=schedule.strip() if isinstance(schedule, str) else None,
        timezone=reader.string("timezone", "UTC"),
        template=reader.string("template", "digest"),
        max_items=max_items if max_items is not None else 10,
        topics=reader.strings("topics"),
        min_quality=reader.int_or_none("min_quality"),
        providers=tuple(p.lower() for p in reader.strings("providers")),
        max_age=_duration(reader, "max_age"),
        order=order,
        related_limit=related_limit if related_limit is not None else 3,
        title=reader.string("title", "News digest"),
        post_empty=reader.bool("post_empty", False),
    )


_TOP_KEYS = {
    "database",
    "templates",
    "guild",
    "moderator_roles",
    "review_channel",
    "auto_approve",
    "digests",
    "catch_up_grace",
}


def parse_settings(data: Any, source: str, base: Path) -> Settings:
    """Settings from a parsed YAML document; relative paths are relative to the config file."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
    reader = _Reader(source, data)
    reader.unknown(_TOP_KEYS)
    auto = data.get("auto_approve") or {}
    if not isinstance(auto, dict):
        raise reader.fail(
            "auto_approve", f"expected a mapping like {{min_quality: 60}}, got {auto!r}"
        )
    auto_reader = _Reader(source, auto, "auto_approve.")
    auto_reader.unknown({"min_quality"})
    digests_raw = data.get("digests") or []
    if not isinstance(digests_raw, list):
        raise reader.fail("digests", "expected a list of channels")
    digests: list[DigestChannel] = []
    for index, entry in enumerate(digests_raw):
        if not isinstance(entry, dict):
            raise reader.fail(f"digests[{index + 1}]", f"expected a mapping, got {entry!r}")
        digest = _digest(_Reader(source, entry, f"digests[{index + 1}]."))
        if any(d.channel == digest.channel for d in digests):
            raise reader.fail(f"digests[{index + 1}].channel", f"{digest.channel} is listed twice")
        digests.append(digest)
    roles: list[str | int] = []
    for role in reader.strings("moderator_roles"):
        roles.append(int(role) if role.isdigit() else role)
    templates = data.get("templates")
    if templates is not None and not isinstance(templates, str):
        raise reader.fail("templates", f"expected a folder path, got {templates!r}")
    return Settings(
        database=base / reader.string("database", str(DEFAULT_DB)),
        templates=base / templates if templates else None,
        guild=reader.snowflake("guild"),
        moderator_roles=tuple(roles),
        review_channel=reader.snowflake("review_channel"),
        auto_approve_min_quality=auto_reader.int_or_none("min_quality"),
        digests=tuple(digests),
        catch_up_grace=_duration(reader, "catch_up_grace") or timedelta(hours=6),
        source=source,
    )


def load_settings(
    config: str | Path | None = None,
    db: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read the config file (``--config``, ``NEWSBOT_CONFIG`` or ``./newsbot.yaml``) and apply
    the environment and ``--db``, in that order of precedence (the flag wins)."""
    env = os.environ if environ is None else environ
    path: Path | None = None
    if config is not None:
        path = Path(config)
    elif env.get("NEWSBOT_CONFIG"):
        path = Path(env["NEWSBOT_CONFIG"])
    elif DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    if path is None:
        settings = Settings()
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config file ({exc})") from None
        try:
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else 1
            raise ConfigError(f"{path}:{line}: YAML syntax error: {exc.problem}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: YAML error: {exc}") from None
        settings = parse_settings(data, str(path), path.parent)
    database = settings.database
    if env.get("NEWSBOT_DB"):
        database = Path(env["NEWSBOT_DB"])
    if db is not None:
        database = Path(db)
    return replace(
        settings,
        database=database,
        token=Secret(env.get("DISCORD_TOKEN", "").strip()),
        api_base=env.get("NEWSBOT_DISCORD_API_BASE", "").strip() or DEFAULT_API_BASE,
        gateway=env.get("NEWSBOT_DISCORD_GATEWAY", "").strip() or None,
    )
