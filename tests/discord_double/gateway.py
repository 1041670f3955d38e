"""Gateway v10 over a loopback websocket: HELLO, IDENTIFY/READY, heartbeats, RESUME.

Frames are plain JSON text even though discord.py asks for ``compress=zlib-stream``: it only
decompresses *binary* frames and parses text frames directly. A session outlives its socket:
events dispatched while the bot is disconnected are kept with their sequence numbers and
replayed on RESUME, as Discord does; a session the bot closed with 1000/1001, or one the test
invalidated, answers RESUME with INVALID_SESSION (d=false).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from .clock import Clock
from .notify import Notifier

JsonObject = dict[str, Any]

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
MAX_GUILDS_PER_SHARD = 2500
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

EVENT_INTENTS = {
    "GUILD_MEMBER_ADD": INTENT_GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": INTENT_GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": INTENT_GUILD_MEMBERS,
    "GUILD_ROLE_CREATE": INTENT_GUILDS,
    "GUILD_ROLE_UPDATE": INTENT_GUILDS,
    "GUILD_ROLE_DELETE": INTENT_GUILDS,
    "CHANNEL_CREATE": INTENT_GUILDS,
    "CHANNEL_UPDATE": INTENT_GUILDS,
    "CHANNEL_DELETE": INTENT_GUILDS,
    "MESSAGE_CREATE": INTENT_GUILD_MESSAGES,
    "MESSAGE_UPDATE": INTENT_GUILD_MESSAGES,
    "MESSAGE_DELETE": INTENT_GUILD_MESSAGES,
}
"""Events Discord only sends to sessions that asked for the intent."""

CLIENT_CLOSE_ENDS_SESSION = (1000, 1001)
"""A client closing with these codes ends its session; any other code keeps it resumable."""

SERVER_CLOSE_ENDS_SESSION = (4004, 4007, 4009, 4010, 4011, 4012, 4013, 4014)

BACKLOG_MAX = 1000


@dataclass
class GatewayLogEntry:
    """One thing that happened on the gateway (for assertions and debugging)."""

    kind: str
    at: float
    detail: JsonObject = field(default_factory=dict)


def shard_of(guild_id: int, shard_count: int) -> int:
    """Discord's rule: a guild's events go to shard ``(guild_id >> 22) % num_shards``."""
    return (guild_id >> 22) % shard_count


def on_shard(snowflake: int, shard_id: int, shard_count: int) -> int:
    """A snowflake near ``snowflake`` whose guild would be on ``shard_id`` (tests place guilds
    on the shard they want: ``GuildBuilder(id=on_shard(ids(), 1, 2))``)."""
    stamp = snowflake >> 22
    stamp += (shard_id - stamp) % shard_count
    return (stamp << 22) | (snowflake & ((1 << 22) - 1))


def event_guild(event: str, data: JsonObject) -> int | None:
    """The guild an event belongs to (a guild's own events carry it as ``id``)."""
    raw = data.get("id") if event.startswith("GUILD_") and "guild_id" not in data else None
    raw = data.get("guild_id", raw)
    return int(raw) if raw is not None else None


@dataclass
class GatewaySession:
    id: str
    intents: int
    identify: JsonObject
    seq: int = 0
    backlog: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=BACKLOG_MAX))
    socket: web.WebSocketResponse | None = None
    valid: bool = True
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    shard: tuple[int, int] = (0, 1)
    """``[shard_id, num_shards]`` from IDENTIFY; [0, 1] (every guild) without one."""

    def holds(self, guild_id: int | None) -> bool:
        """Whether an event of ``guild_id`` goes to this session: its guild is on the
        session's shard; an event with no guild (a DM) goes to shard 0, as Discord sends it."""
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0
        return shard_of(guild_id, count) == shard_id

    def can_replay_from(self, seq: int | None) -> bool:
        if seq is None or seq > self.seq:
            return False
        oldest = self.backlog[0][0] if self.backlog else self.seq + 1
        return seq >= oldest - 1

    async def send_dispatch(self, event: str, data: JsonObject) -> int:
        async with self.lock:
            self.seq += 1
            frame = json.dumps({"op": OP_DISPATCH, "t": event, "s": self.seq, "d": data})
            self.backlog.append((self.seq, frame))
            await self._send_raw(frame)
            return self.seq

    async def _send_raw(self, frame: str) -> None:
        socket = self.socket
        if socket is None or socket.closed:
            return
        try:
            await socket.send_str(frame)
        except (ConnectionError, RuntimeError):
            self.socket = None


@dataclass
class GatewayWorld:
    """What the gateway needs from the double, without importing it."""

    token: Callable[[], str]
    ready_payload: Callable[[GatewaySession], JsonObject]
    guild_payloads: Callable[[GatewaySession], list[JsonObject]]
    member_chunk: Callable[[JsonObject], list[JsonObject]]
    allowed_privileged_intents: Callable[[], int]
    ready_payload_guilds: Callable[[], list[int]]


class Gateway:
    def __init__(
        self,
        world: GatewayWorld,
        *,
        clock: Clock,
        notifier: Notifier,
        heartbeat_interval: float,
    ) -> None:
        self._world = world
        self._clock = clock
        self._notifier = notifier
        self.heartbeat_interval = heartbeat_interval
        self.sessions: dict[str, GatewaySession] = {}
        self.current: GatewaySession | None = None
        self.log: list[GatewayLogEntry] = []
        self.heartbeats = 0
        self.connections = 0
        self._open: asyncio.Event | None = None
        self._server_closed: set[int] = set()
        self.max_guilds_per_shard = MAX_GUILDS_PER_SHARD
        """More guilds than this and an unsharded IDENTIFY is closed with 4011."""

    # ------------------------------------------------------------------ test controls

    def hold(self) -> None:
        """New websocket connections wait until :meth:`release` (to act while disconnected)."""
        self._open = asyncio.Event()

    def release(self) -> None:
        if self._open is not None:
            self._open.set()
            self._open = None

    async def close(self, code: int = 4000, *, invalidate: bool = False) -> None:
        """Close the bot's socket from the server side; the session survives unless told."""
        session = self.current
        if session is None or session.socket is None:
            raise RuntimeError("no connected gateway session to close")
        socket = session.socket
        session.socket = None
        if invalidate or code in SERVER_CLOSE_ENDS_SESSION:
            session.valid = False
        self._server_closed.add(id(socket))
        self._record("server_close", code=code, invalidated=not session.valid)
        await socket.close(code=code, message=b"closed by the test double")

    async def send_reconnect(self) -> None:
        await self._send_op(OP_RECONNECT, None)
        self._record("reconnect_requested")

    async def _send_op(self, op: int, data: Any) -> None:
        session = self.current
        if session is None or session.socket is None:
            raise RuntimeError("no connected gateway session")
        async with session.lock:
            await session._send_raw(json.dumps({"op": op, "d": data}))

    # ------------------------------------------------------------------ dispatch

    async def dispatch(self, event: str, data: JsonObject) -> None:
        """Send an event to the valid session of the shard its guild is on (buffered for
        replay if it is offline). A new IDENTIFY of a shard ends that shard's older session
        (and every session of another shard count), as one bot user's sessions do here."""
        guild = event_guild(event, data)
        for session in [s for s in self.sessions.values() if s.valid and s.holds(guild)]:
            needed = EVENT_INTENTS.get(event)
            if needed is not None and not session.intents & needed:
                continue
            seq = await session.send_dispatch(event, data)
            self._record(
                "dispatch",
                event=event,
                seq=seq,
                delivered=session.socket is not None,
                shard=session.shard[0],
            )

    def count(self, kind: str) -> int:
        return sum(1 for entry in self.log if entry.kind == kind)

    def _record(self, kind: str, **detail: Any) -> None:
        self.log.append(GatewayLogEntry(kind, self._clock(), detail))
        self._notifier.notify()

    # ------------------------------------------------------------------ connection

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._open is not None:
            await self._open.wait()
        socket = web.WebSocketResponse(max_msg_size=0, autoclose=True)
        await socket.prepare(request)
        self.connections += 1
        self._record("connect", query=dict(request.query))
        if request.query.get("encoding", "json") != "json":
            await socket.close(code=4002, message=b"only encoding=json is served")
            return socket
        if request.query.get("v", "10") != "10":
            await socket.close(code=4012, message=b"Invalid API version")
            return socket
        await socket.send_str(
            json.dumps(
                {"op": OP_HELLO, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)}}
            )
        )
        connection = _Connection(self, socket)
        try:
            await connection.run()
        finally:
            session = connection.session
            server_closed = id(socket) in self._server_closed
            self._server_closed.discard(id(socket))
            code = socket.close_code
            if session is not None and session.socket is socket:
                session.socket = None
                if not server_closed and code in CLIENT_CLOSE_ENDS_SESSION:
                    session.valid = False
            if not server_closed:
                self._record("client_close", code=code)
        return socket


def _shard(value: Any) -> tuple[int, int] | None:
    """IDENTIFY's ``shard`` as (id, count), or None when Discord would close with 4010."""
    if not isinstance(value, list) or len(value) != 2:
        return None
    shard_id, count = value
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in value):
        return None
    if count < 1 or not 0 <= shard_id < count:
        return None
    return shard_id, count


class _Connection:
    """One websocket: before IDENTIFY/RESUME only heartbeats are allowed."""

    def __init__(self, gateway: Gateway, socket: web.WebSocketResponse) -> None:
        self.gateway = gateway
        self.socket = socket
        self.session: GatewaySession | None = None

    async def run(self) -> None:
        async for message in self.socket:
            if message.type is WSMsgType.BINARY:
                await self.socket.close(code=4002, message=b"Decode error.")
                return
            if message.type is not WSMsgType.TEXT:
                return
            try:
                frame = json.loads(message.data)
            except ValueError:
                await self.socket.close(code=4002, message=b"Decode error.")
                return
            if not await self.handle(frame):
                return

    async def handle(self, frame: JsonObject) -> bool:
        op, data = frame.get("op"), frame.get("d")
        gw = self.gateway
        if op == OP_HEARTBEAT:
            gw.heartbeats += 1
            await self.socket.send_str(json.dumps({"op": OP_HEARTBEAT_ACK}))
            gw._record("heartbeat", seq=data)
            return True
        if op == OP_IDENTIFY:
            return await self.identify(data or {})
        if op == OP_RESUME:
            return await self.resume(data or {})
        if self.session is None:
            await self.socket.close(code=4003, message=b"Not authenticated.")
            return False
        if op == OP_REQUEST_GUILD_MEMBERS:
            members = gw._world.member_chunk(data or {})
            await self.session.send_dispatch(
                "GUILD_MEMBERS_CHUNK",
                {
                    "guild_id": str((data or {}).get("guild_id")),
                    "members": members,
                    "chunk_index": 0,
                    "chunk_count": 1,
                    "not_found": [],
                    **({"nonce": data["nonce"]} if data and data.get("nonce") else {}),
                },
            )
            return True
        if op in (OP_PRESENCE_UPDATE, OP_VOICE_STATE_UPDATE):
            gw._record("presence_update" if op == OP_PRESENCE_UPDATE else "voice_state", data=data)
            return True
        await self.socket.close(code=4001, message=b"Unknown opcode.")
        return False

    async def identify(self, data: JsonObject) -> bool:
        gw = self.gateway
        if self.session is not None:
            await self.socket.close(code=4005, message=b"Already authenticated.")
            return False
        if data.get("token") != gw._world.token():
            gw._record("identify_rejected")
            await self.socket.close(code=4004, message=b"Authentication failed.")
            return False
        intents = int(data.get("intents") or 0)
        if intents & PRIVILEGED_INTENTS & ~gw._world.allowed_privileged_intents():
            gw._record("identify_rejected", intents=intents)
            await self.socket.close(code=4014, message=b"Disallowed intent(s).")
            return False
        shard = _shard(data.get("shard", [0, 1]))
        if shard is None:
            gw._record("identify_rejected", shard=data.get("shard"))
            await self.socket.close(code=4010, message=b"Invalid shard.")
            return False
        if shard[1] == 1 and len(gw._world.ready_payload_guilds()) > gw.max_guilds_per_shard:
            gw._record("identify_rejected", sharding_required=True)
            await self.socket.close(code=4011, message=b"Sharding required.")
            return False
        for old in gw.sessions.values():
            if old.shard[0] == shard[0] or old.shard[1] != shard[1]:
                old.valid = False  # a new session of a shard replaces the shard's old one
        session = GatewaySession(id=uuid.uuid4().hex, intents=intents, identify=data, shard=shard)
        session.socket = self.socket
        gw.sessions[session.id] = session
        gw.current = session
        self.session = session
        ready = gw._world.ready_payload(session)
        ready["guilds"] = [g for g in ready["guilds"] if session.holds(int(g["id"]))]
        if data.get("shard") is not None:
            ready["shard"] = list(shard)
        await session.send_dispatch("READY", ready)
        for guild in gw._world.guild_payloads(session):
            if session.holds(int(guild["id"])):
                await session.send_dispatch("GUILD_CREATE", guild)
        gw._record("ready", session_id=session.id, intents=intents, shard=list(shard))
        return True

    async def resume(self, data: JsonObject) -> bool:
        gw = self.gateway
        if data.get("token") != gw._world.token():
            await self.socket.close(code=4004, message=b"Authentication failed.")
            return False
        session = gw.sessions.get(str(data.get("session_id")))
        seq = data.get("seq")
        if session is None or not session.valid or not session.can_replay_from(seq):
            gw._record("resume_rejected", session_id=data.get("session_id"), seq=seq)
            await self.socket.send_str(json.dumps({"op": OP_INVALID_SESSION, "d": False}))
            return True
        previous = session.socket
        if previous is not None and previous is not self.socket:
            # A resume from a new socket takes the session over; the old socket's close
            # must not count as the client ending the session.
            session.socket = None
            gw._server_closed.add(id(previous))
            with contextlib.suppress(Exception):
                await previous.close(code=WSCloseCode.GOING_AWAY)
        self.session = session
        gw.current = session
        async with session.lock:
            session.socket = self.socket
            replay = [frame for s, frame in session.backlog if s > (seq or 0)]
            for frame in replay:
                await session._send_raw(frame)
        await session.send_dispatch("RESUMED", {})
        gw._record("resumed", session_id=session.id, seq=seq, replayed=len(replay))
        return True
