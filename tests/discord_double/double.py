"""The loopback Discord: one object holding the server, the world and the test controls.

Start it in the test's event loop (``async with DiscordDouble() as double``, or the
``discord_double`` fixture), point discord.py at ``double.api_base`` and
``double.gateway_url``, then drive users' actions and assert on what the bot did.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .clock import Clock, SnowflakeGenerator
from .faults import Faults, Hold, RouteFilter
from .gateway import (
    INTENT_GUILD_MEMBERS,
    PRIVILEGED_INTENTS,
    Gateway,
    GatewaySession,
    GatewayWorld,
)
from .interactions import (
    InteractionHandle,
    InteractionType,
    base_payload,
    build_options,
    component_exists,
    find_command_path,
    modal_submit_components,
)
from .limits import MESSAGE_FLAG_EPHEMERAL
from .messages import MessageStore
from .notify import Notifier
from .permissions import Overwrite, OverwriteType
from .ratelimit import RateLimitConfig, RateLimiter
from .recording import RecordedRequest
from .rest import API_PREFIX, build_app
from .state import Channel, Guild, GuildFactory, Member, Role, User, default_guild
from .webhooks import Webhook

JsonObject = dict[str, Any]
Ref = int | str
T = TypeVar("T")


class DiscordDouble:
    """A Discord REST v10 + gateway v10 double on 127.0.0.1 for the real discord.py client.

    Knobs (all keyword-only): ``token`` the bot must present; ``guild`` a factory
    ``(bot_user, ids) -> Guild`` (default :func:`default_guild`); ``extra_guilds`` more
    factories; ``clock`` a monotonic clock for rate-limit windows, the interaction deadline,
    token lifetime and nonce window; ``rate_limits``; ``interaction_deadline`` (3 s);
    ``interaction_token_ttl`` (15 min); ``nonce_ttl`` (how long ``enforce_nonce`` dedupes);
    ``heartbeat_interval`` (seconds, sent in HELLO); ``privileged_intents`` the application
    may use (default: all three; others close the gateway with 4014); ``ids`` the snowflake
    source (one with a shifted ``wall_ms`` models Discord's clock differing from the bot's);
    ``old_message_edits`` how many edits a message older than an hour takes (then 30046).
    """

    def __init__(
        self,
        *,
        token: str = "test-token.double.discord",
        guild: GuildFactory = default_guild,
        extra_guilds: Sequence[GuildFactory] = (),
        clock: Clock = time.monotonic,
        rate_limits: RateLimitConfig | None = None,
        interaction_deadline: float = 3.0,
        interaction_token_ttl: float = 15 * 60.0,
        nonce_ttl: float = 120.0,
        heartbeat_interval: float = 41.25,
        privileged_intents: int = PRIVILEGED_INTENTS,
        application_name: str = "newsbot",
        ids: SnowflakeGenerator | None = None,
        old_message_edits: int = 5,
    ) -> None:
        self.token = token
        self.clock = clock
        self.ids = ids or SnowflakeGenerator()
        self.interaction_deadline = interaction_deadline
        self.old_message_edits = old_message_edits
        """How many edits a message older than an hour takes before 30046."""
        self.interaction_token_ttl = interaction_token_ttl
        self.privileged_intents = privileged_intents
        self.recommended_shards = 1
        """``shards`` in GET /gateway/bot: the shard count Discord recommends."""
        self.max_concurrency = 1
        """``session_start_limit.max_concurrency`` in GET /gateway/bot."""
        self.application_id = self.ids()
        self.application_name = application_name
        self.bot_user = User(id=self.application_id, username=application_name, bot=True)
        self.app_owner = User(id=self.ids(), username="app-owner", global_name="App Owner")
        self.guilds: dict[int, Guild] = {}
        for factory in (guild, *extra_guilds):
            g = factory(self.bot_user, self.ids)
            if self.bot_user.id not in g.members:
                raise ValueError(f"guild {g.name!r} must contain the bot user as a member")
            self.guilds[g.id] = g
        self.notifier = Notifier()
        self.store = MessageStore(self.ids, clock, nonce_ttl)
        self.limiter = RateLimiter(rate_limits or RateLimitConfig(), clock)
        self.faults = Faults()
        self.gateway = Gateway(
            GatewayWorld(
                token=lambda: self.token,
                ready_payload=self._ready_payload,
                guild_payloads=self._guild_payloads,
                member_chunk=self._member_chunk,
                allowed_privileged_intents=lambda: self.privileged_intents,
                ready_payload_guilds=lambda: list(self.guilds),
            ),
            clock=clock,
            notifier=self.notifier,
            heartbeat_interval=heartbeat_interval,
        )
        self.requests: list[RecordedRequest] = []
        self.role_edits: list[tuple[str, int, int]] = []
        self.webhooks: dict[int, Webhook] = {}
        """Channel webhooks by id (see webhooks.py)."""
        self.webhook_executions: list[tuple[int, int]] = []
        """(webhook id, message id) of every message a webhook posted, in order."""
        self.crossposts: list[int] = []
        """Ids of the messages crossposted, in order (a second crosspost is refused, 40033)."""
        """Member role edits the bot made over REST: ("add" or "remove", member id, role id)."""
        self.unknown_routes: list[RecordedRequest] = []
        self.count_429 = 0
        self.invalid_requests = 0
        """401, 403 and 429 answers: what Cloudflare counts towards an IP ban."""
        self.commands_by_scope: dict[int | None, list[JsonObject]] = {}
        self.command_syncs: list[tuple[int | None, float]] = []
        self.interactions: dict[int, InteractionHandle] = {}
        self.modals: dict[str, JsonObject] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> DiscordDouble:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(build_app(self), handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        self.gateway.release()
        self.faults.clear()  # held requests end now, not after the server's shutdown timeout
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordDouble:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        """Value for ``discord.http.Route.BASE`` (NEWSBOT_DISCORD_API_BASE)."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """Value for ``DiscordWebSocket.DEFAULT_GATEWAY`` (NEWSBOT_DISCORD_GATEWAY)."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    def env(self) -> dict[str, str]:
        """Environment for a bot process: API base, gateway URL and the accepted token."""
        return {
            "NEWSBOT_DISCORD_API_BASE": self.api_base,
            "NEWSBOT_DISCORD_GATEWAY": self.gateway_url,
            "DISCORD_TOKEN": self.token,
        }

    # ------------------------------------------------------------------ world accessors

    @property
    def guild(self) -> Guild:
        """The first (usually only) guild."""
        return next(iter(self.guilds.values()))

    def _guild_of(self, guild: Ref | None) -> Guild:
        if guild is None:
            return self.guild
        if isinstance(guild, int) and guild in self.guilds:
            return self.guilds[guild]
        for g in self.guilds.values():
            if g.name == guild:
                return g
        raise KeyError(f"no guild {guild!r}")

    def channel(self, ref: Ref, *, guild: Ref | None = None) -> Channel:
        return self._guild_of(guild).channel(ref)

    def user(self, ref: Ref, *, guild: Ref | None = None) -> Member:
        """A member by key (``"moderator"``), name or id."""
        return self._guild_of(guild).member(ref)

    def role(self, ref: Ref, *, guild: Ref | None = None) -> Role:
        return self._guild_of(guild).role(ref)

    def find_channel(self, channel_id: int) -> tuple[Guild, Channel] | None:
        for g in self.guilds.values():
            if channel_id in g.channels:
                return g, g.channels[channel_id]
        return None

    def bot_permissions(self, channel: Ref, *, guild: Ref | None = None) -> int:
        g = self._guild_of(guild)
        return g.channel_permissions(self.bot_user.id, g.lookup(channel))

    # ------------------------------------------------------------------ messages

    def messages(self, channel: Ref, *, guild: Ref | None = None) -> list[JsonObject]:
        """Visible messages of a channel, oldest first (ephemeral ones are not included)."""
        return self.store.channel(self.channel(channel, guild=guild).id)

    def message(self, message_id: int | str) -> JsonObject:
        return self.store.by_id[int(message_id)]

    async def wait_for_message(
        self,
        channel: Ref,
        predicate: Callable[[JsonObject], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 (bounded waits are the API)
        *,
        guild: Ref | None = None,
    ) -> JsonObject:
        """The first message in the channel (oldest first) matching ``predicate``."""
        channel_id = self.channel(channel, guild=guild).id

        def find() -> JsonObject | None:
            for m in self.store.channel(channel_id):
                if predicate is None or predicate(m):
                    return m
            return None

        return await self.notifier.wait_until(find, timeout, f"a message in channel {channel}")

    async def wait_for_messages(
        self,
        channel: Ref,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 (bounded waits are the API)
        *,
        guild: Ref | None = None,
    ) -> list[JsonObject]:
        channel_id = self.channel(channel, guild=guild).id
        return await self.notifier.wait_until(
            lambda: (
                self.store.channel(channel_id)
                if len(self.store.channel(channel_id)) >= count
                else None
            ),
            timeout,
            f"{count} message(s) in channel {channel}",
        )

    def add_message(
        self, channel: Ref, author: Ref, content: str, *, guild: Ref | None = None
    ) -> JsonObject:
        """Put a message by a (non-bot) member into history, e.g. chatter between digests."""
        g = self._guild_of(guild)
        ch = g.channel(channel)
        message = self.store.create(
            channel_id=ch.id, guild_id=g.id, author=g.member(author).user, body={"content": content}
        )
        self.notifier.notify()
        return message

    async def wait_until(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 5.0,  # noqa: ASYNC109 (bounded waits are the API)
        what: str = "a condition",
    ) -> T:
        """Wait for any condition on the double's state (re-checked on every change)."""
        return await self.notifier.wait_until(predicate, timeout, what)

    # ------------------------------------------------------------------ requests

    def requests_to(self, route_filter: RouteFilter) -> list[RecordedRequest]:
        from .faults import route_matches

        return [r for r in self.requests if route_matches(route_filter, r)]

    async def wait_for_request(
        self,
        route_filter: RouteFilter,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 (bounded waits are the API)
    ) -> list[RecordedRequest]:
        """Wait until ``count`` matching requests have been answered."""

        def done() -> list[RecordedRequest] | None:
            answered = [r for r in self.requests_to(route_filter) if r.status is not None]
            return answered if len(answered) >= count else None

        return await self.notifier.wait_until(done, timeout, f"{count} request(s) {route_filter}")

    # ------------------------------------------------------------------ faults

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
        """Answer the next ``n`` matching REST requests with ``status`` instead of handling.

        500/503 come as Discord JSON, 502/504 as Cloudflare HTML, 429 as a proper rate-limit
        answer (Via header, ``retry_after``); any other status as JSON with ``code``. With
        ``after_handling`` the request is handled first (a message is created) and the client
        still gets the failure, as when Discord errs after acting.
        """
        self.faults.fail_next(
            n,
            status,
            route_filter,
            code=code,
            retry_after=retry_after,
            after_handling=after_handling,
        )

    def hold(
        self,
        route_filter: RouteFilter = None,
        count: int | None = 1,
        *,
        after_handling: bool = False,
    ) -> Hold:
        """Keep the next ``count`` matching requests (None: all) unanswered until the test
        calls ``release()`` or ``drop()`` on the returned :class:`Hold`; ``await
        hold.wait()`` returns once they arrived. Before handling, Discord has not seen a held
        request; with ``after_handling`` it has acted on it and only the answer waits (a
        message accepted but its id never delivered). Unresolved holds are dropped on stop.
        """
        return self.faults.hold(
            route_filter, count, after_handling=after_handling, notifier=self.notifier
        )

    def delay(
        self, seconds: float, route_filter: RouteFilter = None, count: int | None = None
    ) -> None:
        """Answer matching requests ``seconds`` late (``count`` of them, or all)."""
        self.faults.delay(seconds, route_filter, count)

    def drop_next(self, n: int = 1, route_filter: RouteFilter = None) -> None:
        """Close the connection instead of answering (the client sees a disconnect)."""
        self.faults.drop_next(n, route_filter)

    # ------------------------------------------------------------------ gateway controls

    async def wait_for_ready(self, timeout: float = 5.0, *, count: int = 1) -> GatewaySession:  # noqa: ASYNC109 (bounded waits are the API)
        """Wait until the bot has identified (READY and GUILD_CREATE sent) ``count`` times."""
        await self.notifier.wait_until(
            lambda: self.gateway.count("ready") >= count, timeout, "the bot to IDENTIFY"
        )
        assert self.gateway.current is not None
        return self.gateway.current

    async def wait_for_resume(self, timeout: float = 5.0, *, count: int = 1) -> None:  # noqa: ASYNC109 (bounded waits are the API)
        await self.notifier.wait_until(
            lambda: self.gateway.count("resumed") >= count, timeout, "the bot to RESUME"
        )

    async def close_gateway(self, code: int = 4000, *, invalidate: bool = False) -> None:
        """Close the bot's websocket; discord.py resumes unless the code is fatal to it.

        discord.py resumes after a server close with 1000 or any 4xxx except 4004 and
        4010-4014 (those raise ``ConnectionClosed``). With ``invalidate`` (or 4007/4009) the
        resume is answered with INVALID_SESSION and the bot re-identifies (after a 5 s
        wait built into discord.py).
        """
        await self.gateway.close(code, invalidate=invalidate)

    async def send_reconnect(self) -> None:
        """Send op 7 RECONNECT; discord.py closes (4000) and resumes."""
        await self.gateway.send_reconnect()

    def hold_gateway(self) -> None:
        """Make new websocket connections wait (so the test can act while disconnected)."""
        self.gateway.hold()

    def release_gateway(self) -> None:
        self.gateway.release()

    async def dispatch(self, event: str, data: JsonObject) -> None:
        """Send any gateway event to the bot (filtered by its intents, like Discord)."""
        await self.gateway.dispatch(event, data)

    def _ready_payload(self, session: GatewaySession) -> JsonObject:
        return {
            "v": 10,
            "user": {**self.bot_user.payload(), "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
            "session_id": session.id,
            "resume_gateway_url": self.gateway_url,
            "session_type": "normal",
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "presences": [],
            "relationships": [],
            "geo_ordered_rtc_regions": ["loopback"],
            "guild_join_requests": [],
            "user_settings": {},
            "_trace": ["discord-double"],
        }

    def _guild_payloads(self, session: GatewaySession) -> list[JsonObject]:
        all_members = bool(session.intents & INTENT_GUILD_MEMBERS)
        return [g.create_payload(include_all_members=all_members) for g in self.guilds.values()]

    def _member_chunk(self, request: JsonObject) -> list[JsonObject]:
        g = self.guilds.get(int(request.get("guild_id") or 0))
        if g is None:
            return []
        members = list(g.members.values())
        if request.get("user_ids"):
            wanted = {int(u) for u in request["user_ids"]}
            members = [m for m in members if m.id in wanted]
        elif request.get("query"):
            query = str(request["query"]).lower()
            members = [m for m in members if m.user.username.lower().startswith(query)]
        limit = int(request.get("limit") or 0)
        if limit:
            members = members[:limit]
        return [m.payload() for m in members]

    # ------------------------------------------------------------------ permission edits

    async def remove_role(self, member: Ref, role: Ref, *, guild: Ref | None = None) -> None:
        g = self._guild_of(guild)
        m, r = g.member(member), g.role(role)
        if r.id in m.role_ids:
            m.role_ids.remove(r.id)
        await self._member_updated(g, m)

    async def _member_updated(self, g: Guild, m: Member) -> None:
        await self.dispatch("GUILD_MEMBER_UPDATE", {"guild_id": str(g.id), **m.payload()})
        self.notifier.notify()

    async def set_overwrite(
        self,
        channel: Ref,
        target: Ref,
        *,
        allow: int = 0,
        deny: int = 0,
        guild: Ref | None = None,
    ) -> None:
        """Replace (or, with allow=deny=0, remove) the overwrite for a role or member."""
        g = self._guild_of(guild)
        ch = g.channel(channel)
        target_id = g.lookup(target)
        kind = OverwriteType.MEMBER if target_id in g.members else OverwriteType.ROLE
        ch.overwrites = [o for o in ch.overwrites if o.id != target_id]
        if allow or deny:
            ch.overwrites.append(Overwrite(target_id, kind, int(allow), int(deny)))
        await self.dispatch("CHANNEL_UPDATE", ch.payload())
        self.notifier.notify()

    async def delete_channel(self, channel: Ref, *, guild: Ref | None = None) -> None:
        g = self._guild_of(guild)
        ch = g.channels.pop(g.lookup(channel))
        await self.dispatch("CHANNEL_DELETE", ch.payload())
        self.notifier.notify()

    # ------------------------------------------------------------------ commands

    def commands(self, guild: Ref | None = None, *, global_: bool = False) -> list[JsonObject]:
        """Commands synced for a guild (default: the first guild) or, ``global_``, globally."""
        scope = None if global_ else self._guild_of(guild).id
        return list(self.commands_by_scope.get(scope, []))

    def _find_command(self, name: str, g: Guild, command_type: int = 1) -> JsonObject:
        for scope in (g.id, None):
            for cmd in self.commands_by_scope.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == command_type:
                    return cmd
        synced = [c["name"] for s in (g.id, None) for c in self.commands_by_scope.get(s, [])]
        raise LookupError(
            f"command {name!r} has not been synced (guild {g.id} or global); synced: {synced}"
        )

    # ------------------------------------------------------------------ interactions

    def _new_handle(
        self,
        kind: InteractionType,
        g: Guild,
        channel: Channel,
        member: Member,
        data: JsonObject,
        message: JsonObject | None = None,
    ) -> InteractionHandle:
        interaction_id = self.ids()
        token = f"itok.{interaction_id}.{secrets.token_urlsafe(24)}"
        payload = base_payload(
            interaction_id=interaction_id,
            token=token,
            kind=kind,
            application_id=self.application_id,
            guild=g,
            channel=channel,
            member=member,
            bot_id=self.bot_user.id,
            data=data,
            message=message,
        )
        handle = InteractionHandle(
            id=interaction_id,
            token=token,
            type=kind,
            payload=payload,
            channel_id=channel.id,
            user_id=member.id,
            created_at=self.clock(),
            _store=self.store,
            _notifier=self.notifier,
            message_id=None if message is None else int(message["id"]),
        )
        self.interactions[interaction_id] = handle
        return handle

    async def _deliver(self, handle: InteractionHandle) -> InteractionHandle:
        if self.gateway.current is None or not self.gateway.current.valid:
            raise RuntimeError("the bot has no gateway session; wait_for_ready() first")
        await self.dispatch("INTERACTION_CREATE", handle.payload)
        return handle

    def _resolve_actor(
        self, user: Ref, channel: Ref, guild: Ref | None
    ) -> tuple[Guild, Channel, Member]:
        g = self._guild_of(guild)
        return g, g.channel(channel), g.member(user)

    async def send_slash_command(
        self,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: Ref = "member",
        channel: Ref = "general",
        guild: Ref | None = None,
    ) -> InteractionHandle:
        """Run ``/command [group] [sub]`` as ``user`` in ``channel``.

        ``command`` is the full path as typed, e.g. ``"news approve"``. Options are given by
        name and converted by the synced schema (users, roles and channels by key or id, and
        added to ``resolved``). Raises LookupError for an unsynced command or unknown option.
        """
        g, ch, member = self._resolve_actor(user, channel, guild)
        data = self._command_data(g, command, options or {}, focused=None)
        handle = self._new_handle(InteractionType.APPLICATION_COMMAND, g, ch, member, data)
        return await self._deliver(handle)

    async def send_autocomplete(
        self,
        command: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        user: Ref = "member",
        channel: Ref = "general",
        guild: Ref | None = None,
    ) -> InteractionHandle:
        """Type into option ``focused`` of ``/command``; the bot must answer with type 8."""
        g, ch, member = self._resolve_actor(user, channel, guild)
        data = self._command_data(g, command, options, focused=focused)
        kind = InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE
        handle = self._new_handle(kind, g, ch, member, data)
        return await self._deliver(handle)

    def _command_data(
        self, g: Guild, command: str, values: Mapping[str, Any], *, focused: str | None
    ) -> JsonObject:
        root, *path = command.strip().lstrip("/").split()
        cmd = self._find_command(root, g)
        walked, leaf = find_command_path(cmd, path)
        options, resolved = build_options(leaf, values, g, focused=focused)
        for node in reversed(walked):
            options = [{"name": node["name"], "type": node["type"], "options": options}]
        data: JsonObject = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": cmd.get("type", 1),
            "options": options,
        }
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        if resolved:
            data["resolved"] = resolved
        return data

    def _interactive_message(self, message: Ref | JsonObject) -> tuple[Guild, Channel, JsonObject]:
        message_id = int(message["id"]) if isinstance(message, dict) else int(message)
        payload = self.store.by_id.get(message_id)
        if payload is None:
            raise LookupError(f"message {message_id} is not known to the double")
        found = self.find_channel(int(payload["channel_id"]))
        if found is None:
            raise LookupError(f"the channel of message {message_id} no longer exists")
        return found[0], found[1], payload

    async def click_button(
        self,
        message: Ref | JsonObject,
        custom_id: str,
        *,
        user: Ref = "moderator",
    ) -> InteractionHandle:
        """Click the button ``custom_id`` on a message the bot sent (must exist and be enabled)."""
        g, ch, payload = self._interactive_message(message)
        component = component_exists(payload, custom_id)
        if component is None or component.get("type") != 2:
            raise LookupError(f"message {payload['id']} has no button {custom_id!r}")
        if component.get("disabled"):
            raise ValueError(f"button {custom_id!r} is disabled")
        data = {"custom_id": custom_id, "component_type": 2}
        member = g.member(user)
        if int(payload.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL:
            # Discord shows an ephemeral message to the user of its interaction alone.
            owner = payload.get("interaction_metadata", {}).get("user", {}).get("id")
            if owner != str(member.id):
                raise LookupError(
                    f"message {payload['id']} is ephemeral: only user {owner} sees it"
                )
        handle = self._new_handle(InteractionType.MESSAGE_COMPONENT, g, ch, member, data, payload)
        return await self._deliver(handle)

    async def choose(
        self,
        message: Ref | JsonObject,
        custom_id: str,
        values: Sequence[str],
        *,
        user: Ref = "moderator",
    ) -> InteractionHandle:
        """Pick ``values`` in the string select ``custom_id`` of a message the bot sent.

        As Discord's client does, only options the menu offers can be picked, and as many as
        its ``min_values`` and ``max_values`` (default 1 and 1) allow."""
        g, ch, payload = self._interactive_message(message)
        component = component_exists(payload, custom_id)
        if component is None or component.get("type") != 3:
            raise LookupError(f"message {payload['id']} has no select menu {custom_id!r}")
        if component.get("disabled"):
            raise ValueError(f"select menu {custom_id!r} is disabled")
        offered = {option["value"] for option in component.get("options", [])}
        unknown = [v for v in values if v not in offered]
        if unknown:
            raise ValueError(f"select menu {custom_id!r} offers no {unknown}")
        low, high = component.get("min_values", 1), component.get("max_values", 1)
        if not low <= len(values) <= high:
            raise ValueError(f"select menu {custom_id!r} takes {low} to {high} values")
        data = {"custom_id": custom_id, "component_type": 3, "values": list(values)}
        handle = self._new_handle(
            InteractionType.MESSAGE_COMPONENT, g, ch, g.member(user), data, payload
        )
        return await self._deliver(handle)

    async def submit_modal(
        self,
        custom_id: str,
        values: Mapping[str, str],
        *,
        user: Ref = "moderator",
        channel: Ref = "general",
        guild: Ref | None = None,
        message: Ref | JsonObject | None = None,
    ) -> InteractionHandle:
        """Submit the modal ``custom_id`` with text input values by their custom ids.

        When the bot showed that modal (a type 9 callback), the submission follows its layout
        and its required inputs; otherwise each value becomes its own action row.
        """
        g, ch, member = self._resolve_actor(user, channel, guild)
        modal = self.modals.get(custom_id)
        data = {"custom_id": custom_id, "components": modal_submit_components(modal, values)}
        payload = None
        if message is not None:
            g, ch, payload = self._interactive_message(message)
        handle = self._new_handle(InteractionType.MODAL_SUBMIT, g, ch, member, data, payload)
        return await self._deliver(handle)
