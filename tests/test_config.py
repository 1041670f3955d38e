"""The config file and the environment: every kind of mistake gets its exact ``file: key:
problem`` message, and what is valid loads into the documented defaults."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import (
    DEFAULT_API_BASE,
    AutoApprove,
    Clustering,
    Corrections,
    Crosspost,
    DigestChannel,
    FeedSettings,
    Identity,
    Retraction,
    Secret,
    Settings,
    load_settings,
)
from bot.errors import ConfigError
from bot.store.dsn import DatabaseUrl

KNOWN_TOP = (
    "allow_private_feeds, auto_approve, catch_up_grace, clustering, correction_window, database,"
    " digests, feeds, guild, metrics, moderator_roles, review_channel, review_feed,"
    " review_feed_max, templates"
)
KNOWN_FEED = "backfill, interval, provider, quality, topics, url"
KNOWN_DIGEST = (
    "channel, corrections, crosspost, draft_lead, excerpt_length, identity, max_age, max_items,"
    " min_quality, notify_button, order, ping_role, post_empty, providers, related_limit,"
    " retraction, review, review_ping_role, schedule, tags, template, thread, timezone, title,"
    " topics, unreviewed"
)


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "newsbot.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ={})


def digest(line: str) -> str:
    """A config with one digest channel and ``line`` in its entry."""
    return f"digests:\n  - channel: 5\n    {line}\n"


DURATION = "expected a duration like 30m, 6h or 7d, got"
DISCORD_ID = "expected a Discord id (a positive integer), got"
FIVE_FIELDS = "expected 5 fields (minute hour day-of-month month day-of-week)"


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        # unknown keys, at every level
        ("databse: x.db", "databse", f"unknown setting (known: {KNOWN_TOP})"),
        (
            "auto_approve: {min_qualty: 5}",
            "auto_approve.min_qualty",
            "unknown setting (known: feeds, min_quality, providers, topics)",
        ),
        (
            "auto_approve: {providers: reuters.com}",
            "auto_approve.providers",
            "expected a list of strings, got 'reuters.com'",
        ),
        (
            "auto_approve: {topics: [AI, [x]]}",
            "auto_approve.topics",
            "expected a list of strings, got an entry ['x']",
        ),
        ("auto_approve: {feeds: 5}", "auto_approve.feeds", "expected a list of strings, got 5"),
        ("review_feed: all", "review_feed", "expected one of items, off, got 'all'"),
        ("review_feed: true", "review_feed", "expected one of items, off, got True"),
        ("review_feed_max: 0", "review_feed_max", "expected a positive integer, got 0"),
        ("review_feed_max: many", "review_feed_max", "expected an integer, got 'many'"),
        (
            digest("shedule: '0 9 * * *'"),
            "digests[1].shedule",
            f"unknown setting (known: {KNOWN_DIGEST})",
        ),
        (
            "review_channel: 9\n" + digest("review: drafts"),
            "digests[1].review",
            "expected draft or none, got 'drafts'",
        ),
        (
            "review_channel: 9\n" + digest("unreviewed: wait"),
            "digests[1].unreviewed",
            "expected hold or post, got 'wait'",
        ),
        (
            digest("corrections: always"),
            "digests[1].corrections",
            "expected edit or off, got 'always'",
        ),
        (
            digest("retraction: hide"),
            "digests[1].retraction",
            "expected strike or remove, got 'hide'",
        ),
        ("correction_window: forever", "correction_window", f"{DURATION} 'forever'"),
        (
            "review_channel: 9\n" + digest("draft_lead: soon"),
            "digests[1].draft_lead",
            "expected a duration like 30m, 6h or 7d, got 'soon'",
        ),
        (
            digest("review: draft"),
            "digests[1].review",
            "draft needs review_channel (where drafts are shown)",
        ),
        # wrong types
        ("database: 5", "database", "expected a non-empty string, got 5"),
        ("database: ' '", "database", "expected a non-empty string, got ' '"),
        ("templates: [a]", "templates", "expected a folder path, got ['a']"),
        ("moderator_roles: Mods", "moderator_roles", "expected a list of strings, got 'Mods'"),
        (
            "moderator_roles: [Mods, {a: 1}]",
            "moderator_roles",
            "expected a list of strings, got an entry {'a': 1}",
        ),
        ("auto_approve: 60", "auto_approve", "expected a mapping like {min_quality: 60}, got 60"),
        (
            "auto_approve: {min_quality: high}",
            "auto_approve.min_quality",
            "expected an integer, got 'high'",
        ),
        ("digests: {channel: 5}", "digests", "expected a list of channels"),
        ("digests: [5]", "digests[1]", "expected a mapping, got 5"),
        (digest("max_items: ten"), "digests[1].max_items", "expected an integer, got 'ten'"),
        (digest("max_items: 0"), "digests[1].max_items", "expected a positive integer, got 0"),
        (digest("related_limit: -1"), "digests[1].related_limit", "expected 0 or more, got -1"),
        (
            digest("excerpt_length: short"),
            "digests[1].excerpt_length",
            "expected an integer, got 'short'",
        ),
        (digest("min_quality: true"), "digests[1].min_quality", "expected an integer, got True"),
        (
            digest("notify_button: true"),
            "digests[1].notify_button",
            "needs ping_role (the role the button gives and takes)",
        ),
        (digest("notify_button: 1"), "digests[1].notify_button", "expected true or false, got 1"),
        (digest("thread: maybe"), "digests[1].thread", "expected true or false, got 'maybe'"),
        (digest("tags: Digest"), "digests[1].tags", "expected a list of strings, got 'Digest'"),
        (
            digest("crosspost: some"),
            "digests[1].crosspost",
            "expected first, all or off, got 'some'",
        ),
        (digest("crosspost: true"), "digests[1].crosspost", "expected first, all or off, got True"),
        (digest("title: ''"), "digests[1].title", "expected a non-empty string, got ''"),
        (
            digest("identity: The Wire"),
            "digests[1].identity",
            "expected a mapping like {name: The Wire, avatar_url: https://...}, got 'The Wire'",
        ),
        (
            digest("identity: {avatar_url: 'https://cdn.example.org/a.png'}"),
            "digests[1].identity.name",
            "missing (the name digests are posted under)",
        ),
        (
            digest("identity: {name: Discord Daily}"),
            "digests[1].identity.name",
            "Discord refuses names containing 'discord', got 'Discord Daily'",
        ),
        (
            digest(f"identity: {{name: {'x' * 81}}}"),
            "digests[1].identity.name",
            "at most 80 characters (Discord's limit), got 81",
        ),
        (
            digest("identity: {name: Wire, avatar_url: 'ftp://cdn.example.org/a.png'}"),
            "digests[1].identity.avatar_url",
            "'ftp://cdn.example.org/a.png' is not an http(s) URL",
        ),
        (
            digest("identity: {name: Wire, colour: red}"),
            "digests[1].identity.colour",
            "unknown setting (known: avatar_url, name)",
        ),
        (digest("template: [a]"), "digests[1].template", "expected a non-empty string, got ['a']"),
        (digest("topics: AI"), "digests[1].topics", "expected a list of strings, got 'AI'"),
        (digest("post_empty: 'yes'"), "digests[1].post_empty", "expected true or false, got 'yes'"),
        (
            digest("order: [quality, random]"),
            "digests[1].order",
            "unknown order 'random' (use quality, heat, newest)",
        ),
        # channels and other Discord ids
        ("guild: -3", "guild", f"{DISCORD_ID} -3"),
        ("review_channel: abc", "review_channel", f"{DISCORD_ID} 'abc'"),
        ("digests:\n  - channel: general", "digests[1].channel", f"{DISCORD_ID} 'general'"),
        (
            "digests:\n  - title: x",
            "digests[1].channel",
            "missing (the id of the channel that receives digests)",
        ),
        ("digests:\n  - channel: 5\n  - channel: '5'", "digests[2].channel", "5 is listed twice"),
        # clustering
        (
            "clustering: true",
            "clustering",
            "expected a mapping like {window: 36h, files: false}, got True",
        ),
        (
            "clustering: {windw: 2d}",
            "clustering.windw",
            "unknown setting (known: files, threshold, window)",
        ),
        ("clustering: {window: 0h}", "clustering.window", f"{DURATION} '0h'"),
        ("clustering: {files: 1}", "clustering.files", "expected true or false, got 1"),
        (
            "clustering: {threshold: 1.5}",
            "clustering.threshold",
            "expected a number between 0 and 1, got 1.5",
        ),
        (
            "clustering: {threshold: high}",
            "clustering.threshold",
            "expected a number between 0 and 1, got 'high'",
        ),
        # durations
        ("catch_up_grace: 6 hours", "catch_up_grace", f"{DURATION} '6 hours'"),
        (digest("max_age: 0d"), "digests[1].max_age", f"{DURATION} '0d'"),
        (digest("max_age: -2"), "digests[1].max_age", f"{DURATION} -2"),
        # cron expressions
        (digest("schedule: 9"), "digests[1].schedule", "expected a cron expression string, got 9"),
        (
            digest("schedule: '0 25 * * *'"),
            "digests[1].schedule",
            '"0 25 * * *": hour must be 0-23',
        ),
        (digest("schedule: '0 9 * *'"), "digests[1].schedule", f'"0 9 * *": {FIVE_FIELDS}, got 4'),
        (
            digest("schedule: '@daily'"),
            "digests[1].schedule",
            f'"@daily": {FIVE_FIELDS}, got 1; write @daily as five fields',
        ),
        (
            digest("schedule: '0 0 30 2 *'"),
            "digests[1].schedule",
            '"0 0 30 2 *": day-of-month 30 never occurs in month 2',
        ),
        # time zones, with and without a schedule
        (
            digest("timezone: Mars/Olympus"),
            "digests[1].timezone",
            "Mars/Olympus: unknown time zone",
        ),
        (
            "digests:\n  - channel: 5\n  - channel: 6\n    schedule: '0 9 * * *'\n"
            "    timezone: Europe/Berln",
            "digests[2].timezone",
            "Europe/Berln: unknown time zone",
        ),
        (
            digest("timezone: ../etc/passwd"),
            "digests[1].timezone",
            "../etc/passwd: unknown time zone",
        ),
        # feeds
        (
            "feeds: https://a.example/f",
            "feeds",
            "expected a list of feeds like [{url: https://example.org/feed.xml}]",
        ),
        ("feeds: [5]", "feeds[1]", "expected a mapping with url, got 5"),
        ("feeds:\n  - topics: [AI]", "feeds[1].url", "missing (the feed's http(s) address)"),
        (
            "feeds:\n  - url: ftp://a.example/f",
            "feeds[1].url",
            "'ftp://a.example/f' is not an http(s) URL",
        ),
        (
            "feeds:\n  - url: https://a.example/f\n    intervall: 5m",
            "feeds[1].intervall",
            f"unknown setting (known: {KNOWN_FEED})",
        ),
        (
            "feeds:\n  - url: https://a.example/f\n    interval: 0m",
            "feeds[1].interval",
            f"{DURATION} '0m'",
        ),
        (
            "feeds:\n  - url: https://a.example/f\n    backfill: -1",
            "feeds[1].backfill",
            "expected 0 or more, got -1",
        ),
        (
            "feeds:\n  - url: https://a.example/f\n    quality: high",
            "feeds[1].quality",
            "expected an integer, got 'high'",
        ),
        (
            "feeds:\n  - https://A.example/f\n  - url: https://a.example/f",
            "feeds[2].url",
            "https://a.example/f is listed twice",
        ),
        ("allow_private_feeds: 'yes'", "allow_private_feeds", "expected true or false, got 'yes'"),
        ("metrics: 9108", "metrics", "expected a mapping like {port: 9108}, got 9108"),
        (
            "metrics: {host: 0.0.0.0}",
            "metrics.port",
            "missing (the port metrics and health checks are served on)",
        ),
        ("metrics: {port: 70000}", "metrics.port", "expected a TCP port (0 to 65535), got 70000"),
        ("metrics: {port: web}", "metrics.port", "expected an integer, got 'web'"),
    ],
)
def test_every_kind_of_config_error_names_file_and_key(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert str(caught.value) == f"{tmp_path / 'newsbot.yaml'}: {key}: {problem}"


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    for text, problem in [
        ("- a\n- b\n", ": expected a mapping of settings, got list"),
        ("digests: [\n", ":2: YAML syntax error: expected the node content, but found"),
    ]:
        with pytest.raises(ConfigError) as caught:
            load(tmp_path, text)
        assert str(caught.value).startswith(f"{tmp_path / 'newsbot.yaml'}{problem}")
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_settings(missing, environ={})
    assert str(caught.value) == f"{missing}: config file not found"
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"title: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"latin\.yaml: cannot read config file \("):
        load_settings(latin, environ={})


def test_an_unconfigured_channel_is_named_with_the_configured_ones(tmp_path: Path) -> None:
    settings = load(tmp_path, "digests:\n  - channel: 5\n  - channel: 6\n")
    with pytest.raises(ConfigError) as caught:
        settings.digest_for(7)
    assert str(caught.value) == (
        f"{tmp_path / 'newsbot.yaml'}: digests: channel 7 is not configured (configured: 5, 6)"
    )
    assert settings.digest_for(6).channel == 6
    assert settings.digest_for(None).channel == 5
    assert Settings().digest_for(None) == DigestChannel(channel=None)


def test_clustering_loads_and_defaults_to_the_clusterers_threshold(tmp_path: Path) -> None:
    from bot.cluster import THRESHOLD

    assert Settings().clustering == Clustering(timedelta(hours=36), files=False)
    assert Clustering().threshold == THRESHOLD
    loaded = load(tmp_path, "clustering: {window: 2d, files: true, threshold: 0.4}")
    assert loaded.clustering == Clustering(timedelta(days=2), files=True, threshold=0.4)


def test_the_digest_schema_declares_every_field() -> None:
    """The key set an operator may write is the dataclass, nothing more and nothing less."""
    declared = KNOWN_DIGEST.split(", ")
    assert sorted(f.name for f in fields(DigestChannel)) == declared


def test_feeds_load_with_their_defaults(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "allow_private_feeds: true\nfeeds:\n  - https://a.example/f\n"
        "  - url: https://B.example/rss?x=1\n    topics: [AI]\n    provider: Bee\n"
        "    quality: 40\n    interval: 1h\n    backfill: 0\n",
    )
    assert settings.allow_private_feeds
    assert settings.feeds == (
        FeedSettings("https://a.example/f"),
        FeedSettings(
            "https://b.example/rss?x=1",
            topics=("AI",),
            provider="Bee",
            quality=40,
            interval=timedelta(hours=1),
            backfill=0,
        ),
    )
    assert settings.feeds[0].interval == timedelta(minutes=15)
    assert settings.feeds[0].backfill == 3
    assert not Settings().allow_private_feeds and Settings().feeds == ()


def test_absent_and_null_keys_take_the_defaults(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "guild: null\nauto_approve: {min_quality: null}\ndigests:\n  - channel: 5\n"
        "    max_items: null\n    order: []\n    title: null\n",
    )
    assert settings.database == tmp_path / "newsbot.db"  # beside the config file
    assert settings.templates is None and settings.guild is None
    assert settings.auto_approve == AutoApprove()
    assert (settings.review_feed, settings.review_feed_max) == ("items", 30)
    assert settings.catch_up_grace == timedelta(hours=6)
    assert settings.digests == (DigestChannel(channel=5),)
    assert settings.source == str(tmp_path / "newsbot.yaml")
    assert settings.token == Secret("") and settings.api_base == DEFAULT_API_BASE


def test_a_full_config_loads_normalised(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """\
database: data/q.db
templates: tpl
guild: "789"
moderator_roles: [Moderator, 42]
review_channel: 123
auto_approve: {min_quality: 60, providers: [Reuters.com], topics: [AI], feeds: [hn]}
review_feed: off
review_feed_max: 12
catch_up_grace: 30m
digests:
  - channel: 456
    schedule: "  0  9 * *   1-5 "
    timezone: Europe/Berlin
    template: embed
    max_items: 5
    topics: [AI, 7]
    min_quality: 40
    providers: [Reuters.com]
    max_age: 2w
    order: [heat]
    related_limit: 0
    excerpt_length: 120
    title: AI digest
    post_empty: true
    ping_role: "1234"
    notify_button: true
    crosspost: all
    identity: {name: The Wire, avatar_url: "https://cdn.example.org/wire.png"}
  - channel: 457
    max_age: 12
""",
    )
    assert settings.database == tmp_path / "data" / "q.db"
    assert settings.templates == tmp_path / "tpl"
    assert (settings.guild, settings.review_channel) == (789, 123)
    assert settings.moderator_roles == ("Moderator", 42)
    assert settings.auto_approve == AutoApprove(
        min_quality=60, providers=("reuters.com",), topics=("ai",), feeds=("hn",)
    )
    assert (settings.review_feed, settings.review_feed_max) == ("off", 12)  # bare off: YAML false
    assert settings.catch_up_grace == timedelta(minutes=30)
    first, second = settings.digests
    assert first == DigestChannel(
        channel=456,
        schedule="0 9 * * 1-5",
        timezone="Europe/Berlin",
        template="embed",
        max_items=5,
        topics=("AI", "7"),
        min_quality=40,
        providers=("reuters.com",),
        max_age=timedelta(weeks=2),
        order=("heat",),
        related_limit=0,
        excerpt_length=120,
        ping_role=1234,
        notify_button=True,
        crosspost=Crosspost.ALL,
        identity=Identity(name="The Wire", avatar_url="https://cdn.example.org/wire.png"),
        title="AI digest",
        post_empty=True,
    )
    assert second.max_age == timedelta(hours=12) and second.schedule is None


def test_the_environment_and_the_flag_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "conf.yaml"
    path.write_text("database: file.db\n", encoding="utf-8")
    environ = {
        "NEWSBOT_CONFIG": str(path),
        "NEWSBOT_DB": str(tmp_path / "env.db"),
        "DISCORD_TOKEN": " t0ken\n",
        "NEWSBOT_DISCORD_API_BASE": "http://127.0.0.1:1/api",
        "NEWSBOT_DISCORD_GATEWAY": "ws://127.0.0.1:2",
    }
    settings = load_settings(environ=environ)
    assert settings.database == tmp_path / "env.db"
    assert settings.token.reveal() == "t0ken" and "t0ken" not in repr(settings)
    assert (settings.api_base, settings.gateway) == ("http://127.0.0.1:1/api", "ws://127.0.0.1:2")
    assert load_settings(db=tmp_path / "flag.db", environ=environ).database == tmp_path / "flag.db"
    del environ["NEWSBOT_DB"]
    assert load_settings(environ=environ).database == tmp_path / "file.db"


def test_a_postgresql_url_selects_the_postgresql_store_and_hides_its_password(
    tmp_path: Path,
) -> None:
    settings = load(tmp_path, "database: postgresql://newsbot:s3cret@db.internal:5433/news\n")
    assert settings.database == DatabaseUrl("postgresql://newsbot:s3cret@db.internal:5433/news")
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.database)
    environ = {"NEWSBOT_CONFIG": str(tmp_path / "newsbot.yaml")}
    environ["NEWSBOT_DB"] = "postgres://127.0.0.1/other"
    assert load_settings(environ=environ).database == DatabaseUrl("postgres://127.0.0.1/other")
    # A file path stays SQLite, relative to the config file.
    assert load(tmp_path, "database: postgresql.db\n").database == tmp_path / "postgresql.db"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("postgresql://h:99999/news", "not a valid PostgreSQL URL (Port out of range 0-65535)"),
        ("postgresql://u:pw@h/", "a PostgreSQL URL names its database"),
    ],
)
def test_a_bad_postgresql_url_names_the_key_and_the_file(
    tmp_path: Path, value: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, f"database: {value}\n")
    assert str(caught.value).startswith(f"{tmp_path / 'newsbot.yaml'}: database: {problem}")
    assert "pw" not in str(caught.value)
    with pytest.raises(ConfigError, match=f"^NEWSBOT_DB: {re.escape(problem)}"):
        load_settings(environ={"NEWSBOT_DB": value})
    with pytest.raises(ConfigError, match=f"^--db: {re.escape(problem)}"):
        load_settings(db=value, environ={})


def test_corrections_and_retractions_settings(tmp_path: Path) -> None:
    defaults = load(tmp_path, digest("title: News"))
    assert defaults.correction_window == timedelta(hours=48)
    assert defaults.digests[0].corrections is Corrections.EDIT
    assert defaults.digests[0].retraction is Retraction.STRIKE
    text = "correction_window: 6h\n" + digest("corrections: off\n    retraction: remove")
    settings = load(tmp_path, text)
    assert settings.correction_window == timedelta(hours=6)
    assert settings.digests[0].corrections is Corrections.OFF
    assert settings.digests[0].retraction is Retraction.REMOVE
