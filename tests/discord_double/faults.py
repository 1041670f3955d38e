"""Fault injection: failing, slow and dropped REST requests, chosen by a route filter.

A route filter is ``None`` (every request), a glob matched against ``"METHOD /path"`` (the
concrete path, e.g. ``"POST /channels/*/messages"``) or against the route template
(``"POST /channels/{channel_id}/messages"``), or a predicate on the recorded request.

Failures and holds apply either before the request is handled (Discord never saw it) or, with
``after_handling``, once it was handled (Discord acted on it, e.g. stored a message, but the
client gets an error or no answer): the two sides of a crash that publishing must survive.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import json_response

if TYPE_CHECKING:
    from .notify import Notifier
    from .recording import RecordedRequest

RouteFilter = str | Callable[["RecordedRequest"], bool] | None

_REASONS = {
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
    504: "504: Gateway Timeout",
}


def route_matches(route_filter: RouteFilter, record: RecordedRequest) -> bool:
    if route_filter is None:
        return True
    if callable(route_filter):
        return route_filter(record)
    concrete = f"{record.method} {record.path}"
    return fnmatch.fnmatchcase(concrete, route_filter) or fnmatch.fnmatchcase(
        record.route, route_filter
    )


@dataclass
class _Failure:
    remaining: int
    status: int
    code: int
    route_filter: RouteFilter
    retry_after: float
    after_handling: bool = False


@dataclass
class _Delay:
    seconds: float
    route_filter: RouteFilter
    remaining: int | None


@dataclass
class _Drop:
    remaining: int
    route_filter: RouteFilter


class Hold:
    """Matching requests wait, unanswered, until the test calls :meth:`release` or :meth:`drop`.

    Made by :meth:`DiscordDouble.hold`. Before handling, a held request has not reached
    Discord: dropping it means Discord never saw it. After handling (``after_handling``), Discord
    has acted on it (a message is stored and dispatched) and only the answer is withheld:
    dropping it means the client never learns the outcome. Either way the test can kill the
    client meanwhile and decide what became of the request, with no timing involved.
    """

    def __init__(
        self,
        route_filter: RouteFilter,
        count: int | None,
        *,
        after_handling: bool,
        notifier: Notifier,
    ) -> None:
        self.route_filter = route_filter
        self.remaining = count
        self.after_handling = after_handling
        self.held: list[RecordedRequest] = []
        """Requests this hold caught, in arrival order (still waiting until resolved)."""
        self._notifier = notifier
        self._resolved = asyncio.Event()
        self._dropped = False

    @property
    def active(self) -> bool:
        return not self._resolved.is_set() and (self.remaining is None or self.remaining > 0)

    def release(self) -> None:
        """Answer every held request normally and hold no further ones."""
        self._resolved.set()

    def drop(self) -> None:
        """Close the connection of every held request without answering (a request held
        before handling is then never handled) and hold no further ones."""
        self._dropped = True
        self._resolved.set()

    async def wait(self, count: int = 1, timeout: float = 5.0) -> list[RecordedRequest]:  # noqa: ASYNC109 (bounded waits are the API)
        """Wait until ``count`` requests are being held."""
        return await self._notifier.wait_until(
            lambda: list(self.held) if len(self.held) >= count else None,
            timeout,
            f"{count} held request(s) {self.route_filter!r}",
        )

    def take(self, record: RecordedRequest) -> bool:
        if not self.active or not route_matches(self.route_filter, record):
            return False
        if self.remaining is not None:
            self.remaining -= 1
        self.held.append(record)
        self._notifier.notify()
        return True

    async def until_resolved(self) -> bool:
        """Wait for the test's decision; True to answer, False to drop the connection."""
        await self._resolved.wait()
        return not self._dropped


@dataclass
class Faults:
    failures: list[_Failure] = field(default_factory=list)
    delays: list[_Delay] = field(default_factory=list)
    drops: list[_Drop] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        route_filter: RouteFilter = None,
        *,
        code: int = 0,
        retry_after: float = 0.05,
        after_handling: bool = False,
    ) -> None:
        self.failures.append(_Failure(n, status, code, route_filter, retry_after, after_handling))

    def hold(
        self,
        route_filter: RouteFilter,
        count: int | None,
        *,
        after_handling: bool,
        notifier: Notifier,
    ) -> Hold:
        hold = Hold(route_filter, count, after_handling=after_handling, notifier=notifier)
        self.holds.append(hold)
        return hold

    def take_hold(self, record: RecordedRequest, *, after_handling: bool) -> Hold | None:
        for hold in self.holds:
            if hold.after_handling == after_handling and hold.take(record):
                return hold
        return None

    def delay(
        self, seconds: float, route_filter: RouteFilter = None, count: int | None = None
    ) -> None:
        self.delays.append(_Delay(seconds, route_filter, count))

    def drop_next(self, n: int = 1, route_filter: RouteFilter = None) -> None:
        self.drops.append(_Drop(n, route_filter))

    def clear(self) -> None:
        self.failures.clear()
        self.delays.clear()
        self.drops.clear()
        for hold in self.holds:
            hold.drop()
        self.holds.clear()

    def take_drop(self, record: RecordedRequest) -> bool:
        for drop in self.drops:
            if drop.remaining > 0 and route_matches(drop.route_filter, record):
                drop.remaining -= 1
                return True
        return False

    def take_delay(self, record: RecordedRequest) -> float:
        total = 0.0
        for d in self.delays:
            if (d.remaining is None or d.remaining > 0) and route_matches(d.route_filter, record):
                total += d.seconds
                if d.remaining is not None:
                    d.remaining -= 1
        return total

    def take_failure(
        self, record: RecordedRequest, *, after_handling: bool = False
    ) -> web.Response | None:
        for failure in self.failures:
            if (
                failure.remaining > 0
                and failure.after_handling == after_handling
                and route_matches(failure.route_filter, record)
            ):
                failure.remaining -= 1
                return _failure_response(failure)
        return None


def _failure_response(failure: _Failure) -> web.Response:
    status = failure.status
    if status == 429:
        body: dict[str, Any] = {
            "message": "You are being rate limited.",
            "retry_after": failure.retry_after,
            "global": False,
        }
        headers = {
            "Retry-After": str(max(1, round(failure.retry_after))),
            "X-RateLimit-Scope": "shared",
            "Via": "1.1 google",
        }
        return json_response(body, 429, headers)
    if status in (502, 504):
        # Cloudflare answers these with an HTML page, not JSON.
        html = f"<html><head><title>{_REASONS[status]}</title></head><body></body></html>"
        return web.Response(text=html, status=status, content_type="text/html")
    message = _REASONS.get(status, f"{status}: Injected failure")
    return json_response({"message": message, "code": failure.code}, status)
