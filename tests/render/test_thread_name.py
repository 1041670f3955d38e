"""The ``thread_name`` block: what a digest's forum post or discussion thread is called."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import DigestChannel
from bot.errors import TemplateProblem
from bot.render import Renderer, sample_article
from bot.render.renderer import default_thread_name

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
DIGEST = DigestChannel(channel=1, title="Morning *wire*", template="digest", timezone="Asia/Tokyo")


def with_block(tmp_path: Path, block: str) -> Renderer:
    (tmp_path / "digest.md.j2").write_text(
        '{% extends "default:digest.md.j2" %}\n'
        f"{{% block thread_name %}}{block}{{% endblock %}}\n",
        encoding="utf-8",
    )
    return Renderer(tmp_path)


def test_without_the_block_the_name_is_the_title_and_the_local_day() -> None:
    name = Renderer().thread_name([sample_article()], DIGEST, now=NOW, ref="r")
    assert name == "Morning *wire* · 3 December 2026" == default_thread_name(DIGEST, NOW)


def test_the_block_names_the_post_as_plain_text_on_one_line(tmp_path: Path) -> None:
    renderer = with_block(tmp_path, "{{ digest.title }}\n — {{ count }} stories, {{ date }}")
    name = renderer.thread_name([sample_article()] * 3, DIGEST, now=NOW, ref="r")
    # Markdown escapes are gone (Discord shows none in a name), lines are joined.
    assert name == "Morning *wire* — 3 stories, Thursday 3 December 2026"


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("{{ 'word ' * 40 }}", ("word " * 20).strip() + "…"),
        ("{{ 'x' * 150 }}", "x" * 99 + "…"),
        ("   ", "Morning *wire* · 3 December 2026"),
    ],
    ids=["words", "one-long-word", "empty"],
)
def test_a_long_name_is_shortened_to_discords_100_and_an_empty_one_falls_back(
    tmp_path: Path, block: str, expected: str
) -> None:
    name = with_block(tmp_path, block).thread_name([sample_article()], DIGEST, now=NOW, ref="r")
    assert name == expected and len(name) <= 100


def test_a_broken_block_is_a_template_problem_that_check_templates_reports(
    tmp_path: Path,
) -> None:
    renderer = with_block(tmp_path, "{{ items[99].title }}")
    with pytest.raises(TemplateProblem) as raised:
        renderer.thread_name([sample_article()], DIGEST, now=NOW, ref="r")
    assert "digest.md.j2" in str(raised.value)
    problems = renderer.check([sample_article()], [DIGEST], now=NOW)
    assert any("digest.md.j2" in p for p in problems)
