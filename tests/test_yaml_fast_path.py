"""The parser's lean YAML constructor gives exactly what PyYAML's safe loader gives, and scalars
the resolver accepts but cannot be built (``0x_``, month 13) are located errors, not crashes."""

from __future__ import annotations

import math
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.articles import _load, _Loader, parse_article
from bot.clock import SystemClock
from bot.errors import ArticleError
from bot.ingest import ingest
from bot.store import SQLiteStore


def shape(value: Any) -> Any:
    """``value`` with types made explicit (True == 1 and nan != nan would hide differences)."""
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if isinstance(value, dict):
        return ("map", [(shape(k), shape(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("seq", [shape(v) for v in value])
    if isinstance(value, tuple):
        return ("tuple", [shape(v) for v in value])
    if isinstance(value, set):
        return ("set", sorted(repr(v) for v in value))
    return (type(value).__name__, repr(value))


def pyyaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # the safe loader the parser builds on


TRICKY = [
    "---\na: &x {b: 1}\nc: *x\n",
    "---\na: &x [1, [2]]\nb: *x\n",
    "---\na: &s 1\nb: *s\n",
    "---\n<<: {x: 1}\ny: 2\n",
    "---\nbase: &b {x: 1, y: 1}\nd:\n  <<: *b\n  y: 2\n",
    "---\nd:\n  =: 1\n",
    "---\na: !!binary aGVsbG8=\n",
    "---\na: !!set {x, y}\n",
    "---\na: !!omap [x: 1, y: 2]\n",
    "---\na: !!pairs [x: 1]\n",
    "---\na: !!str 1\nb: !!float 1\nc: !!map {d: 1}\ne: !!seq [1]\n",
    "---\na: .nan\nb: -.inf\nc: 1e3\nd: 1_000\ne: 0x1F\nf: 0o17\ng: 017\nh: 1:30\ni: -1:0\n",
    "---\na: yes\nb: No\nc: on\nd: ~\ne: null\nf: ''\ng: 99999999999999999999999\n",
    "---\na: 2020-01-02\nb: 2020-01-02T03:04:05Z\nc: 2020-01-02 03:04:05.123456789 +05:30\n",
    "---\n1: x\ntrue: y\n~: z\n2020-01-01: d\n1.5: f\n",
    "---\nd: {b: 1, b: 2}\n",
    "---\n[1, 2]\n",
    "---\n!!map {a: 1}\n",
    "---\nplain text\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_lean_constructor_matches_pyyaml_on_tricky_documents(text: str) -> None:
    assert shape(_load("t.md", text)[0]) == shape(pyyaml(text))


@pytest.mark.parametrize(
    "text",
    [
        "---\na: " + "[" * 990 + "1" + "]" * 990 + "\n",
        "---\na: " + "{b: " * 990 + "1" + "}" * 990 + "\n",
    ],
)
def test_documents_deeper_than_the_recursion_limit_load_as_pyyaml_loads_them(text: str) -> None:
    # libyaml allows 1,000 levels; where the lean constructor runs out of recursion it hands
    # the document to PyYAML's.
    data, expected = _load("t.md", text)[0], pyyaml(text)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)  # for the comparison only
    try:
        assert data == expected
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize(
    "text",
    [
        "---\n? [1, 2]\n: x\n",  # unhashable key
        "---\n? {a: 1}\n: x\n",
        "---\na: !foo bar\n",  # unknown tag
        "---\na: =\n",
        "---\na: !!binary '!!'\n",
    ],
)
def test_lean_constructor_leaves_the_rest_to_pyyaml(text: str) -> None:
    try:
        expected: Any = ("value", shape(pyyaml(text)))
    except yaml.YAMLError as exc:
        expected = ("error", getattr(exc, "problem", None))
    try:
        got: Any = ("value", shape(_load("t.md", text)[0]))
    except ArticleError as exc:
        got = ("error", exc.problem.removeprefix("YAML syntax error: "))
    assert got == expected


def test_recursive_aliases_load_as_pyyaml_builds_them() -> None:
    data = _load("t.md", "---\na: &a [1, *a]\n")[0]
    assert data["a"][0] == 1
    assert data["a"][1] is data["a"]


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.dates()
    | st.datetimes(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers() | st.booleans(), children, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=10), values), st.booleans())
def test_lean_constructor_matches_pyyaml_on_arbitrary_documents(
    fields: dict[str, object], flow: bool
) -> None:
    text = "---\n" + yaml.safe_dump(fields, allow_unicode=True, default_flow_style=flow)
    assert shape(_load("h.md", text)[0]) == shape(pyyaml(text))


OK_FIELDS = "title: T\nwebUrl: https://example.com/1\n"


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
        # A merge key takes PyYAML's own constructor; the bad value is still found.
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
    opened = await SQLiteStore.open(tmp_path / "q.db", SystemClock())
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
