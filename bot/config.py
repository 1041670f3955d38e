"""Settings: the YAML config file and the environment, parsed once into frozen dataclasses.

Every error names the file and the key (``newsbot.yaml: digests[1].max_items: expected a
positive integer, got 'ten'``) so an operator can fix it without reading code. Defaults are
safe and contain no real ids. Each key is declared once (the tables below the dataclasses);
cron expressions and time zones are checked here too, so a typo stops ``newsbot`` at start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bot import config_values as checks
from bot.articles.urls import http_url_problem, safe_url
from bot.errors import ConfigError
from bot.options import Corrections, Crosspost, DraftReview, Retraction, Unreviewed
from bot.schedule import parse_schedule
from bot.secret import Secret
from bot.store.dsn import DatabaseUrl, is_url

DEFAULT_CONFIG = Path("newsbot.yaml")
DEFAULT_DB = Path("newsbot.db")
DEFAULT_API_BASE = "https://discord.com/api/v10"
ORDERS = ("quality", "heat", "newest")
# Re-exported: the settings hold the token as a Secret, and the options as these.
__all__ = ["Corrections", "Crosspost", "DraftReview", "Retraction", "Secret", "Unreviewed"]


@dataclass(frozen=True, slots=True)
class Identity:
    """The name and avatar a digest is posted under, through a webhook the bot owns in its
    channel, instead of the bot's own."""

    name: str
    avatar_url: str | None = None


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
    # One other outlet's link per item by default: the links' URLs, not the excerpts, are most
    # of a text digest's length, and three of them made ten stories take five messages.
    related_limit: int = 1
    excerpt_length: int = 200
    """Characters of each item's excerpt: its opening sentences within this many (a sentence
    or two), so a digest of ten stories reads in three messages."""
    title: str = "News digest"
    post_empty: bool = False
    ping_role: int | None = None
    """A role (id) mentioned at the start of each digest, the only mention its messages allow."""
    notify_button: bool = False
    """"Notify me" / "Stop" buttons under each digest that give or take ``ping_role``."""
    thread: bool = False
    """Start a discussion thread on each digest's first message, named like the digest."""
    tags: tuple[str, ...] = ()
    """Forum channels: tags (by name) every post carries, besides those named like topics."""
    crosspost: Crosspost = Crosspost.OFF
    """Announcement channels: publish the first part, or all, to the servers that follow."""
    review: DraftReview = DraftReview.NONE
    """``draft``: each scheduled run is shown in the review channel ``draft_lead`` before its
    time and posts what moderators approved."""
    draft_lead: timedelta = timedelta(hours=1)
    unreviewed: Unreviewed = Unreviewed.HOLD
    review_ping_role: int | None = None
    """Mentioned (and only it) when a draft of this channel waits for a decision."""
    identity: Identity | None = None
    corrections: Corrections = Corrections.EDIT
    """``off``: posted messages are not edited when an item changes (retractions still show)."""
    retraction: Retraction = Retraction.STRIKE


@dataclass(frozen=True, slots=True)
class Clustering:
    """One story from several outlets as one item (``bot.cluster``): how far apart in time
    two articles of one story may be, whether file ingest clusters too (feeds always do), and
    the least similarity that counts as one story."""

    window: timedelta = timedelta(hours=36)
    files: bool = False
    threshold: float = 0.28


@dataclass(frozen=True, slots=True)
class AutoApprove:
    """The ``auto_approve`` policy (applied by ``bot.moderation``): an item is approved as it
    is stored when any rule matches it. ``providers`` adds to the outlets trusted from Discord
    (stored in the database)."""

    min_quality: int | None = None
    providers: tuple[str, ...] = ()  # names or domains, lower-case
    topics: tuple[str, ...] = ()  # lower-case
    feeds: tuple[str, ...] = ()  # feed names; applied to items a feed brings

    @property
    def empty(self) -> bool:
        return (self.min_quality, self.providers, self.topics, self.feeds) == (None, (), (), ())


REVIEW_FEED_MODES = ("items", "off")


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """One feed polled for articles (issue 12): from the config file, or added with
    ``/feed add`` (then ``added_by`` says who)."""

    url: str
    topics: tuple[str, ...] = ()
    provider: str | None = None
    """The outlet's name for every entry; default: the feed's title."""
    quality: int | None = None
    """The editorial score given to its entries."""
    interval: timedelta = timedelta(minutes=15)
    backfill: int = 3
    """On the first successful fetch, this many of the newest entries are queued; the others
    are stored as already published, so a new feed does not flood the review channel."""
    added_by: str | None = None


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """Where ``newsbot run`` serves Prometheus metrics and its health checks."""

    port: int
    host: str = "127.0.0.1"
    """Loopback by default; ``0.0.0.0`` in a container whose port is published."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything newsbot reads from its config file and the environment."""

    database: Path | DatabaseUrl = DEFAULT_DB
    """An SQLite file, or a PostgreSQL server's ``postgresql://`` URL."""
    templates: Path | None = None
    guild: int | None = None
    moderator_roles: tuple[str | int, ...] = ()
    review_channel: int | None = None
    auto_approve: AutoApprove = AutoApprove()
    review_feed: str = "items"
    """``items``: pending items are posted to ``review_channel``; ``off``: only the deck."""
    review_feed_max: int = 30
    """At most this many review posts an hour."""
    digests: tuple[DigestChannel, ...] = ()
    catch_up_grace: timedelta = timedelta(hours=6)
    correction_window: timedelta = timedelta(hours=48)
    """A message is edited for a change to an item in it only this long after it was posted."""
    clustering: Clustering = field(default_factory=Clustering)
    feeds: tuple[FeedSettings, ...] = ()
    allow_private_feeds: bool = False
    """Fetch feeds from loopback, private and link-local addresses (a feed on the LAN)."""
    metrics: MetricsSettings | None = None
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


# --- the schema -------------------------------------------------------------------------------
#
# Each key of the file is declared once, with the function that reads its value; the key sets
# that unknown keys are checked against are these tables' keys, and every default is the
# dataclass field's. A key that is absent or null takes its default.


def _orders(value: Any) -> tuple[str, ...] | None:
    order = checks.strings(value)
    for key in order:
        if key not in ORDERS:
            raise checks.Invalid(f"unknown order {key!r} (use {', '.join(ORDERS)})")
    return order or None  # an empty list keeps the default order


# Discord refuses a webhook name or username with these in it, and more than 80 characters.
_NAME_MAX = 80
_NAME_FORBIDDEN = ("discord", "clyde")


def _identity_name(value: Any) -> str:
    name = checks.text(value).strip()
    if len(name) > _NAME_MAX:
        raise checks.Invalid(f"at most {_NAME_MAX} characters (Discord's limit), got {len(name)}")
    banned = next((word for word in _NAME_FORBIDDEN if word in name.lower()), None)
    if banned is not None:
        raise checks.Invalid(f"Discord refuses names containing {banned!r}, got {name!r}")
    return name


def _avatar_url(value: Any) -> str:
    if not isinstance(value, str):
        raise checks.Invalid(f"expected an http(s) URL of an image, got {value!r}")
    problem = http_url_problem(value)
    if problem is not None:
        raise checks.Invalid(f"{value!r} {problem}")
    return value


def _identity(value: Any) -> Identity:
    if not isinstance(value, dict):
        raise checks.Invalid(
            f"expected a mapping like {{name: The Wire, avatar_url: https://...}}, got {value!r}"
        )
    values = checks.fields(value, {"name": _identity_name, "avatar_url": _avatar_url})
    if "name" not in values:
        raise checks.Invalid("missing (the name digests are posted under)", ".name")
    return Identity(**values)


_DIGEST: dict[str, checks.Parse] = {
    "channel": checks.snowflake,
    "schedule": checks.cron_text,
    "timezone": checks.text,
    "template": checks.text,
    "max_items": checks.positive,
    "topics": checks.strings,
    "min_quality": checks.integer,
    "providers": checks.lower_strings,
    "max_age": checks.duration,
    "order": _orders,
    "related_limit": checks.zero_or_more,
    "excerpt_length": checks.zero_or_more,
    "title": checks.text,
    "post_empty": checks.flag,
    "ping_role": checks.snowflake,
    "notify_button": checks.flag,
    "thread": checks.flag,
    "tags": checks.strings,
    # YAML 1.1 reads a bare off as false: for these choices it means the "off" one.
    "crosspost": checks.choice(Crosspost, "first, all or off", false=Crosspost.OFF),
    "review": checks.choice(DraftReview, "draft or none", false=DraftReview.NONE),
    "draft_lead": checks.duration,
    "unreviewed": checks.choice(Unreviewed, "hold or post"),
    "review_ping_role": checks.snowflake,
    "identity": _identity,
    "corrections": checks.choice(Corrections, "edit or off", false=Corrections.OFF),
    "retraction": checks.choice(Retraction, "strike or remove"),
}


def _digest(data: Any) -> DigestChannel:
    """One ``digests`` entry, its time zone and schedule validated here, once, so that a typo
    stops ``newsbot`` before anything connects or posts."""
    if not isinstance(data, dict):
        raise checks.Invalid(f"expected a mapping, got {data!r}")
    values = checks.fields(data, _DIGEST)
    if "channel" not in values:
        raise checks.Invalid("missing (the id of the channel that receives digests)", ".channel")
    digest = DigestChannel(**values)
    if digest.notify_button and digest.ping_role is None:
        raise checks.Invalid(
            "needs ping_role (the role the button gives and takes)", ".notify_button"
        )
    try:
        # The time zone is checked even without a schedule: it is the default for
        # `/digest schedule set` and for display.
        zone = parse_schedule("0 0 * * *", digest.timezone).timezone
    except ConfigError as exc:
        raise checks.Invalid(str(exc), ".timezone") from None
    if digest.schedule is None:
        return replace(digest, timezone=zone)
    try:
        spec = parse_schedule(digest.schedule, zone)
    except ConfigError as exc:
        raise checks.Invalid(str(exc), ".schedule") from None
    return replace(digest, schedule=spec.cron, timezone=spec.timezone)


def _digests(value: Any) -> tuple[DigestChannel, ...]:
    if not isinstance(value, list):
        raise checks.Invalid("expected a list of channels")
    digests: list[DigestChannel] = []
    for number, entry in enumerate(value, start=1):
        try:
            digest = _digest(entry)
        except checks.Invalid as exc:
            raise checks.Invalid(exc.problem, f"[{number}]{exc.key}") from None
        if any(d.channel == digest.channel for d in digests):
            raise checks.Invalid(f"{digest.channel} is listed twice", f"[{number}].channel")
        digests.append(digest)
    return tuple(digests)


def _feed_url(value: Any) -> str:
    if not isinstance(value, str):
        raise checks.Invalid(f"expected an http(s) URL, got {value!r}")
    problem = http_url_problem(value)
    if problem is not None:
        raise checks.Invalid(f"{value!r} {problem}")
    url = safe_url(value)
    assert url is not None  # http_url_problem passed it
    return url


_FEED: dict[str, checks.Parse] = {
    "url": _feed_url,
    "topics": checks.strings,
    "provider": checks.text,
    "quality": checks.integer,
    "interval": checks.duration,
    "backfill": checks.zero_or_more,
}


def _feeds(value: Any) -> tuple[FeedSettings, ...]:
    if not isinstance(value, list):
        raise checks.Invalid("expected a list of feeds like [{url: https://example.org/feed.xml}]")
    feeds: list[FeedSettings] = []
    for number, entry in enumerate(value, start=1):
        if isinstance(entry, str):
            entry = {"url": entry}
        if not isinstance(entry, dict):
            raise checks.Invalid(f"expected a mapping with url, got {entry!r}", f"[{number}]")
        try:
            values = checks.fields(entry, _FEED)
        except checks.Invalid as exc:
            raise checks.Invalid(exc.problem, f"[{number}]{exc.key}") from None
        if "url" not in values:
            raise checks.Invalid("missing (the feed's http(s) address)", f"[{number}].url")
        if any(f.url == values["url"] for f in feeds):
            raise checks.Invalid(f"{values['url']} is listed twice", f"[{number}].url")
        feeds.append(FeedSettings(**values))
    return tuple(feeds)


_AUTO_APPROVE: dict[str, checks.Parse] = {
    "min_quality": checks.integer,
    "providers": checks.lower_strings,
    "topics": checks.lower_strings,
    "feeds": checks.strings,
}


def _auto_approve(value: Any) -> AutoApprove:
    if not isinstance(value, dict):
        raise checks.Invalid(f"expected a mapping like {{min_quality: 60}}, got {value!r}")
    return AutoApprove(**checks.fields(value, _AUTO_APPROVE))


def _review_feed(value: Any) -> str:
    if value is False:  # YAML reads a bare `off` as false
        return "off"
    if value not in REVIEW_FEED_MODES:
        raise checks.Invalid(f"expected one of {', '.join(REVIEW_FEED_MODES)}, got {value!r}")
    return str(value)


def _similarity(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise checks.Invalid(f"expected a number between 0 and 1, got {value!r}")
    return float(value)


_CLUSTERING: dict[str, checks.Parse] = {
    "window": checks.duration,
    "files": checks.flag,
    "threshold": _similarity,
}


def _clustering(value: Any) -> Clustering:
    if not isinstance(value, dict):
        raise checks.Invalid(
            f"expected a mapping like {{window: 36h, files: false}}, got {value!r}"
        )
    return Clustering(**checks.fields(value, _CLUSTERING))


def _database(value: Any) -> str | DatabaseUrl:
    """A file path (SQLite, made relative to the config file later) or a PostgreSQL URL."""
    text = checks.text(value)
    if not is_url(text):
        return text
    try:
        return DatabaseUrl.parse(text)
    except ValueError as exc:
        raise checks.Invalid(str(exc)) from None


def _database_from(value: str, where: str) -> Path | DatabaseUrl:
    """``NEWSBOT_DB`` or ``--db``: the same two kinds, named by ``where`` when wrong."""
    if not is_url(value):
        return Path(value)
    try:
        return DatabaseUrl.parse(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


# The file's top-level keys: how each is read and the Settings field it sets.
def _port(value: Any) -> int:
    if checks.integer(value) < 0 or value > 65535:
        raise checks.Invalid(f"expected a TCP port (0 to 65535), got {value}")
    return int(value)


def _metrics(value: Any) -> MetricsSettings:
    if not isinstance(value, dict):
        raise checks.Invalid(f"expected a mapping like {{port: 9108}}, got {value!r}")
    values = checks.fields(value, {"port": _port, "host": checks.text})
    if "port" not in values:
        raise checks.Invalid("missing (the port metrics and health checks are served on)", ".port")
    return MetricsSettings(**values)


_TOP: dict[str, tuple[str, checks.Parse]] = {
    "database": ("database", _database),
    "templates": ("templates", checks.folder),
    "guild": ("guild", checks.snowflake),
    "moderator_roles": ("moderator_roles", checks.roles),
    "review_channel": ("review_channel", checks.snowflake),
    "auto_approve": ("auto_approve", _auto_approve),
    "review_feed": ("review_feed", _review_feed),
    "review_feed_max": ("review_feed_max", checks.positive),
    "digests": ("digests", _digests),
    "catch_up_grace": ("catch_up_grace", checks.duration),
    "correction_window": ("correction_window", checks.duration),
    "clustering": ("clustering", _clustering),
    "feeds": ("feeds", _feeds),
    "allow_private_feeds": ("allow_private_feeds", checks.flag),
    "metrics": ("metrics", _metrics),
}


def parse_settings(data: Any, source: str, base: Path) -> Settings:
    """Settings from a parsed YAML document; relative paths are relative to the config file."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
    try:
        values = checks.fields(data, {key: parse for key, (_, parse) in _TOP.items()}, nested=False)
    except checks.Invalid as exc:
        raise ConfigError(f"{source}: {exc.key}: {exc.problem}") from None
    fields = {_TOP[key][0]: value for key, value in values.items()}
    if "review_channel" not in fields:
        for number, digest in enumerate(fields.get("digests", ()), start=1):
            if digest.review is DraftReview.DRAFT:
                raise ConfigError(
                    f"{source}: digests[{number}].review: draft needs review_channel (where"
                    " drafts are shown)"
                )
    database = fields.get("database", DEFAULT_DB)
    fields["database"] = database if isinstance(database, DatabaseUrl) else base / database
    if "templates" in fields:
        fields["templates"] = base / fields["templates"]
    return Settings(**fields, source=source)


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
        database = _database_from(env["NEWSBOT_DB"], "NEWSBOT_DB")
    if db is not None:
        database = db if isinstance(db, Path) else _database_from(db, "--db")
    return replace(
        settings,
        database=database,
        token=Secret(env.get("DISCORD_TOKEN", "").strip()),
        api_base=env.get("NEWSBOT_DISCORD_API_BASE", "").strip() or DEFAULT_API_BASE,
        gateway=env.get("NEWSBOT_DISCORD_GATEWAY", "").strip() or None,
    )
