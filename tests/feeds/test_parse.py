"""Parsing the fixtures (RSS 2.0, RSS 1.0 in Latin-1, Atom, JSON Feed 1.1; English, German,
French, Spanish, Japanese) into articles, with the quirks real feeds have."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.config import FeedSettings
from bot.feeds.entries import articles_of
from bot.feeds.parse import NotAFeed, parse_feed
from tests.feeds.server import FIXTURES


def parsed(name: str, url: str, content_type: str) -> tuple[list, list[str]]:
    feed = FeedSettings(url, topics=("Local",), quality=60)
    doc = parse_feed((FIXTURES / name).read_bytes(), {"content-type": content_type})
    items, problems = articles_of(feed, doc, url, first_fetch=False)
    return [i.article for i in items], problems


def test_rss2_quirks() -> None:
    url = "https://gazette.example/feed.xml"
    articles, problems = parsed("rss2.xml", url, "application/rss+xml")
    tram, chips, crane = articles
    # CDATA with tags in the title; a relative link with tracking parameters.
    assert tram.title == "Council approves new tram line"
    assert (
        tram.web_url == "https://gazette.example/news/2026/tram-line?utm_source=rss&utm_medium=feed"
    )
    assert tram.url == "https://gazette.example/news/2026/tram-line"
    assert tram.excerpt == "The council voted 31 to 12 for the line.\n\nWork starts in spring."
    assert tram.published_at == datetime(2026, 11, 30, 8, 15, tzinfo=UTC)
    assert tram.topics == ("Local", "Transport", "City")
    assert tram.thumbnail == "https://cdn.gazette.example/tram.jpg"
    assert tram.quality == 60 and tram.origin == url
    assert tram.provider is not None
    assert (tram.provider.name, tram.provider.domain) == (
        "Harbour & Hills Gazette",
        "gazette.example",
    )
    # Entities (double-escaped too), a missing date, an image enclosure.
    assert chips.title == "Fish & chips shop wins award – again"
    assert chips.excerpt == 'Café owners say "thank you" <3'
    assert chips.published_at is None
    assert chips.thumbnail == "https://cdn.gazette.example/chips.png"
    # The first image of the content, resolved against the feed's address.
    assert crane.thumbnail == "https://gazette.example/img/crane.jpg"
    assert problems == [
        f"{url}: entry 3: duplicate guid 'gazette-1001'; skipped",
        f"{url}: entry 4: no link (an article needs its web address)",
    ]


def test_atom_with_xml_base_and_html_titles() -> None:
    articles, problems = parsed(
        "atom.xml", "https://nachrichten.example/atom.xml", "application/atom+xml"
    )
    radwege, hochwasser = articles
    assert radwege.title == "Stadtrat beschließt neue Radwege & Ampeln"
    assert radwege.web_url == "https://nachrichten.example/artikel/radwege"
    assert radwege.excerpt == "Der Rat stimmte einstimmig zu."
    assert radwege.published_at == datetime(2026, 11, 30, 6, 30, tzinfo=UTC)  # updated only
    assert radwege.thumbnail == "https://cdn.nachrichten.example/radweg.jpg"  # media:content
    assert hochwasser.published_at == datetime(2026, 11, 29, 21, 0, tzinfo=UTC)  # published wins
    assert hochwasser.thumbnail == "https://nachrichten.example/bilder/pegel.jpg"
    assert problems == []


def test_rss1_in_latin_1() -> None:
    [ferry], problems = parsed("rss1.rdf", "https://journal.example/rss", "application/rdf+xml")
    assert ferry.title == "Le ferry reprend du service après la grève"
    assert ferry.excerpt == "Les traversées reprennent dès lundi."
    assert ferry.topics == ("Local", "Transports")
    assert problems == []


def test_rss091_in_italian() -> None:
    url = "https://gazzetta.example/rss"
    [ferry], problems = parsed("rss091.xml", url, "text/xml")
    assert ferry.title == "Il traghetto torna in servizio è festa sul lungolago"
    assert ferry.url == "https://gazzetta.example/notizie/traghetto"  # mc_cid, mc_eid dropped
    assert ferry.excerpt == "Dopo tre mesi di lavori riparte la linea."
    assert ferry.published_at is None and ferry.provider is not None
    assert ferry.provider.name == "Gazzetta del Lago" and problems == []


def test_json_feed() -> None:
    url = "https://diario.example/feed.json"
    articles, problems = parsed("feed.json", url, "application/feed+json")
    sequia, festival = articles
    assert sequia.url == "https://diario.example/noticias/sequia?id=77"  # fbclid dropped
    assert sequia.excerpt == "Los agricultores del valle — unos 3.000 — deberán reducir el riego."
    assert sequia.topics == ("Local", "Clima", "Agricultura")
    assert sequia.thumbnail == "https://diario.example/img/sequia.jpg"
    assert festival.title == "東京の映画祭、来場者が過去最多に"
    assert festival.web_url == "https://diario.example/noticias/festival"
    assert festival.published_at == datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert problems == [f"{url}: entry 3: no link (an article needs its web address)"]
    doc = parse_feed((FIXTURES / "feed.json").read_bytes(), {})
    assert doc.problems == ("entry 4: not an object; skipped",)


def test_the_config_provider_wins_over_the_feed_title() -> None:
    url = "https://journal.example/rss"
    feed = FeedSettings(url, provider="Port Journal")
    doc = parse_feed((FIXTURES / "rss1.rdf").read_bytes(), {})
    [item], _ = articles_of(feed, doc, url, first_fetch=False)
    assert item.article.provider is not None and item.article.provider.name == "Port Journal"


@pytest.mark.parametrize(
    ("name", "content_type", "problem"),
    [
        ("malformed.xml", "text/xml", "malformed XML (<unknown>:2:74: unclosed token)"),
        (
            "notafeed.html",
            "text/html",
            "not an RSS, Atom or JSON feed (SAXParseException: <unknown>:2:0: syntax error)",
        ),
    ],
)
def test_documents_that_are_not_feeds(name: str, content_type: str, problem: str) -> None:
    with pytest.raises(NotAFeed) as caught:
        parse_feed((FIXTURES / name).read_bytes(), {"content-type": content_type})
    assert str(caught.value) == problem


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not a JSON feed (invalid JSON: "),
        (b'{"version": "1"}', "not a JSON feed (no jsonfeed.org version)"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": 3}', "not a JSON feed (items"),
    ],
)
def test_bad_json_feeds(body: bytes, problem: str) -> None:
    with pytest.raises(NotAFeed) as caught:
        parse_feed(body, {"content-type": "application/feed+json"})
    assert str(caught.value).startswith(problem)


def test_entry_limits_of_design_3_apply() -> None:
    url = "https://x.example/feed.json"
    body = (
        '{"version": "https://jsonfeed.org/version/1.1", "items": ['
        '{"id": "1", "url": "javascript:alert(1)", "title": "Bad link"},'
        f'{{"id": "2", "url": "https://x.example/a", "title": "{"T" * 1001}"}},'
        '{"id": "3", "url": "https://x.example/b", "title": "Fine"}]}'
    ).encode()
    doc = parse_feed(body, {"content-type": "application/json"})
    items, problems = articles_of(FeedSettings(url), doc, url, first_fetch=False)
    assert [i.article.title for i in items] == ["Fine"]
    assert problems == [
        f"{url}: entry 1: webUrl: 'javascript:alert(1)' is not an http(s) URL",
        f"{url}: entry 2: title: too long (1,001 characters; at most 1,000)",
    ]


def test_first_fetch_queues_only_the_newest_backfill_entries() -> None:
    url = "https://gazette.example/feed.xml"
    doc = parse_feed((FIXTURES / "rss2.xml").read_bytes(), {})
    items, _ = articles_of(FeedSettings(url, backfill=1), doc, url, first_fetch=True)
    queued = [i.article.title for i in items if not i.article.published]
    assert queued == ["Council approves new tram line"]  # the newest dated entry
    assert sum(i.article.published for i in items) == 2
