"""The article parser: every shipped seed parses, every bad input gets its exact message."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.articles import canonical_url, export_text, parse_article
from bot.errors import ArticleError

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.md"))

GOOD = "---\ntitle: A title\nwebUrl: https://example.com/a\nquality: 50\n---\n"


def doc(*lines: str) -> bytes:
    return ("---\n" + "\n".join(lines) + "\n---\n").encode()


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name)
def test_every_seed_parses_cleanly(path: Path) -> None:
    article = parse_article(str(path), path.read_bytes())
    assert article.title
    assert article.url.startswith("https://")
    assert article.warnings == ()


def test_seeds_are_many_and_distinct() -> None:
    articles = [parse_article(str(p), p.read_bytes()) for p in SEED_FILES]
    assert len(articles) >= 31
    assert len({a.url for a in articles}) == len(articles)
    assert sum(a.published for a in articles) >= 1


def test_the_example_article_is_read_completely() -> None:
    article = parse_article("ibm.md", (SEEDS / "ibm-facial-recognition.md").read_bytes())
    assert article.title.startswith("In wake of George Floyd’s death")
    assert article.provider is not None and article.provider.domain == "latimes.com"
    assert article.topics == ("Computer Vision", "AI")
    assert article.quality == 54 and article.heat == -1 and article.published is False
    assert article.published_at == datetime(2020, 6, 10, 10, 4, tzinfo=UTC)
    assert [r.provider.name for r in article.related if r.provider] == [
        "CNET",
        "Forbes",
        "The Guardian",
        "Nature",
    ]
    assert article.thumbnail is not None and article.thumbnail.startswith("https://ca-times")
    assert "secured:" in article.source


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "bad.md:1: empty file"),
        (b"   \n\n", "bad.md:1: empty file"),
        (b"title: x\n", "bad.md:1: not a front-matter document (the first line must be '---')"),
        (
            b"---\ntitle: x\n",
            "bad.md:1: front matter is not closed (no '---' line after the opening one)",
        ),
        (b"---\n---\n", "bad.md:1: front matter is empty"),
        (
            b"---\ntitle: [unclosed\nwebUrl: x\n---\n",
            "bad.md:3: YAML syntax error: did not find expected ',' or ']'",
        ),
        (doc("- a", "- b"), "bad.md:2: front matter must be a mapping of fields, got a list"),
        (doc("webUrl: https://e.com/"), "bad.md:2: title: missing (required)"),
        (doc("title:", "webUrl: https://e.com/"), "bad.md:2: title: must not be empty"),
        (doc("title: '  '", "webUrl: https://e.com/"), "bad.md:2: title: must not be empty"),
        (
            doc("title: [a, b]", "webUrl: https://e.com/"),
            "bad.md:2: title: expected a string, got a list",
        ),
        (doc("title: x"), "bad.md:2: title: missing (required)".replace("title", "webUrl")),
        (
            doc("title: x", "webUrl: 'javascript:alert(1)'"),
            "bad.md:3: webUrl: 'javascript:alert(1)' is not an http(s) URL",
        ),
        (
            doc("title: x", "webUrl: ftp://e.com/f"),
            "bad.md:3: webUrl: 'ftp://e.com/f' is not an http(s) URL",
        ),
        (
            doc("title: x", "webUrl: /relative/path"),
            "bad.md:3: webUrl: '/relative/path' is not an http(s) URL",
        ),
        (
            doc("title: x", "webUrl: 'https://e.com/a b'"),
            "bad.md:3: webUrl: 'https://e.com/a b' contains whitespace",
        ),
        (
            doc("title: x", 'webUrl: "https://e\\u200b.com/"'),
            "bad.md:3: webUrl: 'https://e\\u200b.com/' contains control or invisible characters",
        ),
        (
            doc("title: x", "webUrl: https://e.com/", "quality: high"),
            "bad.md:4: quality: expected an integer, got a string ('high')",
        ),
        (
            doc("title: x", "webUrl: https://e.com/", "heat: 1.5"),
            "bad.md:4: heat: expected an integer, got a number (1.5)",
        ),
        (
            doc("title: x", "webUrl: https://e.com/", "topics: AI"),
            "bad.md:4: topics: expected a list of strings, got a string",
        ),
        (
            doc("title: x", "webUrl: https://e.com/", "topics: [AI, {a: b}]"),
            "bad.md:4: topics: entry 2: expected a string, got a mapping",
        ),
        (
            doc("title: x", "webUrl: https://e.com/", "publishedDateTime: yesterday"),
            "bad.md:4: publishedDateTime: not an ISO 8601 timestamp ('yesterday')",
        ),
        (
            doc("title: x", "webUrl: https://e.com/", "published: maybe"),
            "bad.md:4: published: expected true or false, got a string ('maybe')",
        ),
        (
            doc("title: x", "webUrl: https://e.com/", "provider: [a]"),
            "bad.md:4: provider: expected a mapping with name and domain, got a list",
        ),
        (
            doc("title: x", "webUrl: https://e.com/", "related: nope"),
            "bad.md:4: related: expected a list of articles, got a string",
        ),
        (
            doc("title: " + "x" * 1001, "webUrl: https://e.com/"),
            "bad.md:2: title: too long (1,001 characters; at most 1,000)",
        ),
        (
            doc("title: x", "webUrl: https://e.com/", "excerpt: " + "y" * 20_001),
            "bad.md:4: excerpt: too long (20,001 characters; at most 20,000)",
        ),
        (doc("title: x", "title: y", "webUrl: https://e.com/"), "bad.md:3: title: duplicate key"),
        (b"---\ntitle: caf\xe9\n---\n", "bad.md:2: not valid UTF-8 (byte 0xe9 at offset 14)"),
        (b"---\ntitle: x\x00\n---\n", "bad.md:2: contains NUL bytes (a binary file?)"),
        (
            b"---\n" + b"x: " + b"a" * (1024 * 1024) + b"\n---\n",
            "bad.md:1: file too large (1,048,588 bytes; at most 1 MiB)",
        ),
        (
            doc("title: !!python/object:os.system x", "webUrl: https://e.com/"),
            "bad.md:2: YAML syntax error: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object:os.system'",
        ),
    ],
)
def test_bad_input_is_reported_with_file_line_and_field(raw: bytes, message: str) -> None:
    with pytest.raises(ArticleError) as caught:
        parse_article("bad.md", raw)
    assert str(caught.value) == message


def test_related_entry_without_url_is_dropped_with_a_warning() -> None:
    raw = doc(
        "title: x",
        "webUrl: https://e.com/",
        "related:",
        "  - title: kept",
        "    webUrl: https://other.org/1",
        "  - title: no url",
        "  - title: bad url",
        "    webUrl: 'javascript:x'",
    )
    article = parse_article("a.md", raw)
    assert [r.title for r in article.related] == ["kept"]
    assert article.warnings == (
        "a.md:4: warning: related[2]: no webUrl; entry dropped",
        "a.md:4: warning: related[3]: webUrl 'javascript:x' is not an http(s) URL; entry dropped",
    )


def test_body_and_unknown_fields_are_kept_for_export() -> None:
    raw = b"---\ntitle: x\nwebUrl: https://e.com/\nlanguage: fr\npaywall: true\n---\n\nNotes.\n"
    article = parse_article("a.md", raw)
    assert article.body == "\nNotes.\n"
    assert export_text(article, published=False).encode() == raw
    republished = export_text(article, published=True)
    again = parse_article("b.md", republished.encode())
    assert again.published is True
    assert yaml.safe_load(again.source.strip("-\n"))["language"] == "fr"
    assert again.body == article.body


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://Example.COM/Path?q=1#frag", "https://example.com/Path?q=1"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://[::1]:8080/a", "http://[::1]:8080/a"),
        # tracking parameters are not part of the identity; the others keep order and form
        ("https://e.com/a?utm_source=x&id=3&UTM_Medium=y", "https://e.com/a?id=3"),
        ("https://e.com/a?fbclid=1&gclid=2&mc_cid=3&mc_eid=4", "https://e.com/a"),
        ("https://e.com/a?b=%20&utm_=&a=1&&fbclid", "https://e.com/a?b=%20&a=1"),
        ("https://e.com/a?utmost=1&xfbclid=2", "https://e.com/a?utmost=1&xfbclid=2"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_offset_timestamps_are_stored_as_utc() -> None:
    article = parse_article(
        "a.md",
        doc("title: x", "webUrl: https://e.com/", "publishedDateTime: 2026-11-01T10:00:00+01:00"),
    )
    assert article.published_at == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "title",
                "webUrl",
                "excerpt",
                "quality",
                "heat",
                "topics",
                "images",
                "related",
                "provider",
                "published",
                "publishedDateTime",
                "other",
            ]
        ),
        yaml_values,
    )
)
def test_arbitrary_yaml_never_crashes_the_parser(fields: dict[str, object]) -> None:
    raw = ("---\n" + yaml.safe_dump(fields, allow_unicode=True) + "---\n").encode()
    try:
        article = parse_article("h.md", raw)
    except ArticleError as exc:
        assert str(exc).startswith("h.md:")
    else:
        assert article.title.strip()
        assert article.url.startswith(("http://", "https://"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash_the_parser(raw: bytes) -> None:
    try:
        parse_article("b.md", b"---\n" + raw)
    except ArticleError as exc:
        assert str(exc).startswith("b.md:")
