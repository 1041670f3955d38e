"""Pytest fixtures: a started double per test, failing the test on unknown routes.

An unknown route means the bot called an endpoint the double does not model; that must be
noticed (and the double extended) rather than silently answered with a 404 the bot might
swallow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from .double import DiscordDouble

DoubleFactory = Callable[..., Awaitable[DiscordDouble]]


def assert_no_unknown_routes(double: DiscordDouble) -> None:
    """Fail the test if the bot called a route the double does not model."""
    if double.unknown_routes:
        calls = ", ".join(f"{r.method} {r.path}" for r in double.unknown_routes)
        pytest.fail(f"the bot called routes the Discord double does not know: {calls}")


@pytest_asyncio.fixture
async def discord_double() -> AsyncIterator[DiscordDouble]:
    """A running :class:`DiscordDouble` with the default guild and real-time limits."""
    double = DiscordDouble()
    await double.start()
    try:
        yield double
    finally:
        await double.stop()
    assert_no_unknown_routes(double)


@pytest_asyncio.fixture
async def discord_double_factory() -> AsyncIterator[DoubleFactory]:
    """``await discord_double_factory(**DiscordDouble kwargs)`` for a customised double."""
    started: list[DiscordDouble] = []

    async def make(**kwargs: Any) -> DiscordDouble:
        double = DiscordDouble(**kwargs)
        await double.start()
        started.append(double)
        return double

    try:
        yield make
    finally:
        for double in started:
            await double.stop()
    for double in started:
        assert_no_unknown_routes(double)
