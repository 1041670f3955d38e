"""YAML features through the parser: what PyYAML's safe loader builds reaches the article's
fields (aliases, merge keys, explicit tags), what it refuses is a located error, and a scalar it
cannot build (``0x_``, month 13) is an error at its line, not a crash."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.articles import Article, Provider, parse_article
from bot.clock import ManualClock
from bot.errors import ArticleError
from bot.ingest import ingest
from bot.store import SQLiteStore

OK_FIELDS = "title: T\nwebUrl: https://example.com/1\n"


def parse(front: str) -> Article:
    return parse_article("t.md", f"---\n{front}---\n".encode())


@pytest.mark.parametrize(
    ("front", "field", "value"),
    [
        (
            "p: &p {name: Outlet, domain: outlet.example}\nprovider: *p\n" + OK_FIELDS,
            "provider",
            Provider(name="Outlet", domain="outlet.example"),
        ),
        (
            "provider: {<<: {name: Merged, domain: m.example}, name: Own}\n" + OK_FIELDS,
            "provider",
            Provider(name="Own", domain="m.example"),
        ),
        (
            "base: &b {title: Merged, webUrl: 'https://example.com/m', quality: 7}\n<<: *b\n",
            "quality",
            7,
        ),
        ("t: &t AI\ntopics: [*t, Space, *t]\n" + OK_FIELDS, "topics", ("AI", "Space")),
        (OK_FIELDS + "topics: !!seq [1, !!str 2]\n", "topics", ("1", "2")),
        (OK_FIELDS + "quality: 0x1F\nheat: 1_000\n", "quality", 31),
        (OK_FIELDS + "heat: -017\n", "heat", -15),
        (OK_FIELDS + "excerpt: !!str 2020-01-01\n", "excerpt", "2020-01-01"),
        (OK_FIELDS + "published: yes\n", "published", True),
        (
            OK_FIELDS + "publishedDateTime: 2020-01-02 03:04:05.123456789 +05:30\n",
            "published_at",
            datetime(2020, 1, 1, 21, 34, 5, 123456, tzinfo=UTC),
        ),
        (
            OK_FIELDS + "publishedDateTime: 2020-01-02\n",
            "published_at",
            datetime(2020, 1, 2, tzinfo=UTC),
        ),
    ],
)
def test_yaml_features_reach_the_fields(front: str, field: str, value: object) -> None:
    assert getattr(parse(front), field) == value


@pytest.mark.parametrize(
    "extra",
    [
        "blob: !!binary aGVsbG8=\n",
        "set: !!set {x, y}\nomap: !!omap [x: 1, y: 2]\npairs: !!pairs [x: 1]\n",
        "loop: &a [1, *a]\n",  # a recursive alias, shared rather than expanded
        "d: {b: 1, b: 2}\n",  # duplicate keys are refused at the top level only
        "n: .nan\ni: -.inf\nbig: 99999999999999999999999\n",
        "1: x\ntrue: y\n~: z\n2020-01-01: d\n1.5: f\n",
        pytest.param(
            "deep: " + "[" * 990 + "1" + "]" * 990 + "\n",
            marks=pytest.mark.skipif(
                not yaml.__with_libyaml__, reason="the pure-Python composer recurses per level"
            ),
        ),
    ],
)
def test_unknown_fields_may_use_any_safe_yaml_and_are_kept(extra: str) -> None:
    article = parse(OK_FIELDS + extra)
    assert (article.title, article.url) == ("T", "https://example.com/1")
    assert article.source == f"---\n{OK_FIELDS}{extra}---\n"


@pytest.mark.parametrize(
    ("front", "message"),
    [
        (OK_FIELDS + "? [1, 2]\n: x\n", "t.md:4: YAML syntax error: found unhashable key"),
        (OK_FIELDS + "? {a: 1}\n: x\n", "t.md:4: YAML syntax error: found unhashable key"),
        (
            OK_FIELDS + "a: !foo bar\n",
            "t.md:4: YAML syntax error: could not determine a constructor for the tag '!foo'",
        ),
        (
            OK_FIELDS + "a: =\n",
            "t.md:4: YAML syntax error: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:value'",
        ),
        (
            OK_FIELDS + "a: !!python/tuple [1, 2]\n",
            "t.md:4: YAML syntax error: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/tuple'",
        ),
        (
            OK_FIELDS + "a: " + "[" * 1_001 + "]" * 1_001 + "\n",
            "t.md:4: YAML syntax error: exceeded maximum nesting depth",
        ),
        (
            OK_FIELDS + "topics: &t [a, *t]\n",
            "t.md:4: topics: entry 2: expected a string, got a list",
        ),
        # A merge key brings its keys in beside the written ones: the same key twice.
        (
            "base: &b {title: Merged, webUrl: 'https://example.com/m'}\n<<: *b\ntitle: Own\n",
            "t.md:4: title: duplicate key",
        ),
    ],
)
def test_what_the_safe_loader_refuses_is_a_located_error(front: str, message: str) -> None:
    if "nesting" in message and not yaml.__with_libyaml__:
        pytest.skip("the nesting limit is libyaml's")
    with pytest.raises(ArticleError) as caught:
        parse(front)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("front", "message"),
    [
        (
            OK_FIELDS + "quality: 0x_\n",
            "b.md:4: YAML error: cannot read '0x_' (invalid literal for int() with base 16: '')",
        ),
        (
            OK_FIELDS + "publishedDateTime: 2026-13-01\n",
            "b.md:4: YAML error: cannot read '2026-13-01' (month must be in 1..12)",
        ),
        (
            OK_FIELDS + "related:\n  - title: R\n    publishedDateTime: 2026-02-30\n",
            "b.md:6: YAML error: cannot read '2026-02-30' (day is out of range for month)",
        ),
        (
            OK_FIELDS + "extra: !!bool maybe\n",
            "b.md:4: YAML error: cannot read 'maybe' ('maybe')",
        ),
        # A merged value is still found at its own line.
        (
            "base: &b {heat: 0b_}\n<<: *b\n" + OK_FIELDS,
            "b.md:2: YAML error: cannot read '0b_' (invalid literal for int() with base 2: '')",
        ),
    ],
)
def test_unbuildable_scalars_are_located_errors(front: str, message: str) -> None:
    with pytest.raises(ArticleError) as caught:
        parse_article("b.md", f"---\n{front}---\n".encode())
    assert str(caught.value) == message


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = await SQLiteStore.open(
        tmp_path / "q.db", ManualClock(datetime(2026, 12, 1, tzinfo=UTC))
    )
    yield opened
    await opened.close()


async def test_an_unbuildable_scalar_does_not_stop_the_batch(
    store: SQLiteStore, tmp_path: Path
) -> None:
    (tmp_path / "a.md").write_text("---\n" + OK_FIELDS + "---\n", encoding="utf-8")
    bad = tmp_path / "b.md"
    bad.write_text("---\ntitle: B\nwebUrl: https://example.com/2\nheat: 0x_\n---\n")
    report = await ingest(store, [tmp_path])
    assert report.summary == "1 new, 0 updated, 0 unchanged, 1 rejected"
    assert report.errors == [
        f"{bad}:4: YAML error: cannot read '0x_' (invalid literal for int() with base 16: '')"
    ]
