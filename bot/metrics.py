"""Prometheus metrics and health checks (``metrics: {port}``), for operators who watch the bot
with the tools they use for every other service.

The numbers come from the core's own results (what a publish, a feed poll or a command did)
handed to :class:`Metrics`; the queue's depth is read from the store at each scrape, so it is
never stale. Each app has its own registry (prometheus-client's default one is global), so two
apps in one process (the tests) never count into each other. The HTTP side (``/metrics``,
``/healthz``, ``/readyz``) is :func:`serve`, an aiohttp app on the bot's own event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from bot.config import MetricsSettings
from bot.errors import StartupError
from bot.feeds.poll import FetchReport
from bot.publish import PublishResult, PublishStatus
from bot.store import Status, Store

log = logging.getLogger(__name__)

# Interactions answer within Discord's 3 s; the buckets resolve the range that matters.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)


class Metrics:
    """What the bot did, as Prometheus counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.queue = Gauge(
            "newsbot_queue_items", "Items in the queue by state", ["state"], registry=r
        )
        self.digests = Counter(
            "newsbot_digests", "Digests delivered or given up, by outcome", ["outcome"], registry=r
        )
        self.messages = Counter("newsbot_messages_sent", "Digest messages posted", registry=r)
        self.items = Counter("newsbot_items_published", "Items published in digests", registry=r)
        self.failures = Counter(
            "newsbot_delivery_failures",
            "Digests Discord refused (permanent) or kept failing (transient)",
            ["kind"],
            registry=r,
        )
        self.rate_limited = Counter(
            "newsbot_discord_429", "Responses 429 (rate limited) from Discord", registry=r
        )
        self.fetches = Counter(
            "newsbot_feed_fetches",
            "Feed polls by outcome (new, unchanged, failed)",
            ["outcome"],
            registry=r,
        )
        self.share = Gauge(
            "newsbot_request_share",
            "Discord requests a second this process may make (its share of the global limit)",
            registry=r,
        )
        self.processes = Gauge(
            "newsbot_processes", "newsbot processes alive on the database", registry=r
        )
        self.interactions = Histogram(
            "newsbot_interaction_seconds",
            "From Discord creating an interaction to the bot finishing its command",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def published(self, result: PublishResult) -> None:
        if result.status is PublishStatus.POSTED:
            self.digests.labels("posted").inc()
            self.messages.inc(result.messages)
            self.items.inc(result.items)
        elif result.status is PublishStatus.FAILED:
            self.digests.labels("failed").inc()
            self.failures.labels("permanent").inc()
        elif result.status is PublishStatus.RETRY_LATER:
            self.digests.labels("retry_later").inc()
            self.failures.labels("transient").inc()
        elif result.status is PublishStatus.BUSY:
            self.digests.labels("busy").inc()

    def fetched(self, report: FetchReport) -> None:
        for result in report.results:
            if result.problem is not None:
                outcome = "failed"
            elif result.new or result.updated or result.clustered:
                outcome = "new"
            else:
                outcome = "unchanged"
            self.fetches.labels(outcome).inc()

    def answered(self, kind: str, seconds: float) -> None:
        self.interactions.labels(kind).observe(max(seconds, 0.0))

    async def exposition(self, store: Store) -> bytes:
        """The metrics as Prometheus reads them, the queue's depth read just now."""
        counts = await store.count_by_status()
        for status in Status:
            self.queue.labels(status.value).set(counts.get(status, 0))
        return generate_latest(self.registry)


@asynccontextmanager
async def serve(
    settings: MetricsSettings,
    metrics: Metrics,
    store: Store,
    ready: Callable[[], bool],
) -> AsyncIterator[int]:
    """Serve ``/metrics``, ``/healthz`` (the process answers) and ``/readyz`` (``ready()``:
    logged in, checks passed, serving) until the block ends; yields the port listened on."""

    async def scrape(request: web.Request) -> web.Response:
        started = time.perf_counter()
        body = await metrics.exposition(store)
        log.debug("metrics scraped in %.1f ms", (time.perf_counter() - started) * 1000)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(request: web.Request) -> web.Response:
        if ready():
            return web.Response(text="ready\n")
        return web.Response(status=503, text="not ready\n")

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(
                f"metrics: cannot listen on {settings.host}:{settings.port}"
                f" ({exc.strerror or exc}); choose another port or host"
            ) from None
        port = int(runner.addresses[0][1])  # the one bound, when the config asked for port 0
        log.info("metrics and health checks on http://%s:%d/", settings.host, port)
        yield port
    finally:
        await runner.cleanup()
