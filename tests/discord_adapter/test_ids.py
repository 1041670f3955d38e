"""The deck's custom ids carry its whole state: whatever a moderator types as filters comes
back unchanged from a click, or is refused up front with one clear message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.discord_adapter.ids import (
    CUSTOM_ID_MAX,
    DECK_ACTIONS,
    DeckState,
    check_deck_filters,
    deck_button_id,
    parse_deck_button,
    review_button_item,
)
from bot.errors import OptionTooLong

filters = st.none() | st.text(min_size=1, max_size=40)


@given(
    action=st.sampled_from(DECK_ACTIONS),
    item_id=st.integers(min_value=0, max_value=10**19 - 1),
    topic=filters,
    feed=filters,
)
def test_a_deck_button_id_round_trips_or_is_refused(
    action: str, item_id: int, topic: str | None, feed: str | None
) -> None:
    state = DeckState(item_id, topic, feed)
    try:
        check_deck_filters(topic, feed)
    except OptionTooLong:
        with pytest.raises(OptionTooLong):
            deck_button_id("restart", DeckState(10**19 - 1, topic, feed))
        return
    custom_id = deck_button_id(action, state)
    assert len(custom_id) <= CUSTOM_ID_MAX
    assert parse_deck_button(custom_id) == (action, state)
    assert review_button_item(custom_id) is None  # never mistaken for a review post's button


def test_other_components_are_not_deck_buttons() -> None:
    assert parse_deck_button("newsbot:review:approve:5") is None
    assert parse_deck_button("newsbot:deck:approve:5:a:b:c") is None
