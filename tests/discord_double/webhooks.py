"""Channel webhooks in the double: made and listed by the bot, executed with their token.

Discord's rules, as the double applies them:

- ``POST /channels/{id}/webhooks`` (bot token) needs Manage Webhooks (50013), in a text,
  announcement or forum channel, not a thread (50024); ``name`` is 1 to 80 characters and may
  not contain "clyde" or "discord" (50035); a channel holds at most 15 webhooks (30007). The
  webhook belongs to the bot (``user``) and its application (``application_id``).
  ``GET /channels/{id}/webhooks`` needs Manage Webhooks too and shows each webhook's token.
- ``POST /webhooks/{id}/{token}`` executes it; no bot token, no nonce. ``?wait=true`` answers
  the message, else 204. The message's author is the webhook (``username`` and
  ``avatar_url`` of the body, else the webhook's name), with ``webhook_id`` set; a username
  follows the name rules. ``?thread_id=`` sends into a thread of the webhook's channel (10003
  otherwise); in a forum, ``thread_name`` (and ``applied_tags``) makes a post whose starter is
  this message (thread id = message id, the webhook its owner), and one of ``thread_name`` or
  ``thread_id`` is required (220001), not both (220002); ``thread_name`` elsewhere is 220003.
  Components count only with ``?with_components=true`` (else they are dropped), and only an
  application's webhook may send interactive ones (50035). Mentions follow
  ``allowed_mentions`` as for the bot; a webhook may mention every role and ``@everyone``.
- ``GET``/``PATCH``/``DELETE /webhooks/{id}/{token}/messages/{message_id}`` (``?thread_id=``
  for a message in a thread) reach only that webhook's own messages (10008 otherwise). An
  edit applies ``allowed_mentions`` afresh and sets ``edited_timestamp``; a message in an
  archived thread cannot be edited (50083).

Interaction follow-ups share the ``/webhooks/{id}/{token}`` routes, with the application's id;
:meth:`WebhookRoutes.token_routes` sends each request to the one it is for.
Executing a webhook is outside the bot's rate limits here (Discord limits it per webhook).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import forum
from .errors import (
    ApiError,
    FormErrors,
    empty_message,
    invalid_webhook_token,
    json_response,
    missing_permissions,
    unknown_channel,
    unknown_message,
    unknown_webhook,
    wrong_channel_type,
)
from .limits import check_message_body, is_empty_message
from .mentions import check_allowed_mentions, resolve_mentions
from .permissions import Permission
from .recording import BODY
from .state import THREAD_TYPES, Channel, ChannelType, Guild, User

if TYPE_CHECKING:
    from .double import DiscordDouble

JsonObject = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

WEBHOOKS_PER_CHANNEL = 15
NAME_MAX = 80
FORBIDDEN_IN_NAMES = ("clyde", "discord")
WEBHOOK_CHANNELS = (
    ChannelType.GUILD_TEXT,
    ChannelType.GUILD_ANNOUNCEMENT,
    ChannelType.GUILD_FORUM,
)
INCOMING = 1
"""Webhook type 1: an incoming webhook, executed with its token."""


def too_many_webhooks() -> ApiError:
    return ApiError(400, 30007, "Maximum number of webhooks reached (15)")


def forum_needs_thread() -> ApiError:
    return ApiError(
        400, 220001, "Webhooks posted to forum channels must have a thread_name or thread_id"
    )


def forum_thread_twice() -> ApiError:
    return ApiError(
        400,
        220002,
        "Webhooks posted to forum channels cannot have both a thread_name and thread_id",
    )


def threads_only_in_forums() -> ApiError:
    return ApiError(400, 220003, "Webhooks can only create threads in forum channels")


def archived_thread() -> ApiError:
    return ApiError(400, 50083, "Operation was attempted on an archived thread")


def avatar_hash(url: str) -> str:
    """The avatar hash a message shows for ``avatar_url`` (Discord fetches the image and
    shows its hash; the double hashes the URL, so a test can tell which one was sent)."""
    return hashlib.md5(url.encode(), usedforsecurity=False).hexdigest()


@dataclass
class Webhook:
    id: int
    token: str
    channel_id: int
    guild_id: int
    name: str
    user: User
    application_id: int | None
    avatar: str | None = None

    def payload(self) -> JsonObject:
        return {
            "id": str(self.id),
            "type": INCOMING,
            "guild_id": str(self.guild_id),
            "channel_id": str(self.channel_id),
            "name": self.name,
            "avatar": self.avatar,
            "token": self.token,
            "application_id": None if self.application_id is None else str(self.application_id),
            "user": self.user.payload(),
        }

    def author(self, username: str | None, avatar_url: str | None) -> JsonObject:
        """A message's author as Discord shows a webhook's: the webhook's id, the name and
        avatar the execution asked for."""
        return {
            "id": str(self.id),
            "username": username or self.name,
            "discriminator": "0000",
            "global_name": None,
            "avatar": avatar_hash(avatar_url) if avatar_url else self.avatar,
            "bot": True,
            "public_flags": 0,
        }


def _check_name(errors: FormErrors, key: str, name: Any, *, required: bool) -> None:
    if name is None and not required:
        return
    if not isinstance(name, str) or not name.strip():
        errors.required([key])
    elif len(name) > NAME_MAX:
        errors.bad_length([key], 1, NAME_MAX)
    else:
        banned = next((word for word in FORBIDDEN_IN_NAMES if word in name.lower()), None)
        if banned is not None:
            errors.add([key], "USERNAME_INVALID_CONTAINS", f'Username cannot contain "{banned}"')


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


class WebhookRoutes:
    def __init__(self, double: DiscordDouble) -> None:
        self.d = double

    def bot_routes(self) -> list[tuple[str, str, Handler, str | None, str | None]]:
        path = "/channels/{channel_id}/webhooks"
        return [
            ("POST", path, self.create, "webhooks", "channel_id"),
            ("GET", path, self.list, "webhooks", "channel_id"),
        ]

    def token_routes(self, interactions: Any) -> list[tuple[str, str, Handler]]:
        """The ``/webhooks/{id}/{token}`` routes: a channel webhook's, or else the
        interaction follow-up's of ``interactions`` (``InteractionRoutes``)."""
        hook = "/webhooks/{webhook_id}/{token}"
        message = hook + "/messages/{message_id}"
        pairs: list[tuple[str, str, Handler, Handler]] = [
            ("POST", hook, self.execute, interactions.create_followup),
            ("GET", message, self.get_message, interactions.get_message),
            ("PATCH", message, self.edit_message, interactions.edit_message),
            ("DELETE", message, self.delete_message, interactions.delete_message),
        ]
        return [(method, path, self._either(mine, theirs)) for method, path, mine, theirs in pairs]

    def _either(self, mine: Handler, theirs: Handler) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            raw = request.match_info["webhook_id"]
            if raw.isdigit() and int(raw) in self.d.webhooks:
                return await mine(request)
            return await theirs(request)

        return handler

    # ------------------------------------------------------------------ bot routes

    def _managed_channel(self, request: web.Request) -> tuple[Guild, Channel]:
        try:
            channel_id = int(request.match_info["channel_id"])
        except ValueError:
            raise unknown_channel() from None
        found = self.d.find_channel(channel_id)
        if found is None:
            raise unknown_channel()
        g, ch = found
        perms = g.channel_permissions(self.d.bot_user.id, ch.id)
        if not perms & Permission.VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        if not perms & Permission.MANAGE_WEBHOOKS:
            raise missing_permissions()
        if ch.type not in WEBHOOK_CHANNELS:
            raise wrong_channel_type()
        return g, ch

    async def create(self, request: web.Request) -> web.StreamResponse:
        d = self.d
        g, ch = self._managed_channel(request)
        body = request[BODY] if isinstance(request[BODY], dict) else {}
        errors = FormErrors()
        _check_name(errors, "name", body.get("name"), required=True)
        errors.raise_if_any()
        if sum(1 for w in d.webhooks.values() if w.channel_id == ch.id) >= WEBHOOKS_PER_CHANNEL:
            raise too_many_webhooks()
        hook = Webhook(
            id=d.ids(),
            token=secrets.token_urlsafe(48),
            channel_id=ch.id,
            guild_id=g.id,
            name=str(body["name"]),
            user=d.bot_user,
            application_id=d.application_id,
        )
        d.webhooks[hook.id] = hook
        d.notifier.notify()
        return json_response(hook.payload())

    async def list(self, request: web.Request) -> web.StreamResponse:
        _, ch = self._managed_channel(request)
        hooks = [w.payload() for w in self.d.webhooks.values() if w.channel_id == ch.id]
        return json_response(hooks)

    # ------------------------------------------------------------------ token routes

    def _hook(self, request: web.Request) -> Webhook:
        hook = self.d.webhooks.get(int(request.match_info["webhook_id"]))
        if hook is None:
            raise unknown_webhook()
        if not secrets.compare_digest(hook.token, request.match_info["token"]):
            raise invalid_webhook_token()
        return hook

    def _where(self, request: web.Request, hook: Webhook) -> tuple[Guild, Channel]:
        """The webhook's channel, or the thread of it that ``?thread_id=`` names."""
        found = self.d.find_channel(hook.channel_id)
        if found is None:
            raise unknown_webhook()  # its channel was deleted, and the webhook with it
        g, ch = found
        raw = request.query.get("thread_id")
        if raw is None:
            return g, ch
        thread = g.channels.get(int(raw)) if raw.isdigit() else None
        if thread is None or thread.type not in THREAD_TYPES or thread.parent_id != ch.id:
            raise unknown_channel()
        return g, thread

    def _own_message(self, request: web.Request, hook: Webhook, ch: Channel) -> JsonObject:
        raw = request.match_info["message_id"]
        message = self.d.store.by_id.get(int(raw)) if raw.isdigit() else None
        if (
            message is None
            or message.get("webhook_id") != str(hook.id)
            or int(message["channel_id"]) != ch.id
        ):
            raise unknown_message()
        return message

    async def execute(self, request: web.Request) -> web.StreamResponse:
        d = self.d
        hook = self._hook(request)
        g, ch = self._where(request, hook)
        body = request[BODY] if isinstance(request[BODY], dict) else {}
        if not _truthy(request.query.get("with_components")):
            body = {k: v for k, v in body.items() if k != "components"}  # ignored without it
        errors = check_message_body(body, check_nonce=False)
        check_allowed_mentions(errors, body.get("allowed_mentions"))
        _check_name(errors, "username", body.get("username"), required=False)
        if body.get("components") and hook.application_id is None:
            errors.add(["components"], "COMPONENT_INVALID", "Webhooks cannot send components.")
        errors.raise_if_any()
        if is_empty_message(body, attachments=0):
            raise empty_message()
        thread_name = body.get("thread_name")
        if ch.type == ChannelType.GUILD_FORUM and thread_name is None:
            raise forum_needs_thread()
        if thread_name is not None and ch.type in THREAD_TYPES:
            raise forum_thread_twice()
        if thread_name is not None and ch.type != ChannelType.GUILD_FORUM:
            raise threads_only_in_forums()
        pinged = resolve_mentions(
            str(body.get("content") or ""),
            body.get("allowed_mentions"),
            g,
            Permission.MENTION_EVERYONE,
        )
        extra = {
            **pinged,
            "webhook_id": str(hook.id),
            "application_id": None if hook.application_id is None else str(hook.application_id),
        }
        message_id = d.ids()
        target = ch
        if thread_name is not None:
            post = {
                "name": thread_name,
                "message": body,
                "applied_tags": body.get("applied_tags") or [],
            }
            make = forum.new_post(g, ch, post, Permission.SEND_MESSAGES, owner_id=hook.id)
            target = make(message_id)
        author = User(id=hook.id, username=str(body.get("username") or hook.name), bot=True)
        message = d.store.create(
            channel_id=target.id,
            guild_id=g.id,
            author=author,
            body={k: v for k, v in body.items() if k != "nonce"},  # webhooks take no nonce
            extra=extra,
            message_id=message_id,
        )
        message["author"] = hook.author(body.get("username"), body.get("avatar_url"))
        if target.type in THREAD_TYPES and target.archived:
            target.archived = False
        d.webhook_executions.append((hook.id, message_id))
        d.notifier.notify()
        if target is not ch:
            await d.dispatch("THREAD_CREATE", {**target.payload(), "newly_created": True})
        await d.dispatch("MESSAGE_CREATE", message)
        if _truthy(request.query.get("wait")):
            return json_response(message)
        return web.Response(status=204)

    async def get_message(self, request: web.Request) -> web.StreamResponse:
        hook = self._hook(request)
        _, ch = self._where(request, hook)
        return json_response(self._own_message(request, hook, ch))

    async def edit_message(self, request: web.Request) -> web.StreamResponse:
        d = self.d
        hook = self._hook(request)
        g, ch = self._where(request, hook)
        message = self._own_message(request, hook, ch)
        if ch.type in THREAD_TYPES and ch.archived:
            raise archived_thread()
        body = request[BODY] if isinstance(request[BODY], dict) else {}
        errors = check_message_body(body, check_nonce=False)
        check_allowed_mentions(errors, body.get("allowed_mentions"))
        errors.raise_if_any()
        message_id = int(message["id"])
        merged = d.store.preview_edit(message_id, body)
        if is_empty_message(merged, attachments=len(message.get("attachments") or [])):
            raise empty_message()
        updated = d.store.edit(message_id, body)
        content = str(updated.get("content") or "")
        updated.update(
            resolve_mentions(content, body.get("allowed_mentions"), g, Permission.MENTION_EVERYONE)
        )
        d.notifier.notify()
        await d.dispatch("MESSAGE_UPDATE", updated)
        return json_response(updated)

    async def delete_message(self, request: web.Request) -> web.StreamResponse:
        d = self.d
        hook = self._hook(request)
        g, ch = self._where(request, hook)
        message = self._own_message(request, hook, ch)
        d.store.delete(int(message["id"]))
        d.notifier.notify()
        await d.dispatch(
            "MESSAGE_DELETE",
            {"id": message["id"], "channel_id": str(ch.id), "guild_id": str(g.id)},
        )
        return web.Response(status=204)
