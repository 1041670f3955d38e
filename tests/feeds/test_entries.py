"""Entries to articles for any text a feed can carry: never an exception other than a located
ArticleError, and the front matter written for export always reads back as the same article."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.articles import parse_article
from bot.articles.export import write_export
from bot.config import FeedSettings
from bot.feeds.entries import articles_of
from bot.feeds.parse import parse_feed
from bot.store import QueueItem, Status

URL = "https://feed.example/feed.json"

text = st.text(max_size=80)  # every code point, lone surrogates and controls included
item = st.fixed_dictionaries(
    {
        "id": st.one_of(text, st.integers(0, 10**6)),
        "url": st.one_of(
            st.just("https://feed.example/a"),
            st.builds(lambda s: "https://feed.example/" + s, text),
            text,
        ),
        "title": text,
        "content_html": text,
        "tags": st.lists(text, max_size=4),
        "image": text,
    }
)


@given(st.lists(item, max_size=6))
def test_any_json_feed_gives_articles_that_read_back(items: list[dict[str, object]]) -> None:
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode()
    doc = parse_feed(body, {"content-type": "application/feed+json"})
    found, problems = articles_of(FeedSettings(URL), doc, URL, first_fetch=False)
    assert len(found) + len(problems) == len(items)
    assert all(p.startswith(f"{URL}: entry ") for p in problems)
    for entry in found:
        article = entry.article
        again = parse_article("export.md", article.source.encode())
        assert (again.title, again.web_url, again.excerpt, again.topics, again.images) == (
            article.title,
            article.web_url,
            article.excerpt,
            article.topics,
            article.images,
        )
        assert again.source_hash == article.source_hash


def test_feed_articles_export_as_front_matter_files(tmp_path: Path) -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "Diario",
            "items": [{"id": "1", "url": "https://d.example/a", "title": "Uno \u0085 dos"}],
        }
    ).encode()
    doc = parse_feed(body, {})
    [entry], _ = articles_of(FeedSettings(URL, topics=("News",)), doc, URL, first_fetch=False)
    now = entry.article.published_at
    item = QueueItem(1, entry.article, Status.PENDING, created_at=now, updated_at=now)  # type: ignore[arg-type]
    write_export(tmp_path, [item])
    [written] = list(tmp_path.glob("*.md"))
    again = parse_article(str(written), written.read_bytes())
    assert again.title == "Uno dos" and again.web_url == "https://d.example/a"
    assert again.topics == ("News",) and again.provider is not None
    assert '"feed": "https://feed.example/feed.json"' in again.source
