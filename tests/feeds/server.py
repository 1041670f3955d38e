"""A loopback HTTP server that serves feeds the way real sites do, quirks included.

Static feeds answer conditional GETs (ETag and Last-Modified) and count their 304s, so a test
can assert that a second poll was all 304s at the server. Other routes reproduce what goes
wrong in the wild: 429 with Retry-After, 500s, redirect chains and loops, bodies that never
finish, bodies that are too large (declared or not, or compressed small), HTML instead of a
feed. Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from aiohttp import web

FIXTURES = Path(__file__).resolve().parent / "fixtures"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LAST_MODIFIED = "Mon, 30 Nov 2026 09:00:00 GMT"


@dataclass(slots=True)
class StaticFeed:
    body: bytes
    content_type: str
    etag: bool = True
    last_modified: bool = True
    compress: bool = False


class FeedServer:
    def __init__(self) -> None:
        self.feeds: dict[str, StaticFeed] = {}
        self.handlers: dict[str, Handler] = {}
        self.hits: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.requests: list[web.Request] = []
        self.release = asyncio.Event()
        """Set at shutdown: lets handlers that hold a response open finish."""
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- set-up -------------------------------------------------------------------------------
    def serve(self, path: str, body: bytes | str, content_type: str, **options: bool) -> str:
        """Serve ``body`` at ``path`` with validators; returns its URL."""
        data = body.encode() if isinstance(body, str) else body
        self.feeds[path] = StaticFeed(data, content_type, **options)
        return self.url(path)

    def fixture(self, path: str, name: str, content_type: str, **options: bool) -> str:
        return self.serve(path, (FIXTURES / name).read_bytes(), content_type, **options)

    def route(self, path: str, handler: Handler) -> str:
        self.handlers[path] = handler
        return self.url(path)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    # --- serving ------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs if request.path_qs in self.feeds else request.path
        self.hits[path] += 1
        self.requests.append(request)
        if path in self.handlers:
            return await self.handlers[path](request)
        feed = self.feeds.get(path)
        if feed is None:
            return web.Response(status=404, text="not found")
        etag = '"' + hashlib.sha1(feed.body).hexdigest()[:16] + '"'
        headers = {"Content-Type": feed.content_type}
        if feed.etag:
            headers["ETag"] = etag
        if feed.last_modified:
            headers["Last-Modified"] = LAST_MODIFIED
        fresh = (feed.etag and request.headers.get("If-None-Match") == etag) or (
            not feed.etag
            and feed.last_modified
            and request.headers.get("If-Modified-Since") == LAST_MODIFIED
        )
        if fresh:
            self.not_modified[path] += 1
            return web.Response(status=304, headers=headers)
        body = feed.body
        if feed.compress and "gzip" in request.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    async def __aenter__(self) -> FeedServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release.set()
        assert self._runner is not None
        await self._runner.cleanup()


# --- handlers for what goes wrong -----------------------------------------------------------------
def status(code: int, headers: dict[str, str] | None = None, text: str = "") -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=code, headers=headers or {}, text=text)

    return handler


def redirect(location: str, code: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=code, headers={"Location": location})

    return handler


def stalled(server: FeedServer) -> Handler:
    """Headers and a first chunk, then nothing until the server shuts down."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        await response.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
        await server.release.wait()
        return response

    return handler


def endless(chunk: int = 64 * 1024, total: int = 1 << 30) -> Handler:
    """A body without Content-Length, streamed until the client stops reading."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        sent = 0
        try:
            while sent < total:
                await response.write(b"<!--" + b"x" * (chunk - 7) + b"-->")
                sent += chunk
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    return handler


def gzip_bomb(size: int) -> Handler:
    """A small gzip body that unpacks to ``size`` bytes."""
    packed = gzip.compress(b"<rss>" + b" " * size + b"</rss>")

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=packed,
            headers={"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"},
        )

    return handler


def declared_large(length: int) -> Handler:
    """Declares a body of ``length`` bytes and sends a few."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        response.content_length = length
        await response.prepare(request)
        await response.write(b"<rss>")
        return response

    return handler
