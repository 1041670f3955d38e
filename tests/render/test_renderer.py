"""Rendering digests with the real templates: golden outputs for the shipped seeds, Discord's
limits for any articles (hypothesis), operator overrides, template errors and the sandbox.

Regenerate the golden files after an intended change to a built-in template:

    NEWSBOT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_render.py -k golden
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import limits
from bot.articles import Article, Image, Provider, Related, canonical_url, parse_article
from bot.config import DigestChannel
from bot.errors import TemplateProblem
from bot.limits import length
from bot.render import Renderer, builtin_templates, environment, sample_article
from bot.render.pack import PackedMessage, embed_problems

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
REF = "golden"
KINDS = ("digest", "embed")


def seed_articles() -> list[Article]:
    return [parse_article(str(p), p.read_bytes()) for p in sorted(SEEDS.glob("*.md"))]


@pytest.fixture(scope="module")
def seeds() -> list[Article]:
    articles = seed_articles()
    assert articles, "no seed files"
    return articles


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def article(
    title: str = "A title",
    url: str = "https://news.example.com/story",
    *,
    excerpt: str = "An excerpt.",
    provider: str | None = "Example News",
    related: tuple[Related, ...] = (),
    published_at: datetime | None = NOW - timedelta(hours=3),
    images: tuple[Image, ...] = (),
    topics: tuple[str, ...] = (),
) -> Article:
    return Article(
        url=canonical_url(url),
        web_url=url,
        title=title,
        excerpt=excerpt,
        published_at=published_at,
        provider=Provider(name=provider, domain="news.example.com") if provider else None,
        related=related,
        images=images,
        topics=topics,
    )


def related(url: str, outlet: str | None = "Other", title: str = "Other take") -> Related:
    return Related(title=title, url=url, provider=Provider(name=outlet) if outlet else None)


def digest(template: str = "digest", **changes: Any) -> DigestChannel:
    return replace(DigestChannel(channel=None, max_items=100, template=template), **changes)


# -- checks shared by the tests -------------------------------------------------------------------

PLAIN_MENTION = re.compile(r"<[@#:/]|<[at]:|@(everyone|here)|\]\(|://", re.IGNORECASE)


def live_angle_brackets(text: str) -> list[str]:
    """Unescaped ``<`` that are not one of our ``<https://...>`` link wrappers."""
    found = []
    for match in re.finditer("<", text):
        backslashes = len(text[: match.start()]) - len(text[: match.start()].rstrip("\\"))
        if backslashes % 2:
            continue
        if not re.match(r"<https?://[^\s<>()]+>", text[match.start() :]):
            found.append(text[match.start() : match.start() + 20])
    return found


def assert_no_live_mentions(messages: list[PackedMessage] | list[dict[str, Any]]) -> None:
    for message in messages:
        payload = message.payload if isinstance(message, PackedMessage) else message
        markdown = [payload["content"]]
        plain: list[str] = []
        for embed in payload.get("embeds", []):
            markdown.append(embed.get("description", ""))
            markdown += [f["value"] for f in embed.get("fields", [])]
            plain += [
                embed.get("title", ""),
                embed.get("author", {}).get("name", ""),
                embed.get("footer", {}).get("text", ""),
            ]
            plain += [f["name"] for f in embed.get("fields", [])]
        for text in markdown:
            assert not re.search(r"@(everyone|here)", text, re.IGNORECASE), text
            assert live_angle_brackets(text) == [], text
        for text in plain:
            assert not PLAIN_MENTION.search(text), text


def assert_within_limits(messages: list[PackedMessage]) -> None:
    for message in messages:
        payload = message.payload
        assert payload["allowed_mentions"] == {"parse": []}
        assert length(payload["content"]) <= limits.CONTENT_MAX
        embeds = payload.get("embeds", [])
        assert len(embeds) <= limits.EMBEDS_PER_MESSAGE
        total = 0
        for embed in embeds:
            assert embed_problems(embed) == []
            total += sum(
                length(x)
                for x in [
                    embed.get("title", ""),
                    embed.get("description", ""),
                    embed.get("author", {}).get("name", ""),
                    embed.get("footer", {}).get("text", ""),
                ]
                + [f["name"] + f["value"] for f in embed.get("fields", [])]
            )
        assert total <= limits.EMBEDS_TOTAL_MAX
        urls = [canonical_url(e["url"]) for e in embeds if "url" in e]
        assert len(urls) == len(set(urls))


def assert_complete(messages: list[PackedMessage], count: int, ref: str) -> None:
    """Every item once, in order, and nothing of newsbot's machinery (the digest's ref, a part
    counter) in what readers see."""
    assert [i for m in messages for i in m.item_indices] == list(range(count))
    for message in messages:
        assert ref not in message.content
        assert not re.search(r"part \d+/\d+|newsbot ·", message.content), message.content


# -- golden outputs -------------------------------------------------------------------------------


def golden_json(messages: list[PackedMessage]) -> str:
    data = [{"item_indices": list(m.item_indices), "payload": m.payload} for m in messages]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def golden_text(messages: list[PackedMessage]) -> str:
    parts = []
    for number, message in enumerate(messages, 1):
        parts.append(f"======== message {number}/{len(messages)} ========\n{message.content}\n")
        for embed in message.payload.get("embeds", []):
            parts.append(f"--- embed: {json.dumps(embed, indent=2, ensure_ascii=False)}\n")
    return "".join(parts)


@pytest.mark.parametrize("kind", KINDS)
def test_golden_digest_of_the_seeds(renderer: Renderer, seeds: list[Article], kind: str) -> None:
    messages = renderer.render_digest(seeds, digest(kind), now=NOW, ref=REF)
    assert_within_limits(messages)
    assert_complete(messages, len(seeds), REF)
    assert_no_live_mentions(messages)
    outputs = {f"{kind}.json": golden_json(messages), f"{kind}.txt": golden_text(messages)}
    if os.environ.get("NEWSBOT_UPDATE_GOLDEN") == "1":
        # Writing and then comparing would check a file against itself: skip instead, so an
        # update run never reports a golden check as passed.
        GOLDEN.mkdir(exist_ok=True)
        for name, text in outputs.items():
            (GOLDEN / name).write_text(text, encoding="utf-8")
        pytest.skip(f"golden files regenerated: {', '.join(sorted(outputs))}")
    for name, text in outputs.items():
        path = GOLDEN / name
        assert path.exists(), f"{path} missing: run with NEWSBOT_UPDATE_GOLDEN=1"
        assert path.read_text(encoding="utf-8") == text, (
            f"{name} changed; if intended, regenerate with NEWSBOT_UPDATE_GOLDEN=1"
        )


def ten_best(seeds: list[Article]) -> list[Article]:
    """The seeds a default digest takes: the 10 of highest quality, newest first on a tie."""

    def key(item: Article) -> tuple[int, float]:
        when = item.published_at.timestamp() if item.published_at else 0.0
        return (-(item.quality or 0), -when)

    return sorted(seeds, key=key)[:10]


@pytest.mark.parametrize(("kind", "most"), [("digest", 3), ("embed", 2)])
def test_the_ten_best_seeds_read_in_few_messages(
    renderer: Renderer, seeds: list[Article], kind: str, most: int
) -> None:
    """The default templates put a ten-story digest in at most 3 text messages (it took 5
    with whole excerpts and three related links) or 2 embed messages, with a sentence or two of
    every excerpt and nothing of newsbot's machinery."""
    best = ten_best(seeds)
    messages = renderer.render_digest(best, digest(kind, max_items=10), now=NOW, ref="best10")
    assert len(messages) <= most
    assert_within_limits(messages)
    assert_complete(messages, 10, "best10")
    shown = json.dumps([m.payload for m in messages], ensure_ascii=False)
    for item in best:
        assert item.title.split()[0] in shown


@pytest.mark.parametrize("kind", KINDS)
def test_every_seed_renders_alone_within_limits(
    renderer: Renderer, seeds: list[Article], kind: str
) -> None:
    for item in seeds:
        payload = renderer.render_item(item, digest(kind), now=NOW)
        assert payload["allowed_mentions"] == {"parse": []}
        assert length(payload["content"]) <= limits.CONTENT_MAX
        for embed in payload.get("embeds", []):
            assert embed_problems(embed) == []
        assert_no_live_mentions([payload])
        messages = renderer.render_digest([item], digest(kind), now=NOW, ref="one")
        assert len(messages) == 1
        assert_within_limits(messages)


def test_text_item_layout(renderer: Renderer) -> None:
    item = article(
        "Title (with parens)",
        excerpt="Line one.\n\nLine two.",
        related=(related("https://other.example/a", "Other Outlet"),),
    )
    payload = renderer.render_item(item, digest(), now=NOW)
    assert payload == {
        "content": "**1. [Title (with parens)](<https://news.example.com/story>)**\n"
        "-# Example News · 1 Dec 2026\n"
        "Line one. Line two.\n"
        "-# Also covered by [Other Outlet](<https://other.example/a>)",
        "allowed_mentions": {"parse": []},
    }


def test_embed_item_layout(renderer: Renderer) -> None:
    item = article(
        "Title *stars* <@1>",
        excerpt="Excerpt **bold**",
        images=(Image(url="javascript:x"), Image(url="https://img.example/a.png")),
        topics=("AI", "Policy_x"),
        related=(related("https://other.example/a", "Other", "Their [take]"),),
    )
    payload = renderer.render_item(item, digest("embed"), now=NOW)
    assert payload["content"] == ""
    [embed] = payload["embeds"]
    assert embed == {
        "title": "Title *stars* <\u200b@1>",
        "url": "https://news.example.com/story",
        "description": "Excerpt \\*\\*bold\\*\\*",
        "color": 0x5865F2,
        "author": {"name": "Example News"},
        "thumbnail": {"url": "https://img.example/a.png"},
        "fields": [
            {
                "name": "Also covered by",
                "value": "Their \\[take\\] [↗](<https://other.example/a>) · Other",
                "inline": False,
            }
        ],
        "footer": {"text": "AI · Policy_x"},
        "timestamp": "2026-12-01T05:00:00+00:00",
    }


def test_hostile_text_renders_literally(renderer: Renderer) -> None:
    hostile = "**[click](https://evil)** @everyone <@&123>"
    item = article(hostile, excerpt=hostile, provider=hostile)
    [message] = renderer.render_digest([item], digest(), now=NOW, ref="x1")
    content = message.content
    escaped = "\\*\\*\\[click\\]\\(https\\://evil\\)\\*\\* @\u200beveryone \\<@&123\\>"
    assert f"**1. {escaped} [↗](<https://news.example.com/story>)**" in content
    assert f"\n{escaped}\n" in content
    assert_no_live_mentions([message])
    [embed_message] = renderer.render_digest([item], digest("embed"), now=NOW, ref="x1")
    assert_no_live_mentions([embed_message])
    assert embed_message.payload["embeds"][0]["title"] == (
        "**[click]\u200b(https:\u200b//evil)** @\u200beveryone <\u200b@&123>"
    )


# -- related coverage -----------------------------------------------------------------------------


def test_related_links_are_deduplicated_capped_and_exclude_the_article(
    renderer: Renderer,
) -> None:
    item = article(
        related=(
            related("https://news.example.com/story#comments", "Self"),  # the article itself
            related("https://a.example/1", "A"),
            related("HTTPS://A.EXAMPLE/1", "A again"),  # same canonical URL
            related("javascript:alert(1)", "Bad"),  # never linked
            related("https://b.example/2", None),  # no provider: the domain is shown
            related("https://c.example/3", "C"),
            related("https://d.example/4", "D"),
        )
    )
    content = renderer.render_item(item, digest(related_limit=3), now=NOW)["content"]
    assert content.endswith(
        "-# Also covered by [A](<https://a.example/1>) · [b.example](<https://b.example/2>)"
        " · [C](<https://c.example/3>)"
    )
    content = renderer.render_item(item, digest(related_limit=1), now=NOW)["content"]
    assert content.endswith("-# Also covered by [A](<https://a.example/1>)")
    content = renderer.render_item(item, digest(related_limit=0), now=NOW)["content"]
    assert "Also covered" not in content
    [embed] = renderer.render_item(item, digest("embed", related_limit=2), now=NOW)["embeds"]
    assert embed["fields"][0]["value"].count("\n") == 1


# -- any articles at all --------------------------------------------------------------------------

NASTY = "*_~`|[]()<>\\#-+:@/. \n1aé😀\u200b\u202e"
texts = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=NASTY, max_size=400),
    st.sampled_from(["@everyone", "<@123> <@&456> <#7>", "**[x](https://evil)**", "# h\n-# s"]),
)
long_texts = st.one_of(
    texts,
    st.builds(
        lambda w, n: ((w + " ") * n)[:20_000],
        st.text(min_size=1, max_size=12),
        st.integers(0, 3_000),
    ),
    st.sampled_from(["x" * 20_000, "*" * 20_000, ("word " * 4_000)[:20_000]]),
)
titles = st.one_of(
    texts.filter(str.strip),
    st.sampled_from(["T" * 1_000, "_" * 1_000, ("long title " * 100)[:1_000]]),
)
hosts = st.sampled_from(["a.example", "b.example", "news.example.com", "xn--bcher-kva.de"])
paths = st.one_of(st.text(max_size=40), st.sampled_from(["", "x" * 2_000, "a(b)<c>"]))
urls = st.one_of(
    st.builds(lambda h, p: f"https://{h}/{p}", hosts, paths),
    st.sampled_from(["javascript:alert(1)", "https://news.example.com/story"]),
)
relateds = st.builds(
    Related,
    title=titles,
    url=urls,
    provider=st.one_of(st.none(), st.builds(Provider, name=texts)),
)
articles_st = st.builds(
    lambda title, url, excerpt, provider, rel, when, topics: Article(
        url=canonical_url(url),
        web_url=url,
        title=title,
        excerpt=excerpt,
        provider=Provider(name=provider) if provider is not None else None,
        related=tuple(rel),
        published_at=when,
        topics=tuple(topics),
        images=(Image(url=url),),
    ),
    titles,
    urls,
    long_texts,
    st.one_of(st.none(), texts),
    st.lists(relateds, max_size=12),
    st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    st.lists(texts, max_size=3),
)


FULL_EXCERPT = (
    "{% for item in items %}{% block item scoped %}**{{ item.title|link(item.url) }}**\n"
    "{{ item.excerpt }}\n"
    "{% for r in item.related %}{{ r.title|link(r.url) }} {{ r.outlet }}\n{% endfor %}"
    "{% endblock %}{% endfor %}"
)
FULL_EMBED = (
    '{% extends "default:embed.j2" %}{% block embed_description %}{{ item.excerpt }}{% endblock %}'
)


@pytest.fixture(scope="module")
def renderers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Renderer]:
    """The built-in templates, and templates that show whole excerpts (so items must be
    shortened to fit)."""
    folder = tmp_path_factory.mktemp("full-templates")
    (folder / "full.md.j2").write_text(FULL_EXCERPT, encoding="utf-8")
    (folder / "fullembed.j2").write_text(FULL_EMBED, encoding="utf-8")
    return {"builtin": Renderer(), "full": Renderer(folder)}


TEMPLATES = [("builtin", "digest"), ("builtin", "embed"), ("full", "full"), ("full", "fullembed")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(articles_st, max_size=8),
    st.sampled_from(TEMPLATES),
    st.integers(0, 12),
    st.text(max_size=300),
)
def test_any_articles_render_within_every_limit(
    renderers: dict[str, Renderer],
    items: list[Article],
    template: tuple[str, str],
    related_limit: int,
    title: str,
) -> None:
    which, kind = template
    channel = digest(kind, related_limit=related_limit, title=title or "Digest")
    messages = renderers[which].render_digest(items, channel, now=NOW, ref="prop-1")
    if not items:
        assert messages == []
        return
    assert_within_limits(messages)
    assert_complete(messages, len(items), "prop-1")
    assert_no_live_mentions(messages)


def test_a_hundred_item_digest(renderer: Renderer, seeds: list[Article]) -> None:
    items = [seeds[i % len(seeds)] for i in range(100)]
    for kind in KINDS:
        messages = renderer.render_digest(items, digest(kind), now=NOW, ref="hundred")
        assert_within_limits(messages)
        assert_complete(messages, 100, "hundred")
        assert messages[0].content.startswith("## News digest\n-# Tuesday 1 December 2026 · 100")


def test_an_oversized_item_is_shortened_excerpt_first(
    renderers: dict[str, Renderer],
) -> None:
    words = " ".join(f"w{i}" for i in range(5_000))
    item = article("Kept title", excerpt=words, related=(related("https://a.example/1", "A"),))
    # a digest shows the excerpt's opening sentences (excerpt_length); one that shows all of a
    # long excerpt needs the item shortened to fit
    whole = {"excerpt_length": 1_000_000}
    [message] = renderers["full"].render_digest([item], digest("full", **whole), now=NOW, ref="x")
    content = message.content
    assert length(content) <= limits.CONTENT_MAX
    assert content.startswith("**[Kept title](<https://news.example.com/story>)**\n")
    assert "[Other take](<https://a.example/1>) A" in content
    excerpt_line = content.split("\n")[1]
    assert excerpt_line.endswith("…") and words.startswith(excerpt_line[:-1])
    assert length(content) > limits.CONTENT_MAX - 50  # as much of the excerpt as fits
    [embed_message] = renderers["full"].render_digest(
        [item], digest("fullembed", **whole), now=NOW, ref="x"
    )
    description = embed_message.payload["embeds"][0]["description"]
    assert description.endswith("…") and length(description) > limits.EMBED_DESCRIPTION_MAX - 10


def test_worst_case_articles(renderers: dict[str, Renderer]) -> None:
    many = tuple(
        related(f"https://r{i}.example/{'p' * 1_900}", "O" * 300, "*" * 1_000) for i in range(100)
    )
    items = [
        article(
            "*" * 1_000,
            f"https://a{i}.example/{'x' * 1_990}",
            excerpt="_" * 20_000,
            provider="@everyone " * 30,
            related=many,
        )
        for i in range(6)
    ]
    for which, kind in TEMPLATES:
        channel = digest(kind, related_limit=100)
        messages = renderers[which].render_digest(items, channel, now=NOW, ref="worst")
        assert_within_limits(messages)
        assert_complete(messages, len(items), "worst")
        assert_no_live_mentions(messages)


def test_zero_articles_give_no_messages(renderer: Renderer) -> None:
    assert renderer.render_digest([], digest(), now=NOW, ref="empty") == []


@pytest.mark.parametrize("ref", ["", "x" * 17, "with space", "a_b"])
def test_bad_refs_are_refused(renderer: Renderer, ref: str) -> None:
    with pytest.raises(ValueError, match="digest ref"):
        renderer.render_digest([article()], digest(), now=NOW, ref=ref)


def test_naive_now_is_refused(renderer: Renderer) -> None:
    with pytest.raises(ValueError, match="aware"):
        renderer.render_digest([article()], digest(), now=datetime(2026, 1, 1), ref="x")


def test_dates_are_shown_in_the_channel_time_zone(renderer: Renderer) -> None:
    late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    item = article(published_at=late)
    [message] = renderer.render_digest([item], digest(timezone="Asia/Tokyo"), now=late, ref="tz")
    assert "-# Wednesday 2 December 2026 · 1 story" in message.content
    assert "Example News · 2 Dec 2026" in message.content
    [fallback] = renderer.render_digest(
        [item],
        digest(timezone="Not/AZone"),
        now=late.astimezone(timezone(timedelta(hours=5))),
        ref="tz",
    )
    assert "Tuesday 1 December 2026" in fallback.content


# -- template names, folders, overrides -----------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "resolved"),
    [
        ("digest", "digest.md.j2"),
        ("embed", "embed.j2"),
        ("digest.md.j2", "digest.md.j2"),
        ("embed.j2", "embed.j2"),
        ("default:digest", "default:digest.md.j2"),
        ("default:embed.j2", "default:embed.j2"),
    ],
)
def test_template_names(folder: Path, name: str, resolved: str) -> None:
    write(folder, "digest.md.j2", '{% extends "default:digest.md.j2" %}')
    write(folder, "embed.j2", '{% extends "default:embed.j2" %}')
    renderer = Renderer(folder)
    for _ in range(2):  # the second time from the resolved-name cache
        template = renderer.template(name)
        if resolved.startswith("default:"):
            assert template.filename == resolved
        else:
            assert template.filename == str(folder / resolved)


def test_unknown_template_name(renderer: Renderer) -> None:
    with pytest.raises(TemplateProblem) as caught:
        renderer.template("weekly")
    assert str(caught.value) == ("weekly: no template weekly.md.j2 or weekly.j2 in the built-ins")


def test_missing_template_folder(tmp_path: Path) -> None:
    with pytest.raises(TemplateProblem, match="template folder not found"):
        Renderer(tmp_path / "nope")


def test_builtin_templates_found_in_a_source_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    assert builtin_templates().joinpath("digest.md.j2").is_file()

    def not_installed(name: str) -> Any:
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(environment.resources, "files", not_installed)
    folder = builtin_templates()
    assert folder == ROOT / "templates"
    assert Renderer().render_item(article(), digest(), now=NOW)["content"].startswith("**1.")


def test_override_one_block_with_extends(folder: Path) -> None:
    write(
        folder,
        "digest.md.j2",
        '{% extends "default:digest.md.j2" %}\n'
        "{% block header %}# {{ digest.title }} for {{ count }}{% endblock %}\n"
        "{% block footer %}{{ super() }} · thanks{% endblock %}\n",
    )
    [message] = Renderer(folder).render_digest([article()], digest(), now=NOW, ref="x")
    assert message.content.startswith("# News digest for 1\n\n**1. [A title]")
    assert message.content.endswith("-# Suggest a story with /news submit · thanks")


def test_override_a_partial_used_by_the_builtin_digest(folder: Path) -> None:
    write(folder, "_item.md.j2", "ITEM {{ item.number }}: {{ item.title }}")
    [message] = Renderer(folder).render_digest([article("T*")], digest(), now=NOW, ref="x")
    assert "\n\nITEM 1: T\\*\n\n" in message.content


def test_full_replacement_template(folder: Path) -> None:
    write(
        folder,
        "weekly.md.j2",
        "{% block header %}Weekly {{ date }}{% endblock %}"
        "{% for item in items %}{% block item scoped %}"
        "- {{ item.title|link(item.url) }} ({{ item.outlet }}){% endblock %}{% endfor %}",
    )
    renderer = Renderer(folder)
    [message] = renderer.render_digest(
        [article("One"), article("Two", "https://b.example/2")],
        digest("weekly"),
        now=NOW,
        ref="wk",
    )
    assert message.content == (
        "Weekly Tuesday 1 December 2026\n\n"
        "- [One](<https://news.example.com/story>) (Example News)\n\n"
        "- [Two](<https://b.example/2>) (Example News)"
    )


def test_operator_embed_template_with_its_own_blocks(folder: Path) -> None:
    write(
        folder,
        "cards.j2",
        '{% extends "default:embed.j2" %}'
        "{% block embed_color %}#ff0000{% endblock %}"
        "{% block embed_footer %}Quality {{ item.quality }}{% endblock %}",
    )
    item = replace(article(), quality=77)
    [embed] = Renderer(folder).render_item(item, digest("cards"), now=NOW)["embeds"]
    assert embed["color"] == 0xFF0000
    assert embed["footer"] == {"text": "Quality 77"}


# -- template errors name file and line -----------------------------------------------------------

ITEM_LOOP = "{% for item in items %}{% block item scoped %}BODY{% endblock %}{% endfor %}"


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        ("\n\n{{ item.nope }}", 3, "'bot.render.views.ItemView object' has no attribute 'nope'"),
        ("\n{{ typo }}", 2, "'typo' is undefined"),
        (
            "{{ ''.__class__ }}",
            1,
            "not allowed in the template sandbox: access to attribute "
            "'__class__' of 'str' object is unsafe.",
        ),
        (
            "\n{{ cycler.__init__.__globals__ }}",
            2,
            "not allowed in the template sandbox: access "
            "to attribute '__init__' of 'type' object is "
            "unsafe.",
        ),
        (
            "{{ item.title.__class__.__mro__ }}",
            1,
            "not allowed in the template sandbox: access "
            "to attribute '__class__' of 'Md' object is "
            "unsafe.",
        ),
        (
            "{{ item.__dataclass_fields__ }}",
            1,
            "not allowed in the template sandbox: access to attribute "
            "'__dataclass_fields__' of 'ItemView' object is unsafe.",
        ),
        (
            "{{ item.title.format.__globals__ }}",
            1,
            "not allowed in the template sandbox: access "
            "to attribute '__globals__' of 'function' "
            "object is unsafe.",
        ),
        ("{{ lipsum(5) }}", 1, "'lipsum' is undefined"),
        (
            "\n{% for i in range(10**9) %}x{% endfor %}",
            2,
            "not allowed in the template sandbox: range() of 1,000,000,000 numbers; at most 10,000",
        ),
        (
            "\n\n{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
            3,
            "the template ran more than 1,000,000 loop iterations and calls",
        ),
        (
            "{{ 'x' * 10**9 }}",
            1,
            "not allowed in the template sandbox: '*' would build 1,000,000,000 items or"
            " characters",
        ),
        ("{{ 10 ** 100000 }}", 1, "not allowed in the template sandbox: '**' result too large"),
        (
            "{{ '%099999999d' % 1 }}",
            1,
            "not allowed in the template sandbox: '%' formatting with a width of 10,000 or more",
        ),
        (
            "{{ 'x'.ljust(10**9) }}",
            1,
            "not allowed in the template sandbox: a string method called with 1,000,000,000",
        ),
        (
            "{{ 'x'|center(10**9) }}",
            1,
            "not allowed in the template sandbox: a filter called with 1,000,000,000",
        ),
        (
            "{{ [1]|batch(10**9, 0)|list }}",
            1,
            "not allowed in the template sandbox: a filter called with 1,000,000,000",
        ),
        (
            "{{ '%099999999d'|format(1) }}",
            1,
            "not allowed in the template sandbox: formatting with a width of 10,000 or more",
        ),
        (
            "{{ '{:>999999999}'.format(1) }}",
            1,
            "not allowed in the template sandbox: format() with a width of 10,000 or more",
        ),
        ("{{ 1 // 0 }}", 1, "ZeroDivisionError: integer division or modulo by zero"),
        ("{% include 'nothere.j2' %}", 1, "template 'nothere.j2' not found"),
    ],
)
def test_runtime_errors_name_file_and_line(
    folder: Path, body: str, line: int, problem: str
) -> None:
    write(folder, "broken.md.j2", ITEM_LOOP.replace("BODY", body))
    with pytest.raises(TemplateProblem) as caught:
        Renderer(folder).render_digest([article()], digest("broken"), now=NOW, ref="x")
    assert str(caught.value) == f"{folder / 'broken.md.j2'}:{line}: {problem}"
    assert caught.value.line == line


def test_nested_loops_over_lists_are_bounded(folder: Path) -> None:
    write(
        folder,
        "spin.md.j2",
        "{% set l = range(5000)|list %}"
        + ITEM_LOOP.replace("BODY", "{% for a in l %}{% for b in l %}{% endfor %}{% endfor %}"),
    )
    with pytest.raises(TemplateProblem, match="more than 1,000,000 loop iterations"):
        Renderer(folder).render_digest([article()], digest("spin"), now=NOW, ref="x")


def test_endless_recursion_is_a_problem_not_a_crash(folder: Path) -> None:
    write(folder, "recur.md.j2", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}")
    with pytest.raises(TemplateProblem, match="without end"):
        Renderer(folder).render_digest([article()], digest("recur"), now=NOW, ref="x")


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            "a\nb\n{% if %}\n",
            3,
            "syntax error: Expected an expression, got 'end of statement block'",
        ),
        (
            "{% for item in items %}\n{{ item.title }\n{% endfor %}",
            2,
            "syntax error: unexpected '}'",
        ),
        (
            "{% block header %}\n\n{% endblock %}{% block header %}{% endblock %}",
            3,
            "syntax error: block 'header' defined twice",
        ),
        ("{{ x|nosuchfilter }}", 1, "syntax error: No filter named 'nosuchfilter'."),
    ],
)
def test_syntax_errors_name_file_and_line(folder: Path, text: str, line: int, problem: str) -> None:
    write(folder, "bad.md.j2", text)
    with pytest.raises(TemplateProblem) as caught:
        Renderer(folder).render_digest([article()], digest("bad"), now=NOW, ref="x")
    assert str(caught.value) == f"{folder / 'bad.md.j2'}:{line}: {problem}"


def test_syntax_error_in_an_included_partial_names_the_partial(folder: Path) -> None:
    write(folder, "_item.md.j2", "ok\n{{ item.title\n")
    with pytest.raises(TemplateProblem) as caught:
        Renderer(folder).render_digest([article()], digest(), now=NOW, ref="x")
    assert str(caught.value).startswith(f"{folder / '_item.md.j2'}:2: syntax error")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "{% for item in items %}{% include '_item.md.j2' %}{% endfor %}",
            "no item block: define {% block item %}...{% endblock %}, rendered once per article",
        ),
        (
            ITEM_LOOP.replace("BODY", "{% block embed_color %}blue{% endblock %}"),
            "embed_color must be like #5865F2, got 'blue'",
        ),
    ],
)
def test_block_protocol_problems(folder: Path, text: str, problem: str) -> None:
    write(folder, "odd.md.j2", text)
    with pytest.raises(TemplateProblem) as caught:
        Renderer(folder).render_digest(
            [article(), article("Two", "https://b.example/")], digest("odd"), now=NOW, ref="x"
        )
    assert caught.value.problem == problem
    assert caught.value.template == str(folder / "odd.md.j2")


def test_an_item_block_too_long_to_fit_is_a_problem(folder: Path) -> None:
    write(folder, "huge.md.j2", ITEM_LOOP.replace("BODY", "{{ 'x ' * 1500 }}"))
    with pytest.raises(TemplateProblem, match="item 1 does not fit in one Discord message"):
        Renderer(folder).render_digest([article()], digest("huge"), now=NOW, ref="x")


def test_a_header_too_long_is_a_problem(folder: Path) -> None:
    write(folder, "head.md.j2", "{% block header %}{{ 'h ' * 1001 }}{% endblock %}" + ITEM_LOOP)
    with pytest.raises(TemplateProblem, match="the header block renders 2,001 characters"):
        Renderer(folder).render_digest([article()], digest("head"), now=NOW, ref="x")


# -- check-templates --------------------------------------------------------------------------


def test_check_passes_for_the_builtins(renderer: Renderer, seeds: list[Article]) -> None:
    assert renderer.check(seeds[:5], [digest(), digest("embed")], now=NOW) == []
    assert renderer.check([], [], now=NOW) == []  # a built-in sample article stands in


def test_check_reports_every_broken_template(folder: Path) -> None:
    write(
        folder,
        "digest.md.j2",
        '{% extends "default:digest.md.j2" %}{% block footer %}\n{{ nope }}{% endblock %}',
    )
    write(folder, "_partial.md.j2", "{% if %}")
    write(folder, "weekly.j2", ITEM_LOOP.replace("BODY", "\n\n{{ item.title.__class__ }}"))
    problems = Renderer(folder).check([sample_article()], [digest("weekly")], now=NOW)
    assert problems == [
        f"{folder / '_partial.md.j2'}:1: syntax error: Expected an expression, got 'end of "
        "statement block'",
        f"{folder / 'digest.md.j2'}:2: 'nope' is undefined",
        f"{folder / 'weekly.j2'}:3: not allowed in the template sandbox: access to attribute "
        "'__class__' of 'Md' object is unsafe.",
    ]


def test_check_reports_a_channel_naming_a_missing_template(renderer: Renderer) -> None:
    assert renderer.check([], [digest("weekly")], now=NOW) == [
        "weekly: no template weekly.md.j2 or weekly.j2 in the built-ins"
    ]


# -- filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "out"),
    [
        ("{{ '*x* <@1>'|md }}", "\\*x\\* \\<@1\\>"),
        ("{{ item.title|md }}", "T\\_1"),  # already escaped: not escaped twice
        (
            "{{ 'javascript:alert(1)'|url }}|{{ 'https://A.example/(x)'|url }}",
            "|https://a.example/%28x%29",
        ),
        ("{{ item.title|plain }}", "T_1"),
        ("{{ '<@1> @here'|plain }}", "<\u200b@1> @\u200bhere"),
        ("{{ 'one two three'|shorten(9) }}", "one two…"),
        ("{{ item.title|link(item.url) }}", "T\\_1 [↗](<https://news.example.com/story>)"),
        ("{{ 'Safe'|link('https://a.example/') }}", "[Safe](<https://a.example/>)"),
        ("{{ 'x'|link('ftp://a.example/') }}", "x"),
        ("{{ item.timestamp }}", "1764547200"),
        ("{{ none }}", ""),
        ("{{ '%s|%5d'|format('50%, 12345 {99999}', 7) }}", "50%, 12345 {99999}|    7"),
        ("{{ item.title|truncate(3, true, '') }}!", "T\\_1!"),
        ("{{ '**bold** words here'|md|truncate(12) }}", "\\*\\*bold\\*\\*..."),
        (
            "{{ item.date }} {{ now.year }} {{ count }} {{ ref }} {{ digest.related_limit }}",
            "1 Dec 2025 2026 1 x 1",
        ),
    ],
)
def test_filters(folder: Path, expression: str, out: str) -> None:
    write(folder, "f.md.j2", ITEM_LOOP.replace("BODY", expression))
    [message] = Renderer(folder).render_digest(
        [article("T_1", published_at=datetime(2025, 12, 1, tzinfo=UTC))],
        digest("f"),
        now=NOW,
        ref="x",
    )
    assert message.content == out


# -- prepared articles, budgets and the output cap --------------------------------------------


def payloads(messages: list[PackedMessage]) -> str:
    return json.dumps([m.payload for m in messages], ensure_ascii=False)


@pytest.mark.parametrize("kind", KINDS)
def test_equal_articles_loaded_again_render_as_a_fresh_renderer_does(
    seeds: list[Article], kind: str
) -> None:
    renderer = Renderer()
    expected = Renderer().render_digest(seeds, digest(kind), now=NOW, ref=REF)
    assert renderer.render_digest(seeds, digest(kind), now=NOW, ref=REF) == expected
    again = seed_articles()  # equal articles, other objects: as a preview, then the post
    assert renderer.render_digest(again, digest(kind), now=NOW, ref=REF) == expected
    assert renderer.render_digest(again, digest(kind), now=NOW, ref=REF) == expected


CHANGES: list[dict[str, Any]] = [
    {"excerpt": "Second excerpt."},
    {"provider": Provider(name="Second Outlet")},
    {"related": (related("https://second.example/x", "Second Outlet"),)},
    {"published_at": datetime(2026, 7, 4, tzinfo=UTC)},
]


@pytest.mark.parametrize(
    ("kind", "change"),
    [(kind, change) for kind in KINDS for change in CHANGES]
    + [("embed", {"topics": ("Second topic",)})],  # the text digest shows no topics
)
def test_an_article_changed_under_the_same_url_and_title_renders_anew(
    kind: str, change: dict[str, Any]
) -> None:
    renderer = Renderer()
    first = article(
        "Same title",
        excerpt="First excerpt.",
        related=(related("https://first.example/x", "First Outlet"),),
        topics=("First topic",),
    )
    before = payloads(renderer.render_digest([first], digest(kind), now=NOW, ref="x"))
    changed = replace(first, **change)
    after = payloads(renderer.render_digest([changed], digest(kind), now=NOW, ref="x"))
    assert after == payloads(Renderer().render_digest([changed], digest(kind), now=NOW, ref="x"))
    assert after != before


def test_prepared_articles_are_kept_per_time_zone_and_related_limit() -> None:
    renderer = Renderer()
    item = article(
        published_at=datetime(2025, 12, 1, 23, 30, tzinfo=UTC),
        related=(related("https://a.example/1", "Outlet A"), related("https://b.example/2", "B2")),
    )
    [utc] = renderer.render_digest([item], digest(related_limit=2), now=NOW, ref="x")
    [tokyo] = renderer.render_digest(
        [item], digest(timezone="Asia/Tokyo", related_limit=1), now=NOW, ref="x"
    )
    assert "1 Dec 2025" in utc.content and "B2" in utc.content
    assert "2 Dec 2025" in tokyo.content and "B2" not in tokyo.content


# -- what an item block sees ------------------------------------------------------------------
#
# An item block is rendered on its own, per article, yet sees everything a whole render of the
# template would: the digest's variables, top-level names and macros, includes, imports, self
# and super().

EMBED_LOOP = "{% for item in items %}{% block item scoped %}BLOCKS{% endblock %}{% endfor %}"


def footer_of(renderer: Renderer, articles: list[Article], **render: Any) -> list[str]:
    kind = render.pop("kind", "stamp")
    channel = render.pop("digest", digest(kind))
    messages = renderer.render_digest(
        articles, channel, now=render.pop("now", NOW), ref=render.pop("ref", "x")
    )
    return [e["footer"]["text"] for m in messages for e in m.payload.get("embeds", [])]


def stamp_template(footer: str, top: str = "") -> str:
    return top + EMBED_LOOP.replace(
        "BLOCKS",
        "{% block embed_title %}{{ item.title }}{% endblock %}"
        "{% block embed_footer %}" + footer + "{% endblock %}",
    )


LATER = NOW.replace(year=2027)


@pytest.mark.parametrize(
    ("files", "first", "second"),
    [
        ({"stamp.j2": stamp_template("{{ now.year }}")}, {}, {"now": LATER}),
        ({"stamp.j2": stamp_template("{{ date }}")}, {}, {"now": LATER}),
        ({"stamp.j2": stamp_template("{{ ref }}")}, {}, {"ref": "y"}),
        ({"stamp.j2": stamp_template("{{ count }}")}, {}, {"extra": True}),
        (
            {"stamp.j2": stamp_template("{{ digest.title }}")},
            {},
            {"digest": digest("stamp", title="Other title")},
        ),
        (
            {"stamp.j2": stamp_template("{{ stamp }}", "{% set stamp = now.year %}")},
            {},
            {"now": LATER},
        ),
        # a global shadowed by a top-level variable
        (
            {"stamp.j2": stamp_template("{{ range }}", "{% set range = now.year %}")},
            {},
            {"now": LATER},
        ),
        (
            {
                "stamp.j2": stamp_template(
                    "{{ stamp() }}", "{% macro stamp() %}{{ now.year }}{% endmacro %}"
                )
            },
            {},
            {"now": LATER},
        ),
        (
            {
                "stamp.j2": "{% block stamp %}{{ now.year }}{% endblock %}"
                + stamp_template("{{ self.stamp() }}")
            },
            {},
            {"now": LATER},
        ),
        (
            {"stamp.j2": stamp_template('{% include "year.j2" %}'), "year.j2": "{{ now.year }}"},
            {},
            {"now": LATER},
        ),
        (
            {"stamp.j2": stamp_template('{% include ["year.j2"] %}'), "year.j2": "{{ now.year }}"},
            {},
            {"now": LATER},
        ),
        (
            {
                "stamp.j2": stamp_template('{% include "outer.j2" %}'),
                "outer.j2": '{% include "year.j2" %}',
                "year.j2": "{{ now.year }}",
            },
            {},
            {"now": LATER},
        ),
        (
            {
                "stamp.j2": stamp_template(
                    '{% import "year.j2" as y with context %}{{ y.year() }}'
                ),
                "year.j2": "{% macro year() %}{{ now.year }}{% endmacro %}",
            },
            {},
            {"now": LATER},
        ),
        # an override calling super(), over a parent reading the clock
        (
            {
                "base.j2": stamp_template("{{ now.year }}"),
                "stamp.j2": '{% extends "base.j2" %}'
                "{% block embed_footer %}at {{ super() }}{% endblock %}",
            },
            {},
            {"now": LATER},
        ),
    ],
    ids=[
        "now",
        "date",
        "ref",
        "count",
        "digest",
        "top-level set",
        "shadowed global",
        "macro",
        "self",
        "include",
        "include a list",
        "include in an include",
        "import",
        "super",
    ],
)
def test_an_item_block_sees_the_digest_and_the_templates_names(
    folder: Path, files: dict[str, str], first: dict[str, Any], second: dict[str, Any]
) -> None:
    for name, text in files.items():
        write(folder, name, text)
    renderer = Renderer(folder)
    one = article("One", "https://one.example/")
    extra = [article("Two", "https://two.example/")] if second.pop("extra", False) else []
    before = footer_of(renderer, [one], **first)
    after = footer_of(renderer, [article("One", "https://one.example/"), *extra], **second)
    fresh = footer_of(Renderer(folder), [one, *extra], **second)
    assert after == fresh
    assert after[0] != before[0]


NUMBERS = "[" + ", ".join(map(str, range(1000))) + "]"  # a literal: range() is a global


def test_an_item_block_may_draw_at_random(folder: Path) -> None:
    write(folder, "stamp.j2", stamp_template("{{ NUMBERS|random }}".replace("NUMBERS", NUMBERS)))
    renderer = Renderer(folder)
    footers = {footer_of(renderer, [article()])[0] for _ in range(20)}
    assert len(footers) > 1  # 20 equal draws from 1,000 numbers: about 1 in 10^57


def test_an_include_that_includes_itself_conditionally(folder: Path) -> None:
    write(folder, "stamp.j2", stamp_template('{% include "loop.j2" %}'))
    write(folder, "loop.j2", '{% if item.number > 99 %}{% include "loop.j2" %}{% endif %}end')
    renderer = Renderer(folder)
    assert footer_of(renderer, [article()]) == ["end"]


def test_the_item_number_is_right_in_every_position(folder: Path) -> None:
    write(folder, "stamp.j2", stamp_template("{{ item.number }}. {{ item.title }}"))
    renderer = Renderer(folder)
    one, two = article("One", "https://one.example/"), article("Two", "https://two.example/")
    assert footer_of(renderer, [one, two]) == ["1. One", "2. Two"]
    assert footer_of(renderer, [replace(two), replace(one)]) == ["1. Two", "2. One"]
    assert footer_of(renderer, [replace(one), replace(two)]) == ["1. One", "2. Two"]


def edit(folder: Path, name: str, text: str) -> None:
    """Rewrite a template so that its loader sees it changed (a later modification time)."""
    path = folder / name
    stamp = path.stat().st_mtime + 10
    path.write_text(text, encoding="utf-8")
    os.utime(path, (stamp, stamp))


def test_an_edited_template_renders_anew(folder: Path) -> None:
    write(folder, "stamp.j2", stamp_template("first"))
    renderer = Renderer(folder)
    assert footer_of(renderer, [article()]) == ["first"]
    edit(folder, "stamp.j2", stamp_template("second"))
    assert footer_of(renderer, [article()]) == ["second"]


def test_an_edited_partial_renders_anew(folder: Path) -> None:
    write(folder, "_related.md.j2", "first")
    renderer = Renderer(folder)
    [message] = renderer.render_digest([article()], digest(), now=NOW, ref="x")
    assert "first" in message.content
    edit(folder, "_related.md.j2", "second")
    [message] = renderer.render_digest([article()], digest(), now=NOW, ref="x")
    assert "second" in message.content and "first" not in message.content


def test_an_edited_parent_template_renders_anew(folder: Path) -> None:
    write(folder, "base.j2", stamp_template("first"))
    write(folder, "stamp.j2", '{% extends "base.j2" %}{% block embed_title %}T{% endblock %}')
    renderer = Renderer(folder)
    assert footer_of(renderer, [article()]) == ["first"]
    edit(folder, "base.j2", stamp_template("second"))
    assert footer_of(renderer, [article()]) == ["second"]


def test_changing_a_payload_does_not_change_the_next_digest(seeds: list[Article]) -> None:
    renderer = Renderer()
    expected = payloads(renderer.render_digest(seeds[:3], digest("embed"), now=NOW, ref="x"))
    for message in renderer.render_digest(seeds[:3], digest("embed"), now=NOW, ref="x"):
        for embed in message.payload["embeds"]:
            embed["author"]["name"] = "changed"
            embed["fields"][0]["value"] = "changed"
            embed["fields"].append({"name": "x", "value": "y"})
            embed["title"] = "changed"
    assert (
        payloads(renderer.render_digest(seeds[:3], digest("embed"), now=NOW, ref="x")) == expected
    )
    alone = renderer.render_item(seeds[0], digest("embed"), now=NOW)
    alone["embeds"][0]["author"]["name"] = "changed"
    assert renderer.render_item(seeds[0], digest("embed"), now=NOW)["embeds"][0]["author"][
        "name"
    ] != ("changed")


@pytest.mark.parametrize(
    "text",
    [
        # the item block: more than one batch of chunks
        ITEM_LOOP.replace("BODY", "{% for i in range(100) %}{{ 'x' * 30000 }}{% endfor %}"),
        # an embed block inside it
        ITEM_LOOP.replace(
            "BODY",
            "{% block embed_description %}{% for i in range(100) %}{{ 'x' * 30000 }}"
            "{% endfor %}{% endblock %}",
        ),
        # the header
        "{% block header %}{% for i in range(70) %}{{ 'x' * 30000 }}{% endfor %}{% endblock %}"
        + ITEM_LOOP,
    ],
)
def test_output_is_capped(folder: Path, text: str) -> None:
    write(folder, "big.md.j2", text)
    with pytest.raises(TemplateProblem, match="produced more than 2,000,000 characters"):
        Renderer(folder).render_digest([article()], digest("big"), now=NOW, ref="x")


@pytest.mark.parametrize(
    "loops",
    [
        # short ranges and lists are counted before they run, longer ones item by item
        "{% for a in range(100) %}{% for b in range(100) %}{% for c in range(101) %}"
        "{% endfor %}{% endfor %}{% endfor %}",
        "{% for a in [1] * 100 %}{% for b in [1] * 100 %}{% for c in (1,) * 101 %}"
        "{% endfor %}{% endfor %}{% endfor %}",
        "{% for a in range(1000) %}{% for b in range(1001) %}{% endfor %}{% endfor %}",
    ],
)
def test_every_loop_counts_against_the_budget(folder: Path, loops: str) -> None:
    write(folder, "spin.md.j2", ITEM_LOOP.replace("BODY", loops))
    with pytest.raises(TemplateProblem, match="more than 1,000,000 loop iterations"):
        Renderer(folder).render_digest([article()], digest("spin"), now=NOW, ref="x")


def test_loop_variable_in_the_sandbox(folder: Path) -> None:
    write(
        folder,
        "loop.md.j2",
        ITEM_LOOP.replace(
            "BODY",
            "{% for x in 'abc' %}{{ loop.index }}/{{ loop.length }}{{ loop.cycle('+', '-') }}"
            "{{ '!' if loop.last }}{% endfor %}",
        ),
    )
    [message] = Renderer(folder).render_digest([article()], digest("loop"), now=NOW, ref="x")
    assert message.content == "1/3+2/3-3/3+!"
    write(
        folder,
        "unsafe.md.j2",
        ITEM_LOOP.replace("BODY", "{% for x in [1] %}{{ loop._after }}{% endfor %}"),
    )
    with pytest.raises(TemplateProblem, match="'_after' of 'LoopContext' object is unsafe"):
        Renderer(folder).render_digest([article()], digest("unsafe"), now=NOW, ref="x")
