"""Shared fixtures: real temp SQLite files, the shipped seeds, the loopback Discord double."""

from __future__ import annotations

pytest_plugins = ["tests.discord_double.fixtures"]
