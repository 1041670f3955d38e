"""Discord's error bodies and the exact JSON response discord.py can parse.

discord.py parses a body as JSON only when ``Content-Type`` is exactly ``application/json``
(no charset), so every response goes through :func:`json_response`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

JsonObject = dict[str, Any]


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A response whose Content-Type is exactly ``application/json``, as Discord sends it."""
    merged = {"Content-Type": "application/json"}
    if headers:
        merged.update(headers)
    return web.Response(body=json.dumps(data).encode(), status=status, headers=merged)


class ApiError(Exception):
    """An error answer in Discord's shape: HTTP status, JSON ``code``, ``message``, ``errors``."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: JsonObject | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})
        self.extra: JsonObject = {}

    def with_body(self, extra: JsonObject) -> ApiError:
        """Add top-level body keys (a 429 carries ``retry_after`` and ``global``)."""
        self.extra.update(extra)
        return self

    def body(self) -> JsonObject:
        body: JsonObject = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body

    def response(self) -> web.Response:
        return json_response(self.body(), self.status, self.headers)


class FormErrors:
    """Collects field errors into Discord's nested ``errors`` object.

    Discord nests by field path with list indexes as string keys, each leaf holding
    ``{"_errors": [{"code": ..., "message": ...}]}``; e.g. ``embeds.0.title``.
    """

    def __init__(self) -> None:
        self.tree: JsonObject = {}

    def __bool__(self) -> bool:
        return bool(self.tree)

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: Sequence[str | int], limit: int) -> None:
        self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def bad_length(self, path: Sequence[str | int], low: int, high: int) -> None:
        self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def required(self, path: Sequence[str | int]) -> None:
        self.add(path, "BASE_TYPE_REQUIRED", "This field is required")

    def raise_if_any(self) -> None:
        if self.tree:
            raise invalid_form_body(self.tree)


def invalid_form_body(errors: JsonObject) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", errors)


def unauthorized() -> ApiError:
    return ApiError(401, 0, "401: Unauthorized")


def not_found() -> ApiError:
    return ApiError(404, 0, "404: Not Found")


def method_not_allowed() -> ApiError:
    return ApiError(405, 0, "405: Method Not Allowed")


def unknown_application() -> ApiError:
    return ApiError(404, 10002, "Unknown Application")


def unknown_channel() -> ApiError:
    return ApiError(404, 10003, "Unknown Channel")


def unknown_guild() -> ApiError:
    return ApiError(404, 10004, "Unknown Guild")


def unknown_member() -> ApiError:
    return ApiError(404, 10007, "Unknown Member")


def already_crossposted() -> ApiError:
    return ApiError(400, 40033, "This message has already been crossposted.")


def not_text_channel() -> ApiError:
    return ApiError(400, 50008, "Cannot send messages in a non-text channel")


def thread_exists() -> ApiError:
    return ApiError(400, 160004, "A thread has already been created for this message")


def wrong_channel_type() -> ApiError:
    return ApiError(400, 50024, "Cannot execute action on this channel type")


def unknown_role() -> ApiError:
    return ApiError(404, 10011, "Unknown Role")


def unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message")


def unknown_user() -> ApiError:
    return ApiError(404, 10013, "Unknown User")


def unknown_webhook() -> ApiError:
    return ApiError(404, 10015, "Unknown Webhook")


def unknown_interaction() -> ApiError:
    return ApiError(404, 10062, "Unknown interaction")


def already_acknowledged() -> ApiError:
    return ApiError(400, 40060, "Interaction has already been acknowledged.")


def missing_access() -> ApiError:
    return ApiError(403, 50001, "Missing Access")


def cannot_edit_others() -> ApiError:
    return ApiError(403, 50005, "Cannot edit a message authored by another user")


def too_many_old_edits() -> ApiError:
    return ApiError(
        400, 30046, "Maximum number of edits to messages older than 1 hour reached. Try again later"
    )


def archived_thread() -> ApiError:
    return ApiError(400, 50083, "Operation cannot be performed on an archived thread")


def empty_message() -> ApiError:
    return ApiError(400, 50006, "Cannot send an empty message")


def missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


def invalid_webhook_token() -> ApiError:
    return ApiError(401, 50027, "Invalid Webhook Token")
