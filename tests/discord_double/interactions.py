"""Interactions the test injects, and what the bot answered to them.

The double builds INTERACTION_CREATE payloads the way Discord does for a user in a channel
(member with computed permissions, resolved objects, typed options nested under groups and
subcommands of the *synced* command), and an :class:`InteractionHandle` collects the bot's
callback, follow-ups and edits so the test can await them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .messages import MessageStore
from .notify import Notifier
from .state import Channel, Guild, Member

JsonObject = dict[str, Any]


class InteractionType(enum.IntEnum):
    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    APPLICATION_COMMAND_AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class CallbackType(enum.IntEnum):
    PONG = 1
    CHANNEL_MESSAGE_WITH_SOURCE = 4
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
    MODAL = 9


ALLOWED_CALLBACKS: dict[InteractionType, frozenset[int]] = {
    InteractionType.APPLICATION_COMMAND: frozenset({4, 5, 9}),
    InteractionType.MESSAGE_COMPONENT: frozenset({4, 5, 6, 7, 9}),
    InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE: frozenset({8}),
    InteractionType.MODAL_SUBMIT: frozenset({4, 5, 6, 7}),
}


class OptionType(enum.IntEnum):
    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    MENTIONABLE = 9
    NUMBER = 10
    ATTACHMENT = 11


@dataclass
class CallbackRecord:
    """One ``POST /interactions/{id}/{token}/callback`` attempt, accepted or refused."""

    type: int
    data: JsonObject | None
    status: int
    code: int | None
    at: float

    @property
    def accepted(self) -> bool:
        return self.status < 300

    @property
    def ephemeral(self) -> bool:
        return bool(int((self.data or {}).get("flags") or 0) & 64)


@dataclass
class InteractionHandle:
    """An injected interaction; await the bot's answers through it.

    ``await handle.response()`` gives the accepted first callback (its ``type`` and ``data``);
    ``followups``/``original`` give the messages created through the interaction webhook.
    """

    id: int
    token: str
    type: InteractionType
    payload: JsonObject
    channel_id: int
    user_id: int
    created_at: float
    _store: MessageStore = field(repr=False)
    _notifier: Notifier = field(repr=False)
    message_id: int | None = None
    """The message a component interaction came from."""
    callbacks: list[CallbackRecord] = field(default_factory=list)
    ack: CallbackRecord | None = None
    original_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    original_edits: list[JsonObject] = field(default_factory=list)
    original_deleted: bool = False

    @property
    def rejections(self) -> list[CallbackRecord]:
        return [c for c in self.callbacks if not c.accepted]

    @property
    def original(self) -> JsonObject | None:
        """The current @original message payload (None before it exists or after delete)."""
        if self.original_id is None:
            return None
        return self._store.by_id.get(self.original_id)

    @property
    def followups(self) -> list[JsonObject]:
        return [self._store.by_id.get(i) or self._store.deleted[i] for i in self.followup_ids]

    async def response(self, timeout: float = 5.0) -> CallbackRecord:  # noqa: ASYNC109 (bounded waits are the API)
        """The accepted initial response (type 4/5/6/7/8/9 with its data)."""
        return await self._notifier.wait_until(
            lambda: self.ack, timeout, f"a response to interaction {self.id}"
        )

    async def rejection(self, timeout: float = 5.0) -> CallbackRecord:  # noqa: ASYNC109 (bounded waits are the API)
        """The first refused callback (e.g. code 40060 or 10062)."""
        return await self._notifier.wait_until(
            lambda: self.rejections[0] if self.rejections else None,
            timeout,
            f"a refused callback for interaction {self.id}",
        )

    async def wait_for_followups(self, count: int = 1, timeout: float = 5.0) -> list[JsonObject]:  # noqa: ASYNC109 (bounded waits are the API)
        return await self._notifier.wait_until(
            lambda: self.followups if len(self.followup_ids) >= count else None,
            timeout,
            f"{count} follow-up(s) to interaction {self.id}",
        )

    async def wait_for_original(
        self,
        predicate: Callable[[JsonObject], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 (bounded waits are the API)
    ) -> JsonObject:
        """The @original message once it exists and satisfies ``predicate``."""

        def check() -> JsonObject | None:
            original = self.original
            if original is None or (predicate is not None and not predicate(original)):
                return None
            return original

        return await self._notifier.wait_until(
            check, timeout, f"the original response of interaction {self.id}"
        )


# ---------------------------------------------------------------- payload builders


def member_payload(guild: Guild, member: Member, channel: Channel) -> JsonObject:
    data = member.payload()
    data["permissions"] = str(guild.channel_permissions(member.id, channel.id))
    return data


def base_payload(
    *,
    interaction_id: int,
    token: str,
    kind: InteractionType,
    application_id: int,
    guild: Guild,
    channel: Channel,
    member: Member,
    bot_id: int,
    data: JsonObject | None,
    message: JsonObject | None = None,
) -> JsonObject:
    payload: JsonObject = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": int(kind),
        "token": token,
        "version": 1,
        "guild_id": str(guild.id),
        "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
        "channel_id": str(channel.id),
        "channel": {
            **channel.payload(),
            "permissions": str(guild.channel_permissions(member.id, channel.id)),
        },
        "member": member_payload(guild, member, channel),
        "app_permissions": str(guild.channel_permissions(bot_id, channel.id)),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild.id)},
        "context": 0,
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if data is not None:
        payload["data"] = data
    if message is not None:
        payload["message"] = message
    return payload


def find_command_path(
    command: JsonObject, path: Sequence[str]
) -> tuple[list[JsonObject], JsonObject]:
    """Walk ``["group", "sub"]`` below a synced command; returns the nodes and the leaf."""
    node = command
    walked: list[JsonObject] = []
    for name in path:
        children = [
            o for o in node.get("options") or [] if o.get("type") in (1, 2) and o["name"] == name
        ]
        typed = " ".join([command["name"], *(w["name"] for w in walked), name])
        if not children:
            raise LookupError(f"/{typed} is not part of the synced command")
        node = children[0]
        walked.append(node)
    if any(o.get("type") in (1, 2) for o in node.get("options") or []):
        subs = [o["name"] for o in node["options"]]
        typed = " ".join([command["name"], *(w["name"] for w in walked)])
        raise LookupError(f"/{typed} needs a subcommand or group, one of {subs}")
    return walked, node


def build_options(
    leaf: JsonObject,
    values: Mapping[str, Any],
    guild: Guild,
    *,
    focused: str | None,
) -> tuple[list[JsonObject], JsonObject]:
    """Typed option list + ``resolved`` for the leaf command, as Discord's client sends them."""
    schema = {o["name"]: o for o in leaf.get("options") or []}
    resolved: JsonObject = {}
    options: list[JsonObject] = []
    for name, value in values.items():
        if name not in schema:
            raise LookupError(f"option {name!r} is not declared; declared: {sorted(schema)}")
        spec = schema[name]
        otype = OptionType(spec["type"])
        option: JsonObject = {"name": name, "type": int(otype)}
        if name == focused:
            option["value"] = value if isinstance(value, str) else str(value)
            option["focused"] = True
        else:
            option["value"] = _coerce(otype, value, guild, resolved)
            choices = spec.get("choices")
            if choices and option["value"] not in [c["value"] for c in choices]:
                raise ValueError(f"{value!r} is not one of the choices of {name!r}")
        options.append(option)
    if focused is None:
        missing = [n for n, s in schema.items() if s.get("required") and n not in values]
        if missing:
            raise ValueError(f"required option(s) missing: {missing}")
    elif focused not in values:
        raise ValueError(f"focused option {focused!r} needs a (partial) value")
    return options, resolved


def _coerce(otype: OptionType, value: Any, guild: Guild, resolved: JsonObject) -> Any:
    if otype is OptionType.STRING:
        return str(value)
    if otype is OptionType.INTEGER:
        return int(value)
    if otype is OptionType.NUMBER:
        return float(value)
    if otype is OptionType.BOOLEAN:
        return bool(value)
    if otype in (OptionType.USER, OptionType.MENTIONABLE) and _is_member(guild, value):
        member = guild.member(value)
        resolved.setdefault("users", {})[str(member.id)] = member.user.payload()
        m = member.payload()
        m.pop("user")
        m["permissions"] = str(guild.guild_permissions(member.id))
        resolved.setdefault("members", {})[str(member.id)] = m
        return str(member.id)
    if otype in (OptionType.ROLE, OptionType.MENTIONABLE):
        role = guild.role(value)
        resolved.setdefault("roles", {})[str(role.id)] = role.payload()
        return str(role.id)
    if otype is OptionType.CHANNEL:
        channel = guild.channel(value)
        resolved.setdefault("channels", {})[str(channel.id)] = {
            "id": str(channel.id),
            "name": channel.name,
            "type": channel.type,
            "guild_id": str(guild.id),
            "parent_id": None if channel.parent_id is None else str(channel.parent_id),
            "permissions": str(guild.guild_permissions(guild.owner_id)),
            "flags": 0,
        }
        return str(channel.id)
    raise ValueError(f"option type {otype.name} cannot be injected by the double")


def _is_member(guild: Guild, ref: Any) -> bool:
    try:
        return guild.lookup(ref) in guild.members
    except KeyError:
        return False


def component_exists(message: JsonObject, custom_id: str) -> JsonObject | None:
    """The enabled component with ``custom_id`` on a message (searching nested layouts)."""
    stack: list[Any] = list(message.get("components") or [])
    while stack:
        comp = stack.pop()
        if not isinstance(comp, dict):
            continue
        if comp.get("custom_id") == custom_id:
            return comp
        stack.extend(comp.get("components") or [])
        for key in ("accessory", "component"):
            if isinstance(comp.get(key), dict):
                stack.append(comp[key])
    return None


def modal_submit_components(
    modal: JsonObject | None, values: Mapping[str, str]
) -> list[JsonObject]:
    """Submitted components in the layout the modal used (action rows or labels)."""
    if modal is None:
        return [
            {"type": 1, "components": [{"type": 4, "custom_id": cid, "value": v}]}
            for cid, v in values.items()
        ]
    tops = modal.get("components") or []

    def inputs(top: JsonObject) -> list[JsonObject]:
        inner = top.get("components") or ([top["component"]] if "component" in top else [])
        return [c for c in inner if c.get("type") == 4 and c.get("custom_id") is not None]

    unknown = set(values) - {c["custom_id"] for top in tops for c in inputs(top)}
    if unknown:
        raise LookupError(f"the modal has no text input(s) {sorted(unknown)}")
    out: list[JsonObject] = []
    for top in tops:
        submitted = []
        for comp in inputs(top):
            cid = comp["custom_id"]
            value = values.get(cid, comp.get("value") or "")
            if comp.get("required", True) and not value:
                raise ValueError(f"text input {cid!r} is required")
            submitted.append({"type": 4, "id": comp.get("id"), "custom_id": cid, "value": value})
        if top.get("type") == 18:
            if submitted:
                out.append({"type": 18, "id": top.get("id"), "component": submitted[0]})
        elif submitted:
            out.append({"type": 1, "id": top.get("id"), "components": submitted})
    return out
