"""The composition root: what ``open_app`` builds, and the scheduler lock it takes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import open_app
from bot.clock import ManualClock
from bot.config import DigestChannel, Settings

NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)


async def test_only_one_process_runs_the_schedules_of_a_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.app")
    clock = ManualClock(NOW)
    settings = Settings(database=tmp_path / "q.db", digests=(DigestChannel(channel=456),))
    async with open_app(settings, clock=clock, schedules=True) as app:
        assert app.runs_schedules
        async with open_app(settings, clock=clock, schedules=True) as other:  # another process
            assert not other.runs_schedules
            assert other.store is not app.store  # it opens all the same: commands work there
        assert (
            f"another newsbot process runs the schedules of {settings.database}; this one does"
            " not (slash commands still work here)"
        ) in caplog.text
        async with open_app(settings, clock=clock) as cli:  # a CLI command: never schedules
            assert not cli.runs_schedules
    # Once the first one stops, another may take over.
    async with open_app(settings, clock=clock, schedules=True) as app:
        assert app.runs_schedules


async def test_the_store_writes_the_injected_clocks_time(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with open_app(Settings(database=tmp_path / "q.db"), clock=clock) as app:
        assert app.clock is clock
        stored = await app.store.set_schedule(456, "0 9 * * *", "UTC", actor="alice")
        [read] = await app.store.schedules()
    assert stored.updated_at == read.updated_at == NOW
