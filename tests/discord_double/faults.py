"""Fault injection: failing, slow and dropped REST requests, chosen by a route filter.

A route filter is ``None`` (every request), a glob matched against ``"METHOD /path"`` (the
concrete path, e.g. ``"POST /channels/*/messages"``) or against the route template
(``"POST /channels/{channel_id}/messages"``), or a predicate on the recorded request.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import json_response

if TYPE_CHECKING:
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


@dataclass
class _Delay:
    seconds: float
    route_filter: RouteFilter
    remaining: int | None


@dataclass
class _Drop:
    remaining: int
    route_filter: RouteFilter


@dataclass
class Faults:
    failures: list[_Failure] = field(default_factory=list)
    delays: list[_Delay] = field(default_factory=list)
    drops: list[_Drop] = field(default_factory=list)

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        route_filter: RouteFilter = None,
        *,
        code: int = 0,
        retry_after: float = 0.05,
    ) -> None:
        self.failures.append(_Failure(n, status, code, route_filter, retry_after))

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

    def take_failure(self, record: RecordedRequest) -> web.Response | None:
        for failure in self.failures:
            if failure.remaining > 0 and route_matches(failure.route_filter, record):
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
