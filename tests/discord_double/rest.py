"""REST v10 routes and the middleware every request goes through.

The middleware records the request, answers unknown routes with 404 (and remembers them so
the fixture can fail the test), checks the bot token, applies injected faults, then the
global and per-route rate limits, and finally attaches ``X-RateLimit-*`` headers to whatever
the handler answered, as Discord does for 2xx and 4xx alike.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import hdrs, web

from . import forum
from .errors import (
    ApiError,
    FormErrors,
    already_crossposted,
    archived_thread,
    cannot_edit_others,
    empty_message,
    invalid_form_body,
    json_response,
    method_not_allowed,
    missing_access,
    missing_permissions,
    not_found,
    not_text_channel,
    thread_exists,
    too_many_old_edits,
    unauthorized,
    unknown_application,
    unknown_channel,
    unknown_guild,
    unknown_member,
    unknown_message,
    unknown_role,
    unknown_user,
    wrong_channel_type,
)
from .limits import check_commands, check_message_body, is_empty_message
from .mentions import check_allowed_mentions, resolve_mentions
from .messages import OLD_MESSAGE_AGE, UploadedFile
from .permissions import Permission
from .recording import BODY, FILES, RECORDED_HEADERS, RecordedRequest
from .rest_interactions import InteractionRoutes
from .state import THREAD_TYPES, Channel, ChannelType, Guild, Member, Role
from .webhooks import WebhookRoutes

CROSSPOSTED = 1 << 0
"""The message flag of a crossposted announcement."""

if TYPE_CHECKING:
    from .double import DiscordDouble

JsonObject = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

API_PREFIX = "/api/v10"


@dataclass(frozen=True)
class RouteMeta:
    template: str
    family: str | None
    """Rate-limit bucket family; None for routes outside the bot's limits (interactions)."""
    major: str | None
    """The path parameter that splits the bucket (``channel_id``), if any."""
    auth: bool


async def _read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """JSON body, or ``payload_json`` + ``files[n]`` of a multipart body."""
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        payload: Any = None
        files: list[UploadedFile] = []
        while (part := await reader.next()) is not None:
            if not isinstance(part, aiohttp.BodyPartReader):
                continue
            if part.name == "payload_json":
                payload = _parse_json(await part.text())
            elif part.filename:
                content_type = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
                files.append(
                    UploadedFile(part.name or "", part.filename, content_type, await part.read())
                )
        return payload, files
    raw = await request.read()
    if not raw:
        return None, []
    if request.content_type == "application/json":
        return _parse_json(raw.decode()), []
    return None, []


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ApiError(400, 50109, "The request body contains invalid JSON.") from None


def _snowflake(value: str, error: Callable[[], ApiError]) -> int:
    try:
        return int(value)
    except ValueError:
        raise error() from None


def _drop_connection(request: web.Request) -> web.StreamResponse:
    """Abort the TCP connection: the client sees a disconnect instead of an answer."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=599)


class RestApi:
    def __init__(self, double: DiscordDouble) -> None:
        self.d = double
        self.meta: dict[str, RouteMeta] = {}

    # ------------------------------------------------------------------ routing

    def register(self, app: web.Application) -> None:
        bot_routes: list[tuple[str, str, Handler, str | None, str | None]] = [
            ("GET", "/users/@me", self.get_me, "users", None),
            ("GET", "/users/{user_id}", self.get_user, "users", None),
            ("GET", "/oauth2/applications/@me", self.get_application, "application", None),
            ("GET", "/applications/@me", self.get_application, "application", None),
            ("GET", "/gateway", self.get_gateway, "gateway", None),
            ("GET", "/gateway/bot", self.get_gateway_bot, "gateway", None),
            ("GET", "/channels/{channel_id}", self.get_channel, "channel", "channel_id"),
            (
                "GET",
                "/channels/{channel_id}/messages",
                self.list_messages,
                "message_list",
                "channel_id",
            ),
            (
                "POST",
                "/channels/{channel_id}/messages",
                self.create_message,
                "message_create",
                "channel_id",
            ),
            (
                "GET",
                "/channels/{channel_id}/messages/{message_id}",
                self.get_message,
                "message_get",
                "channel_id",
            ),
            (
                "PATCH",
                "/channels/{channel_id}/messages/{message_id}",
                self.edit_message,
                "message_edit",
                "channel_id",
            ),
            (
                "DELETE",
                "/channels/{channel_id}/messages/{message_id}",
                self.delete_message,
                "message_edit",
                "channel_id",
            ),
            ("POST", "/channels/{channel_id}/typing", self.typing, "typing", "channel_id"),
            (
                "POST",
                "/channels/{channel_id}/messages/{message_id}/crosspost",
                self.crosspost_message,
                "crosspost",
                "channel_id",
            ),
            (
                "POST",
                "/channels/{channel_id}/threads",
                self.create_forum_post,
                "thread_create",
                "channel_id",
            ),
            (
                "GET",
                "/channels/{channel_id}/threads/archived/public",
                self.list_archived_threads,
                "thread_list",
                "channel_id",
            ),
            (
                "GET",
                "/guilds/{guild_id}/threads/active",
                self.list_active_threads,
                "thread_list",
                "guild_id",
            ),
            (
                "POST",
                "/channels/{channel_id}/messages/{message_id}/threads",
                self.start_thread_on_message,
                "thread_create",
                "channel_id",
            ),
            ("GET", "/guilds/{guild_id}", self.get_guild, "guild", "guild_id"),
            ("GET", "/guilds/{guild_id}/channels", self.get_guild_channels, "guild", "guild_id"),
            ("GET", "/guilds/{guild_id}/roles", self.get_guild_roles, "guild", "guild_id"),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member, "member", "guild_id"),
            (
                "PUT",
                "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
                self.add_member_role,
                "member_roles",
                "guild_id",
            ),
            (
                "DELETE",
                "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
                self.remove_member_role,
                "member_roles",
                "guild_id",
            ),
            ("GET", "/applications/{application_id}/commands", self.get_commands, "commands", None),
            ("PUT", "/applications/{application_id}/commands", self.put_commands, "commands", None),
            (
                "GET",
                "/applications/{application_id}/commands/{command_id}",
                self.get_command,
                "commands",
                None,
            ),
            (
                "GET",
                "/applications/{application_id}/guilds/{guild_id}/commands",
                self.get_commands,
                "commands",
                "guild_id",
            ),
            (
                "PUT",
                "/applications/{application_id}/guilds/{guild_id}/commands",
                self.put_commands,
                "commands",
                "guild_id",
            ),
            (
                "GET",
                "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
                self.get_command,
                "commands",
                "guild_id",
            ),
        ]
        webhooks = WebhookRoutes(self.d)
        bot_routes += webhooks.bot_routes()
        for method, path, handler, family, major in bot_routes:
            self._add(
                app, method, path, handler, RouteMeta(f"{method} {path}", family, major, auth=True)
            )
        interactions = InteractionRoutes(self.d)
        for method, path, handler in interactions.routes() + webhooks.token_routes(interactions):
            self._add(
                app, method, path, handler, RouteMeta(f"{method} {path}", None, None, auth=False)
            )

    def _add(
        self, app: web.Application, method: str, path: str, handler: Handler, meta: RouteMeta
    ) -> None:
        name = f"route{len(self.meta)}"
        self.meta[name] = meta
        app.router.add_route(method, API_PREFIX + path, handler, name=name)

    # ------------------------------------------------------------------ middleware

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/gateway":
            return await handler(request)
        d = self.d
        in_api = request.path.startswith(API_PREFIX + "/")
        record = RecordedRequest(
            method=request.method,
            path=request.path[len(API_PREFIX) :] if in_api else request.path,
            query=dict(request.query),
            json=None,
            headers={h: request.headers[h] for h in RECORDED_HEADERS if h in request.headers},
            at=d.clock(),
        )
        d.requests.append(record)
        try:
            response = await self._process(request, handler, record, in_api=in_api)
        except ApiError as error:
            response = error.response()
        record.status = response.status
        if response.status == 429:
            d.count_429 += 1
            record.limit_scope = response.headers.get("X-RateLimit-Scope")
        if response.status in (401, 403, 429):
            d.invalid_requests += 1
        d.notifier.notify()
        return response

    async def _process(
        self, request: web.Request, handler: Handler, record: RecordedRequest, *, in_api: bool
    ) -> web.StreamResponse:
        d = self.d
        body, files = await _read_body(request)
        record.json = body
        record.files = [f.filename for f in files]
        request[BODY] = body
        request[FILES] = files
        match = request.match_info
        if match.http_exception is not None or not in_api:
            record.route = "unknown"
            d.unknown_routes.append(record)
            wrong_method = match.http_exception is not None and match.http_exception.status == 405
            raise method_not_allowed() if wrong_method else not_found()
        meta = self.meta[match.route.name or ""]
        record.route = meta.template
        if meta.auth and request.headers.get("Authorization") != f"Bot {d.token}":
            raise unauthorized()
        if d.faults.take_drop(record):
            return _drop_connection(request)
        delay = d.faults.take_delay(record)
        if delay:
            await asyncio.sleep(delay)
        hold = d.faults.take_hold(record, after_handling=False)
        if hold is not None and not await hold.until_resolved():
            return _drop_connection(request)
        failure = d.faults.take_failure(record)
        if failure is not None:
            return failure
        headers: dict[str, str] = {}
        if meta.family is not None:
            global_error = d.limiter.check_global()
            if global_error is not None:
                raise global_error
            decision = d.limiter.take(meta.family, match.get(meta.major or "", ""))
            if decision.error is not None:
                raise decision.error
            headers = decision.headers
        try:
            response = await handler(request)
        except ApiError as error:
            response = error.response()
        hold = d.faults.take_hold(record, after_handling=True)
        if hold is not None and not await hold.until_resolved():
            return _drop_connection(request)
        failure = d.faults.take_failure(record, after_handling=True)
        if failure is not None:
            return failure
        for key, value in headers.items():
            response.headers.setdefault(key, value)
        return response

    # ------------------------------------------------------------------ helpers

    def _channel(self, request: web.Request) -> tuple[Guild, Channel]:
        channel_id = _snowflake(request.match_info["channel_id"], unknown_channel)
        found = self.d.find_channel(channel_id)
        if found is None:
            raise unknown_channel()
        return found

    def _visible_channel(self, request: web.Request) -> tuple[Guild, Channel, int]:
        g, ch = self._channel(request)
        perms = g.channel_permissions(self.d.bot_user.id, ch.id)
        if not perms & Permission.VIEW_CHANNEL:
            raise missing_access()
        return g, ch, perms

    def _guild(self, request: web.Request) -> Guild:
        guild_id = _snowflake(request.match_info["guild_id"], unknown_guild)
        g = self.d.guilds.get(guild_id)
        if g is None:
            raise unknown_guild()
        return g

    def _message_in(self, request: web.Request, ch: Channel) -> JsonObject:
        message_id = _snowflake(request.match_info["message_id"], unknown_message)
        message = self.d.store.by_id.get(message_id)
        if message is None or int(message["channel_id"]) != ch.id:
            raise unknown_message()
        return message

    @staticmethod
    def _body(request: web.Request) -> JsonObject:
        body = request[BODY]
        if body is None:
            return {}
        if isinstance(body, dict):
            return body
        errors = FormErrors()
        errors.add([], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        raise invalid_form_body(errors.tree)

    def _bot_member_payload(self, g: Guild) -> JsonObject:
        member = g.members[self.d.bot_user.id].payload()
        member.pop("user")
        return member

    # ------------------------------------------------------------------ users / app / gateway

    async def get_me(self, request: web.Request) -> web.StreamResponse:
        user = self.d.bot_user.payload()
        user.update(
            {"verified": True, "mfa_enabled": False, "flags": 0, "locale": "en-US", "email": None}
        )
        return json_response(user)

    async def get_user(self, request: web.Request) -> web.StreamResponse:
        user_id = _snowflake(request.match_info["user_id"], unknown_user)
        for g in self.d.guilds.values():
            if user_id in g.members:
                return json_response(g.members[user_id].user.payload())
        if user_id == self.d.app_owner.id:
            return json_response(self.d.app_owner.payload())
        raise unknown_user()

    async def get_application(self, request: web.Request) -> web.StreamResponse:
        d = self.d
        return json_response(
            {
                "id": str(d.application_id),
                "name": d.application_name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": d.app_owner.payload(),
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "bot": d.bot_user.payload(),
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "approximate_guild_count": len(d.guilds),
                "integration_types_config": {"0": {}},
            }
        )

    async def get_gateway(self, request: web.Request) -> web.StreamResponse:
        return json_response({"url": self.d.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.StreamResponse:
        return json_response(
            {
                "url": self.d.gateway_url,
                "shards": self.d.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 86_400_000,
                    "max_concurrency": self.d.max_concurrency,
                },
            }
        )

    # ------------------------------------------------------------------ channels / messages

    async def get_channel(self, request: web.Request) -> web.StreamResponse:
        _, ch, _ = self._visible_channel(request)
        return json_response(ch.payload())

    async def typing(self, request: web.Request) -> web.StreamResponse:
        self._visible_channel(request)
        return web.Response(status=204)

    async def list_messages(self, request: web.Request) -> web.StreamResponse:
        _, ch, perms = self._visible_channel(request)
        query = request.query
        errors = FormErrors()
        try:
            limit = int(query.get("limit", "50"))
        except ValueError:
            errors.add(["limit"], "NUMBER_TYPE_COERCE", "Value is not int.")
            limit = 0
        if not errors and not 1 <= limit <= 100:
            errors.add(
                ["limit"],
                "NUMBER_TYPE_MAX" if limit > 100 else "NUMBER_TYPE_MIN",
                "int value should be between 1 and 100.",
            )
        anchors: dict[str, int | None] = {}
        for key in ("before", "after", "around"):
            raw = query.get(key)
            try:
                anchors[key] = None if raw is None else int(raw)
            except ValueError:
                errors.add([key], "NUMBER_TYPE_COERCE", f'Value "{raw}" is not snowflake.')
        errors.raise_if_any()
        if not perms & Permission.READ_MESSAGE_HISTORY:
            return json_response([])
        return json_response(self.d.store.history(ch.id, limit=limit, **anchors))

    async def get_message(self, request: web.Request) -> web.StreamResponse:
        _, ch, perms = self._visible_channel(request)
        if not perms & Permission.READ_MESSAGE_HISTORY:
            raise missing_permissions()
        return json_response(self._message_in(request, ch))

    async def create_message(self, request: web.Request) -> web.StreamResponse:
        d = self.d
        g, ch, perms = self._visible_channel(request)
        body = self._body(request)
        files: list[UploadedFile] = request[FILES]
        errors = check_message_body(body)
        check_allowed_mentions(errors, body.get("allowed_mentions"))
        errors.raise_if_any()
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            earlier = d.store.find_nonce(ch.id, d.bot_user.id, str(nonce))
            if earlier is not None:
                return json_response(earlier)
        if is_empty_message(body, attachments=len(files)):
            raise empty_message()
        if ch.type == ChannelType.GUILD_FORUM:
            raise not_text_channel()  # a forum takes posts (POST /threads), not messages
        in_thread = ch.type in THREAD_TYPES
        needed = Permission.SEND_MESSAGES_IN_THREADS if in_thread else Permission.SEND_MESSAGES
        if body.get("embeds"):
            needed |= Permission.EMBED_LINKS
        if files:
            needed |= Permission.ATTACH_FILES
        if perms & needed != needed:
            raise missing_permissions()
        pinged = resolve_mentions(
            str(body.get("content") or ""), body.get("allowed_mentions"), g, perms
        )
        message = d.store.create(
            channel_id=ch.id, guild_id=g.id, author=d.bot_user, body=body, files=files, extra=pinged
        )
        if in_thread and ch.archived:
            ch.archived = False  # sending into an archived thread reopens it
        if nonce is not None:
            d.store.remember_nonce(ch.id, d.bot_user.id, str(nonce), int(message["id"]))
        d.notifier.notify()
        await d.dispatch("MESSAGE_CREATE", {**message, "member": self._bot_member_payload(g)})
        return json_response(message)

    async def crosspost_message(self, request: web.Request) -> web.StreamResponse:
        """Publish an announcement channel's message to its followers: only in type 5
        (50024); once (40033); the author's own message needs Send Messages, another's Manage
        Messages; about 10 an hour per channel (the ``crosspost`` bucket answers 429)."""
        d = self.d
        _, ch, perms = self._visible_channel(request)
        message = self._message_in(request, ch)
        if ch.type != ChannelType.GUILD_ANNOUNCEMENT:
            raise wrong_channel_type()
        own = int(message["author"]["id"]) == d.bot_user.id
        if not perms & (Permission.SEND_MESSAGES if own else Permission.MANAGE_MESSAGES):
            raise missing_permissions()
        if message["flags"] & CROSSPOSTED:
            raise already_crossposted()
        message["flags"] |= CROSSPOSTED
        d.crossposts.append(int(message["id"]))
        d.notifier.notify()
        return json_response(message)

    async def create_forum_post(self, request: web.Request) -> web.StreamResponse:
        """A forum post (see forum.py): the thread and its starter message, made together;
        no nonce, so the same request twice makes two posts."""
        d = self.d
        g, ch, perms = self._visible_channel(request)
        body = self._body(request)
        make = forum.new_post(g, ch, body, perms, d.bot_user.id)
        starter = dict(body["message"])
        errors = check_message_body(starter, check_nonce=False)
        check_allowed_mentions(errors, starter.get("allowed_mentions"))
        errors.raise_if_any()
        if is_empty_message(starter, attachments=0):
            raise empty_message()
        if starter.get("embeds") and not perms & Permission.EMBED_LINKS:
            raise missing_permissions()
        pinged = resolve_mentions(
            str(starter.get("content") or ""), starter.get("allowed_mentions"), g, perms
        )
        # The starter message's id is the thread's: make the message in the thread to be.
        message_id = d.ids()
        thread = make(message_id)
        message = d.store.create(
            channel_id=thread.id,
            guild_id=g.id,
            author=d.bot_user,
            body=starter,
            extra=pinged,
            message_id=message_id,
        )
        d.notifier.notify()
        await d.dispatch("THREAD_CREATE", {**thread.payload(), "newly_created": True})
        await d.dispatch("MESSAGE_CREATE", {**message, "member": self._bot_member_payload(g)})
        return json_response({**thread.payload(), "message": message})

    async def list_active_threads(self, request: web.Request) -> web.StreamResponse:
        return json_response(forum.active_threads(self._guild(request)))

    async def list_archived_threads(self, request: web.Request) -> web.StreamResponse:
        g, ch, perms = self._visible_channel(request)
        if not perms & Permission.READ_MESSAGE_HISTORY:
            raise missing_permissions()
        query = request.query
        limit = int(query.get("limit", "50"))
        if not 2 <= limit <= 100:
            errors = FormErrors()
            errors.add(["limit"], "NUMBER_TYPE_MAX", "int value should be between 2 and 100.")
            errors.raise_if_any()
        before = query.get("before")
        return json_response(forum.archived_threads(g, ch, before=before, limit=limit))

    async def start_thread_on_message(self, request: web.Request) -> web.StreamResponse:
        """A public thread on a message: its id is the message's; a message has at most one
        (160004); only in text and announcement channels (50024); needs Create Public
        Threads (50013); the name is 1 to 100 characters (50035)."""
        d = self.d
        g, ch, perms = self._visible_channel(request)
        message = self._message_in(request, ch)
        if ch.type not in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT):
            raise wrong_channel_type()
        body = self._body(request)
        name = body.get("name")
        errors = FormErrors()
        if not isinstance(name, str) or not name.strip():
            errors.required(["name"])
        elif len(name) > 100:
            errors.bad_length(["name"], 1, 100)
        errors.raise_if_any()
        if not perms & Permission.CREATE_PUBLIC_THREADS:
            raise missing_permissions()
        thread_id = int(message["id"])
        if thread_id in g.channels:
            raise thread_exists()
        thread = Channel(
            id=thread_id,
            name=str(name),
            guild_id=g.id,
            type=ChannelType.ANNOUNCEMENT_THREAD
            if ch.type == ChannelType.GUILD_ANNOUNCEMENT
            else ChannelType.PUBLIC_THREAD,
            parent_id=ch.id,
            owner_id=d.bot_user.id,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        )
        g.channels[thread.id] = thread
        message["thread"] = thread.payload()
        d.notifier.notify()
        await d.dispatch("THREAD_CREATE", {**thread.payload(), "newly_created": True})
        return json_response(thread.payload())

    async def edit_message(self, request: web.Request) -> web.StreamResponse:
        """Edit a message: only its author's content (50005); not in an archived thread
        (50083); a message older than an hour takes only ``old_message_edits`` edits (30046,
        Discord's bound being undisclosed); the content's mentions are parsed again, narrowed
        by the edit's ``allowed_mentions`` (none given: every mention pings, as on a send);
        ``edited_timestamp`` is set."""
        d = self.d
        g, ch, perms = self._visible_channel(request)
        message = self._message_in(request, ch)
        if int(message["author"]["id"]) != d.bot_user.id:
            raise cannot_edit_others()
        body = self._body(request)
        errors = check_message_body(body, check_nonce=False)
        check_allowed_mentions(errors, body.get("allowed_mentions"))
        errors.raise_if_any()
        message_id = int(message["id"])
        merged = d.store.preview_edit(message_id, body)
        if is_empty_message(merged, attachments=len(message.get("attachments") or [])):
            raise empty_message()
        if body.get("embeds") and not perms & Permission.EMBED_LINKS:
            raise missing_permissions()
        if ch.type in THREAD_TYPES and ch.archived:
            raise archived_thread()
        if (
            d.store.age(message_id) > OLD_MESSAGE_AGE
            and d.store.old_edits.get(message_id, 0) >= d.old_message_edits
        ):
            raise too_many_old_edits()
        pinged = None
        if "content" in body:
            pinged = resolve_mentions(
                str(body.get("content") or ""), body.get("allowed_mentions"), g, perms
            )
        updated = d.store.edit(message_id, body, pinged)
        d.notifier.notify()
        await d.dispatch("MESSAGE_UPDATE", updated)
        return json_response(updated)

    async def delete_message(self, request: web.Request) -> web.StreamResponse:
        d = self.d
        g, ch, perms = self._visible_channel(request)
        message = self._message_in(request, ch)
        own = int(message["author"]["id"]) == d.bot_user.id
        if not own and not perms & Permission.MANAGE_MESSAGES:
            raise missing_permissions()
        d.store.delete(int(message["id"]))
        d.notifier.notify()
        await d.dispatch(
            "MESSAGE_DELETE",
            {"id": message["id"], "channel_id": str(ch.id), "guild_id": str(g.id)},
        )
        return web.Response(status=204)

    # ------------------------------------------------------------------ guilds

    async def get_guild(self, request: web.Request) -> web.StreamResponse:
        g = self._guild(request)
        payload = g.payload()
        if request.query.get("with_counts", "").lower() in ("1", "true"):
            payload["approximate_member_count"] = len(g.members)
            payload["approximate_presence_count"] = 0
        return json_response(payload)

    async def get_guild_channels(self, request: web.Request) -> web.StreamResponse:
        g = self._guild(request)  # threads are not listed here, as on Discord
        return json_response(
            [c.payload() for c in g.channels.values() if c.type not in THREAD_TYPES]
        )

    async def get_guild_roles(self, request: web.Request) -> web.StreamResponse:
        g = self._guild(request)
        return json_response([r.payload() for r in g.roles.values()])

    async def get_member(self, request: web.Request) -> web.StreamResponse:
        g = self._guild(request)
        user_id = _snowflake(request.match_info["user_id"], unknown_member)
        member = g.members.get(user_id)
        if member is None:
            raise unknown_member()
        return json_response(member.payload())

    def _assignable_role(self, request: web.Request) -> tuple[Guild, Member, Role]:
        """The member and role of a role edit, if the bot may make it: Manage Roles, and the
        role below the bot's highest role and not managed by an integration (else 50013)."""
        g = self._guild(request)
        member = g.members.get(_snowflake(request.match_info["user_id"], unknown_member))
        if member is None:
            raise unknown_member()
        role = g.roles.get(_snowflake(request.match_info["role_id"], unknown_role))
        if role is None or role.id == g.id:
            raise unknown_role()
        bot_id = self.d.bot_user.id
        perms = g.guild_permissions(bot_id)
        if not perms & Permission.MANAGE_ROLES:
            raise missing_permissions()
        top = max((g.roles[r].position for r in g.members[bot_id].role_ids), default=0)
        if bot_id != g.owner_id and (role.position >= top or role.managed):
            raise missing_permissions()
        return g, member, role

    async def add_member_role(self, request: web.Request) -> web.StreamResponse:
        _, member, role = self._assignable_role(request)
        if role.id not in member.role_ids:
            member.role_ids.append(role.id)
        self.d.role_edits.append(("add", member.id, role.id))
        self.d.notifier.notify()
        return web.Response(status=204)

    async def remove_member_role(self, request: web.Request) -> web.StreamResponse:
        _, member, role = self._assignable_role(request)
        if role.id in member.role_ids:
            member.role_ids.remove(role.id)
        self.d.role_edits.append(("remove", member.id, role.id))
        self.d.notifier.notify()
        return web.Response(status=204)

    # ------------------------------------------------------------------ application commands

    def _scope(self, request: web.Request) -> int | None:
        application_id = _snowflake(request.match_info["application_id"], unknown_application)
        if application_id != self.d.application_id:
            raise missing_access()
        if "guild_id" not in request.match_info:
            return None
        guild_id = _snowflake(request.match_info["guild_id"], unknown_guild)
        if guild_id not in self.d.guilds:
            raise missing_access()
        return guild_id

    async def get_commands(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.d.commands_by_scope.get(self._scope(request), []))

    async def get_command(self, request: web.Request) -> web.StreamResponse:
        scope = self._scope(request)
        command_id = request.match_info["command_id"]
        for cmd in self.d.commands_by_scope.get(scope, []):
            if cmd["id"] == command_id:
                return json_response(cmd)
        raise ApiError(404, 10063, "Unknown application command")

    async def put_commands(self, request: web.Request) -> web.StreamResponse:
        d = self.d
        scope = self._scope(request)
        body = request[BODY]
        check_commands(body).raise_if_any()
        previous = {
            (c.get("type", 1), c["name"]): c["id"] for c in d.commands_by_scope.get(scope, [])
        }
        stored = [self._command_object(c, scope, previous) for c in body]
        d.commands_by_scope[scope] = stored
        d.command_syncs.append((scope, d.clock()))
        d.notifier.notify()
        return json_response(stored)

    def _command_object(
        self, cmd: JsonObject, scope: int | None, previous: dict[tuple[int, str], str]
    ) -> JsonObject:
        d = self.d
        ctype = cmd.get("type", 1)
        stored: JsonObject = {
            "id": previous.get((ctype, cmd["name"])) or str(d.ids()),
            "application_id": str(d.application_id),
            "version": str(d.ids()),
            "type": ctype,
            "name": cmd["name"],
            "name_localizations": cmd.get("name_localizations"),
            "description": cmd.get("description", ""),
            "description_localizations": cmd.get("description_localizations"),
            "options": cmd.get("options") or [],
            "default_member_permissions": cmd.get("default_member_permissions"),
            "nsfw": bool(cmd.get("nsfw", False)),
            "contexts": cmd.get("contexts"),
            "integration_types": cmd.get("integration_types") or [0],
        }
        if scope is None:
            stored["dm_permission"] = cmd.get("dm_permission", True)
        else:
            stored["guild_id"] = str(scope)
        return stored


def build_app(double: DiscordDouble) -> web.Application:
    api = RestApi(double)
    app = web.Application(middlewares=[api.middleware], client_max_size=32 * 1024 * 1024)
    app.router.add_get("/gateway", double.gateway.handle)
    api.register(app)
    return app
