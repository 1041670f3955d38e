"""Interaction callback and interaction-webhook routes (no bot token, no global limit).

discord.py 2.7 posts callbacks with ``?with_response=1`` and reads ``interaction`` (and
``resource`` when a message was created) from the answer, for every callback type, so the
double always answers 200 with that body when asked. Refusals are recorded on the handle:
a second acknowledgement is 400/40060, a first response after the deadline 404/10062.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import (
    ApiError,
    FormErrors,
    already_acknowledged,
    empty_message,
    invalid_webhook_token,
    json_response,
    unknown_interaction,
    unknown_message,
    unknown_webhook,
)
from .interactions import ALLOWED_CALLBACKS, CallbackRecord, InteractionHandle, InteractionType
from .limits import (
    MESSAGE_FLAG_EPHEMERAL,
    MESSAGE_FLAG_LOADING,
    check_autocomplete_choices,
    check_message_body,
    check_modal,
    is_empty_message,
)
from .messages import MESSAGE_TYPE_CHAT_INPUT_COMMAND, MESSAGE_TYPE_DEFAULT, UploadedFile
from .recording import BODY, FILES

if TYPE_CHECKING:
    from .double import DiscordDouble

JsonObject = dict[str, Any]


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


class InteractionRoutes:
    def __init__(self, double: DiscordDouble) -> None:
        self.d = double

    def routes(self) -> list[tuple[str, str, Any]]:
        """The callback route; the follow-up routes (``/webhooks/{webhook_id}/{token}``,
        with the application's id) are shared with channel webhooks (``webhooks.py``)."""
        return [("POST", "/interactions/{interaction_id}/{token}/callback", self.callback)]

    # ------------------------------------------------------------------ helpers

    def _extra(self, handle: InteractionHandle) -> JsonObject:
        member = handle.payload["member"]
        metadata: JsonObject = {
            "id": str(handle.id),
            "type": int(handle.type),
            "user": member["user"],
            "authorizing_integration_owners": handle.payload["authorizing_integration_owners"],
        }
        if handle.message_id is not None:
            metadata["interacted_message_id"] = str(handle.message_id)
        return {
            "webhook_id": str(self.d.application_id),
            "application_id": str(self.d.application_id),
            "interaction_metadata": metadata,
        }

    def _guild_id(self, handle: InteractionHandle) -> int:
        return int(handle.payload["guild_id"])

    async def _announce(self, message: JsonObject, event: str) -> None:
        if not int(message.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL:
            await self.d.dispatch(event, message)

    def _validate_message(self, body: JsonObject, files: list[UploadedFile]) -> None:
        check_message_body(body, check_nonce=False).raise_if_any()
        if is_empty_message(body, attachments=len(files)):
            raise empty_message()

    def _validate_edit(self, message_id: int, body: JsonObject) -> None:
        check_message_body(body, check_nonce=False).raise_if_any()
        merged = self.d.store.preview_edit(message_id, body)
        attachments = len(self.d.store.by_id[message_id].get("attachments") or [])
        if is_empty_message(merged, attachments=attachments):
            raise empty_message()

    # ------------------------------------------------------------------ callback

    async def callback(self, request: web.Request) -> web.StreamResponse:
        d = self.d
        try:
            interaction_id = int(request.match_info["interaction_id"])
        except ValueError:
            raise unknown_interaction() from None
        handle = d.interactions.get(interaction_id)
        if handle is None or handle.token != request.match_info["token"]:
            raise unknown_interaction()
        body = request[BODY] if isinstance(request[BODY], dict) else {}
        files: list[UploadedFile] = request[FILES]
        raw_type = body.get("type")
        cb_type = raw_type if isinstance(raw_type, int) else 0
        data: JsonObject = body.get("data") or {}
        now = d.clock()

        def refuse(error: ApiError) -> ApiError:
            handle.callbacks.append(CallbackRecord(cb_type, data, error.status, error.code, now))
            d.notifier.notify()
            return error

        if handle.ack is not None:
            raise refuse(already_acknowledged())
        if now - handle.created_at > d.interaction_deadline:
            raise refuse(unknown_interaction())
        allowed = ALLOWED_CALLBACKS.get(handle.type, frozenset())
        if cb_type not in allowed:
            errors = FormErrors()
            errors.add(["type"], "BASE_TYPE_CHOICES", f"Value must be one of {sorted(allowed)}.")
            raise refuse(ApiError(400, 50035, "Invalid Form Body", errors.tree))
        try:
            resource = await self._apply_callback(handle, cb_type, data, files)
        except ApiError as error:
            raise refuse(error) from None
        record = CallbackRecord(cb_type, data, 200, None, now)
        handle.callbacks.append(record)
        handle.ack = record
        d.notifier.notify()
        if not _truthy(request.query.get("with_response")):
            return web.Response(status=204)
        original = handle.original
        interaction: JsonObject = {
            "id": str(handle.id),
            "type": int(handle.type),
            "response_message_loading": cb_type == 5,
            "response_message_ephemeral": bool(
                original and int(original.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL
            ),
        }
        if resource is not None:
            interaction["response_message_id"] = resource["id"]
        answer: JsonObject = {"interaction": interaction}
        if resource is not None:
            answer["resource"] = {"type": cb_type, "message": resource}
        return json_response(answer)

    async def _apply_callback(
        self,
        handle: InteractionHandle,
        cb_type: int,
        data: JsonObject,
        files: list[UploadedFile],
    ) -> JsonObject | None:
        d = self.d
        if cb_type in (4, 5):
            ephemeral = bool(int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL)
            if cb_type == 4:
                self._validate_message(data, files)
                body = data
            else:
                flags = MESSAGE_FLAG_LOADING | (MESSAGE_FLAG_EPHEMERAL if ephemeral else 0)
                body, files = {"content": "", "flags": flags}, []
            kind = (
                MESSAGE_TYPE_CHAT_INPUT_COMMAND
                if handle.type is InteractionType.APPLICATION_COMMAND
                else MESSAGE_TYPE_DEFAULT
            )
            message = d.store.create(
                channel_id=handle.channel_id,
                guild_id=self._guild_id(handle),
                author=d.bot_user,
                body=body,
                files=files,
                ephemeral=ephemeral,
                message_type=kind,
                extra=self._extra(handle),
            )
            handle.original_id = int(message["id"])
            await self._announce(message, "MESSAGE_CREATE")
            return message
        if cb_type in (6, 7):
            if handle.message_id is None or handle.message_id not in d.store.by_id:
                errors = FormErrors()
                errors.add(
                    ["type"],
                    "INTERACTION_RESPONSE_TYPE_INVALID",
                    "This interaction has no message to update",
                )
                raise ApiError(400, 50035, "Invalid Form Body", errors.tree)
            handle.original_id = handle.message_id
            if cb_type == 6:
                return None
            self._validate_edit(handle.message_id, data)
            message = d.store.edit(handle.message_id, data)
            await self._announce(message, "MESSAGE_UPDATE")
            return message
        if cb_type == 8:
            check_autocomplete_choices(data).raise_if_any()
            return None
        if cb_type == 9:
            check_modal(data).raise_if_any()
            d.modals[str(data["custom_id"])] = data
            return None
        return None

    # ------------------------------------------------------------------ webhook

    def _handle(self, request: web.Request) -> InteractionHandle:
        d = self.d
        try:
            application_id = int(request.match_info["webhook_id"])
        except ValueError:
            raise unknown_webhook() from None
        token = request.match_info["token"]
        handle = next((h for h in d.interactions.values() if h.token == token), None)
        if application_id != d.application_id or handle is None:
            raise unknown_webhook()
        if d.clock() - handle.created_at > d.interaction_token_ttl:
            raise invalid_webhook_token()
        if handle.ack is None:
            raise unknown_webhook()
        return handle

    def _target(self, request: web.Request, handle: InteractionHandle) -> int:
        ref = request.match_info["message_id"]
        if ref == "@original":
            if handle.original_id is None or handle.original_id not in self.d.store.by_id:
                raise unknown_message()
            return handle.original_id
        try:
            message_id = int(ref)
        except ValueError:
            raise unknown_message() from None
        if message_id not in (handle.original_id, *handle.followup_ids):
            raise unknown_message()
        if message_id not in self.d.store.by_id:
            raise unknown_message()
        return message_id

    async def create_followup(self, request: web.Request) -> web.StreamResponse:
        d = self.d
        handle = self._handle(request)
        body = request[BODY] if isinstance(request[BODY], dict) else {}
        files: list[UploadedFile] = request[FILES]
        self._validate_message(body, files)
        original = handle.original
        deferred = (
            handle.ack is not None
            and handle.ack.type == 5
            and original is not None
            and int(original.get("flags") or 0) & MESSAGE_FLAG_LOADING
        )
        if deferred and original is not None:
            # Discord fills the "thinking..." message with the first follow-up after a
            # deferred response; it keeps the ephemerality chosen when deferring.
            message_id = int(original["id"])
            message = d.store.edit(message_id, body)
            message["flags"] = int(message["flags"]) & ~MESSAGE_FLAG_LOADING
            message["edited_timestamp"] = None
            await self._announce(message, "MESSAGE_UPDATE")
        else:
            ephemeral = bool(int(body.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL)
            message = d.store.create(
                channel_id=handle.channel_id,
                guild_id=self._guild_id(handle),
                author=d.bot_user,
                body=body,
                files=files,
                ephemeral=ephemeral,
                extra=self._extra(handle),
            )
            message_id = int(message["id"])
            await self._announce(message, "MESSAGE_CREATE")
        handle.followup_ids.append(message_id)
        d.notifier.notify()
        if _truthy(request.query.get("wait")):
            return json_response(message)
        return web.Response(status=204)

    async def get_message(self, request: web.Request) -> web.StreamResponse:
        handle = self._handle(request)
        return json_response(self.d.store.by_id[self._target(request, handle)])

    async def edit_message(self, request: web.Request) -> web.StreamResponse:
        d = self.d
        handle = self._handle(request)
        message_id = self._target(request, handle)
        body = request[BODY] if isinstance(request[BODY], dict) else {}
        self._validate_edit(message_id, body)
        message = d.store.edit(message_id, body)
        message["flags"] = int(message["flags"]) & ~MESSAGE_FLAG_LOADING
        if message_id == handle.original_id:
            handle.original_edits.append(body)
        await self._announce(message, "MESSAGE_UPDATE")
        d.notifier.notify()
        return json_response(message)

    async def delete_message(self, request: web.Request) -> web.StreamResponse:
        d = self.d
        handle = self._handle(request)
        message_id = self._target(request, handle)
        message = d.store.delete(message_id)
        if message_id == handle.original_id:
            handle.original_deleted = True
        await self._announce(
            {
                "id": str(message_id),
                "channel_id": message["channel_id"],
                "flags": message["flags"],
                "guild_id": message.get("guild_id"),
            },
            "MESSAGE_DELETE",
        )
        d.notifier.notify()
        return web.Response(status=204)
