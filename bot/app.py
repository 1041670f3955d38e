"""The composition root: builds the store, renderer and clock once and hands them out.

Nothing is created at import time. The CLI and the Discord bot both enter ``open_app`` and call
the same core functions with what it yields.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.ingest import Clusterer
from bot.metrics import Metrics
from bot.render import Renderer
from bot.schedule.lock import SchedulerLock
from bot.store import SQLiteStore, Store
from bot.store.postgres import PostgresStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class App:
    settings: Settings
    store: Store
    renderer: Renderer
    clock: Clock
    clusterer: Clusterer
    """The clustering window, kept for the app's life; pass it as ``store_articles(...,
    cluster=app.clusterer)`` where articles should cluster."""
    metrics: Metrics = field(default_factory=Metrics)
    """What this process did, for ``metrics: {port}`` (counted whether or not it is served)."""
    runs_schedules: bool = False
    """Whether this process holds the database's scheduler lock and so runs its schedules
    (see ``bot.schedule.lock``); only ``open_app(..., schedules=True)`` asks for it."""


@asynccontextmanager
async def open_app(
    settings: Settings, *, clock: Clock | None = None, schedules: bool = False
) -> AsyncIterator[App]:
    """Open the database (migrating it) and build the renderer; close everything on exit.

    ``schedules``: this process means to run the schedules (``newsbot run``), so it takes the
    database's scheduler lock for as long as the app is open (a file lock beside an SQLite
    file; an advisory lock on PostgreSQL). When another process holds it,
    the app opens all the same (slash commands work) with ``runs_schedules`` False.
    """
    clock = clock or SystemClock()
    database = settings.database
    store: Store
    lock: SchedulerLock | None = None
    postgres: PostgresStore | None = None
    if isinstance(database, Path):
        store = await SQLiteStore.open(database, clock)
        lock = SchedulerLock(database) if schedules else None
    else:
        store = postgres = await PostgresStore.open(database, clock)
    try:
        holds_lock = False
        if lock is not None:
            holds_lock = lock.acquire()
        elif schedules and postgres is not None:
            # An advisory lock, held by a session of its own and released with it.
            holds_lock = await postgres.acquire_scheduler_lock()
        if schedules and not holds_lock:
            log.error(
                "another newsbot process runs the schedules of %s; this one does not (slash"
                " commands still work here)",
                settings.database,
            )
        renderer = Renderer(settings.templates)
        clusterer = Clusterer(store, settings.clustering, clock)
        yield App(settings, store, renderer, clock, clusterer, runs_schedules=holds_lock)
    finally:
        if lock is not None:
            lock.release()
        await store.close()
