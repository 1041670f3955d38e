"""What the double remembers about each REST request, for assertions in tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .messages import UploadedFile

RECORDED_HEADERS = ("Authorization", "Content-Type", "User-Agent", "X-Audit-Log-Reason")


@dataclass
class RecordedRequest:
    method: str
    path: str
    """Path below the API base, e.g. ``/channels/123/messages``."""
    query: dict[str, str]
    json: Any
    """The JSON body, or ``payload_json`` of a multipart body; None when there is no body."""
    headers: dict[str, str]
    at: float
    """The double's clock when the request arrived."""
    route: str = ""
    """The matched route template, e.g. ``POST /channels/{channel_id}/messages``."""
    files: list[str] = field(default_factory=list)
    """File names of multipart uploads."""
    status: int | None = None
    """Status the double answered with (None while in flight)."""
    limit_scope: str | None = None
    """``X-RateLimit-Scope`` of a 429 answer (``global``, ``user``, ``shared``)."""


BODY: web.RequestKey[Any] = web.RequestKey("discord_double_body", object)
"""The parsed JSON body (or ``payload_json``) of the request being handled."""
FILES: web.RequestKey[list[UploadedFile]] = web.RequestKey("discord_double_files", list)
"""Files of a multipart request."""
