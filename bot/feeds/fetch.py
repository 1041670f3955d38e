"""Fetching feeds like a good citizen: one long-lived aiohttp session for every feed, a cap on
concurrent requests, conditional GET, compression, a User-Agent that names newsbot, timeouts,
at most 10 MiB and 5 redirects, and every address checked (``bot.feeds.address``).

Redirects are followed here, one hop at a time, so each hop's URL is checked (scheme, IP
literal, loop) before it is requested; names are checked as they resolve. A fetch returns a
:class:`Fetched` or raises :class:`FetchFailed` with a problem an operator can act on and, for
429 and 503, the server's ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Final
from urllib.parse import urljoin, urlsplit

import aiohttp

from bot import __version__
from bot.feeds.address import AddressCheck, CheckedResolver, RefusedAddress, literal_problem

USER_AGENT: Final = f"newsbot/{__version__} (Discord news digest; feed reader)"
MAX_BYTES: Final = 10 * 1024 * 1024
MAX_REDIRECTS: Final = 5
_REDIRECTS: Final = frozenset((301, 302, 303, 307, 308))
_ACCEPT: Final = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9,"
    " text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)


class FetchFailed(Exception):
    """A feed could not be fetched; ``problem`` says why in words, ``retry_after`` is the
    server's own wish (429, 503), ``status`` the HTTP status if there was one."""

    def __init__(
        self, problem: str, *, status: int | None = None, retry_after: timedelta | None = None
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Fetched:
    status: int
    """200, or 304 (not modified: ``body`` is empty)."""
    url: str
    """Where the document was finally read from (after redirects)."""
    body: bytes
    headers: dict[str, str]
    etag: str | None
    last_modified: str | None


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as a delay from ``now``."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(timedelta(0), when - now)


class Fetcher:
    """The HTTP side of polling, used as ``async with Fetcher(...) as fetcher``.

    ``check`` decides which IP addresses may be connected to (``check_for(allow_private)``);
    ``concurrency`` caps requests in flight across all feeds; ``timeout`` bounds one whole
    fetch (connection, redirects and body)."""

    def __init__(
        self,
        check: AddressCheck,
        *,
        concurrency: int = 20,
        timeout: float = 30.0,
        max_bytes: int = MAX_BYTES,
        max_redirects: int = MAX_REDIRECTS,
    ) -> None:
        self._check = check
        self._limit = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(
            resolver=CheckedResolver(self._check), limit=self._concurrency, ttl_dns_cache=60
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={
                "User-Agent": USER_AGENT,
                "Accept": _ACCEPT,
                "Accept-Encoding": "gzip, deflate",
            },
            cookie_jar=aiohttp.DummyCookieJar(),
            # Only the total: per-read timeouts would let a server that trickles a byte a
            # second hold a slot for ever.
            timeout=aiohttp.ClientTimeout(total=None),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        now: datetime,
    ) -> Fetched:
        """GET ``url`` (conditionally, when validators are given), following redirects."""
        async with self._limit:
            try:
                return await asyncio.wait_for(
                    self._follow(url, etag, last_modified, now), self._timeout
                )
            except TimeoutError:
                raise FetchFailed(f"timed out after {self._timeout:g} s") from None
            except aiohttp.ClientConnectorCertificateError as exc:
                raise FetchFailed(f"TLS certificate not valid ({exc.certificate_error})") from None
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, RefusedAddress):
                    raise FetchFailed(f"refused: {exc.os_error}") from None
                raise FetchFailed(f"cannot connect ({exc.os_error.strerror or exc})") from None
            except ssl.SSLError as exc:
                raise FetchFailed(f"TLS error ({exc.reason or exc})") from None
            except aiohttp.ClientPayloadError as exc:
                raise FetchFailed(f"broken response body ({exc})") from None
            except aiohttp.ClientError as exc:
                raise FetchFailed(f"HTTP error ({type(exc).__name__}: {exc})") from None

    def _check_hop(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchFailed(f"{url}: only http(s) feeds are fetched")
        problem = literal_problem(parts.hostname or "", self._check)
        if problem is not None:
            raise FetchFailed(f"refused: {problem}")

    async def _follow(
        self, url: str, etag: str | None, last_modified: str | None, now: datetime
    ) -> Fetched:
        assert self._session is not None, "use the Fetcher as an async context manager"
        seen = {url}
        for _hop in range(self.max_redirects + 1):
            self._check_hop(url)
            headers = {}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            async with self._session.get(url, headers=headers, allow_redirects=False) as resp:
                if resp.status in _REDIRECTS:
                    location = resp.headers.get("Location")
                    if not location:
                        raise FetchFailed(
                            f"HTTP {resp.status} without a Location", status=resp.status
                        )
                    url = urljoin(url, location)
                    if url in seen:
                        raise FetchFailed(f"redirect loop (back to {url})", status=resp.status)
                    seen.add(url)
                    continue
                return await self._response(resp, url, now)
        raise FetchFailed(f"too many redirects (more than {self.max_redirects})")

    async def _response(self, resp: aiohttp.ClientResponse, url: str, now: datetime) -> Fetched:
        headers = {k.lower(): v for k, v in resp.headers.items()}
        if resp.status == 304:
            return Fetched(
                304, url, b"", headers, headers.get("etag"), headers.get("last-modified")
            )
        if resp.status in (429, 503):
            wait = retry_after(headers.get("retry-after"), now)
            said = f"; asked to retry after {wait}" if wait is not None else ""
            raise FetchFailed(
                f"HTTP {resp.status} {resp.reason or ''}".rstrip() + said,
                status=resp.status,
                retry_after=wait,
            )
        if resp.status != 200:
            raise FetchFailed(
                f"HTTP {resp.status} {resp.reason or ''}".rstrip(), status=resp.status
            )
        length = resp.content_length
        if length is not None and length > self.max_bytes and "content-encoding" not in headers:
            raise FetchFailed(f"too large ({length:,} bytes; at most {self.max_bytes:,})")
        body = bytearray()
        # Counted after decompression: a small gzip body can unpack to gigabytes.
        async for chunk in resp.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > self.max_bytes:
                raise FetchFailed(f"too large (more than {self.max_bytes:,} bytes)")
        return Fetched(
            200, url, bytes(body), headers, headers.get("etag"), headers.get("last-modified")
        )
