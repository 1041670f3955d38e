"""Shared fixtures: real temp SQLite files, the shipped seeds, the loopback Discord double."""

from __future__ import annotations

from collections.abc import Iterator

import discord
import pytest
from hypothesis import settings

# The suite must be deterministic (CI, and three runs before a change lands): hypothesis
# explores the same examples every run and keeps no example database between runs. Explore
# further by hand with --hypothesis-profile=explore.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", max_examples=2_000)
settings.load_profile("deterministic")

pytest_plugins = ["tests.discord_double.fixtures", "tests.pg"]


@pytest.fixture
def restore_endpoints() -> Iterator[None]:
    """discord.py keeps its endpoints in class attributes; put them back after each test."""
    base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE = base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
