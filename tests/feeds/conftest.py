"""Fixtures for feed tests: the loopback feed server and a fetcher allowed to reach it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.feeds.address import address_problem
from bot.feeds.fetch import Fetcher
from tests.feeds.server import FeedServer


def loopback_only(ip: str) -> str | None:
    """The real address check, except for the test server's own address: what a test uses
    to see the check refuse every other address (127.0.0.2 included) while the server on
    127.0.0.1 stays reachable. Nothing outside 127.0.0.0/8 is ever connected to."""
    return None if ip == "127.0.0.1" else address_problem(ip)


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(loopback_only, timeout=5.0) as f:
        yield f
