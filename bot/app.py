"""The composition root: builds the store, renderer and clock once and hands them out.

Nothing is created at import time. The CLI and the Discord bot both enter ``open_app`` and call
the same core functions with what it yields.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.render import Renderer
from bot.store import SQLiteStore, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class App:
    settings: Settings
    store: Store
    renderer: Renderer
    clock: Clock


@asynccontextmanager
async def open_app(settings: Settings, *, clock: Clock | None = None) -> AsyncIterator[App]:
    """Open the database (migrating it) and build the renderer; close everything on exit."""
    store = await SQLiteStore.open(settings.database)
    try:
        renderer = Renderer(settings.templates)
        yield App(settings=settings, store=store, renderer=renderer, clock=clock or SystemClock())
    finally:
        await store.close()
