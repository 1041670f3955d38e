"""HTML to text: tags dropped, entities decoded, scripts skipped, paragraphs kept, first image
found; and for any text, escaping it as HTML and converting back gives the text again."""

from __future__ import annotations

import html

from hypothesis import given
from hypothesis import strategies as st

from bot.feeds.html import html_to_text, inline_text, shorten


def test_paragraphs_entities_and_scripts() -> None:
    result = html_to_text(
        "<div><p>One &amp; <b>two</b></p><script>alert('x')</script>"
        "<style>p{}</style><p>Caf&eacute;&nbsp;&#8220;three&#8221;<br>four</p></div>"
    )
    assert result.text == "One & two\n\nCafé “three” four"
    assert result.image is None


def test_first_image_and_unclosed_tags() -> None:
    result = html_to_text('<p>Text <img src=" /a.jpg "><img src="/b.jpg"><p>more <i>italic')
    assert result.image == "/a.jpg"
    assert result.text == "Text\n\nmore italic"


def test_self_closing_skip_elements_do_not_swallow_the_rest() -> None:
    assert html_to_text("<svg/>visible").text == "visible"


def test_inline_text_is_one_line() -> None:
    assert inline_text("  Breaking:\n <em>storm</em>  &amp; floods ") == "Breaking: storm & floods"
    assert inline_text("a < b and c > d") == "a < b and c > d"


def test_shorten_cuts_at_a_word() -> None:
    assert shorten("short", 10) == "short"
    assert shorten("The council voted for the line", 20) == "The council voted…"
    assert len(shorten("x" * 50, 20)) == 20


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=200))
def test_escaped_text_comes_back(text: str) -> None:
    assert inline_text(html.escape(text)) == " ".join(text.split())


def test_plain_text_keeps_its_paragraphs_like_html() -> None:
    assert html_to_text("one\ntwo\n\nthree").text == "one two\n\nthree"
    assert html_to_text("one\ntwo\n\nthree &amp;").text == "one two\n\nthree &"
