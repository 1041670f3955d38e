"""The discord.py Poster: sends digest messages over REST and maps failures to the core's
``DeliveryError`` (permanent for 4xx, transient for 5xx, timeouts and disconnects).

Two additions to discord.py's own handling, both hooked into its HTTP session's request
tracing when the poster is made with the client: the client's requests are kept within
Discord's global rate limit (:class:`GlobalPacer`), and a message's id reaches the publisher as
soon as Discord answers (:class:`EarlyAnswers`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Literal

import aiohttp
import discord

from bot.config import Identity
from bot.discord_adapter import history
from bot.discord_adapter.edits import edit_params
from bot.discord_adapter.failures import FAILURES, delivery_error
from bot.discord_adapter.notify import notify_view
from bot.discord_adapter.payloads import message_kwargs
from bot.discord_adapter.webhooks import WebhookPoster, own_webhook
from bot.errors import DeliveryError
from bot.places import Places
from bot.poster import After, ChannelInfo, ChannelKind, Poster
from bot.processes import GLOBAL_LIMIT

log = logging.getLogger(__name__)

# A digest's discussion thread archives after a day without messages (Discord's default).
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440
# "A thread has already been created for this message".
THREAD_EXISTS = 160004

# A forum post's starter message takes these keys of a message-create payload.
POST_MESSAGE_KEYS = ("content", "embeds", "allowed_mentions", "components")
# The forum flag "a post needs a tag".
REQUIRE_TAG = 1 << 4
# Seconds a crosspost may wait inside discord.py (for a rate limit) before it is set aside.
CROSSPOST_PATIENCE = 3.0

GLOBAL_PERIOD = 1.0


def _api_path(url: str) -> str | None:
    """The path below discord.py's API base, or None for other URLs (gateway, CDN)."""
    base = discord.http.Route.BASE
    return url[len(base) :] if url.startswith(base + "/") else None


class GlobalPacer:
    """Keeps a client's REST requests within its share of Discord's global limit.

    discord.py paces each route's bucket by the ``X-RateLimit-*`` headers but only reacts to the
    global limit once Discord answers 429 (which also counts towards Cloudflare's ban on invalid
    requests), so a fan-out to 50 channels right after login would be refused. Each request
    takes one of ``limit`` places when it starts and gives it back ``period`` after its answer
    arrived: Discord counted the request before answering, so however the requests' latencies
    differ, no ``limit + 1`` of them ever reach Discord within one ``period``. The cost is one
    round trip per ``limit`` requests. Every request of the client is counted (login, history,
    review posts), not only the poster's own. ``resize`` changes the limit while requests wait
    (several processes split the bot's limit: ``bot.processes.Membership``).
    """

    def __init__(self, limit: int = GLOBAL_LIMIT, period: float = GLOBAL_PERIOD) -> None:
        self.limit = limit
        self.period = period
        self.places = Places(limit)

    def resize(self, limit: int) -> None:
        """Allow ``limit`` places from now on; a smaller limit takes effect as places return."""
        self.limit = max(0, limit)
        self.places.resize(limit)

    @staticmethod
    def counts(url: str) -> bool:
        """Whether Discord counts a request to ``url`` against the bot's global limit."""
        path = _api_path(url)
        return path is not None and not path.startswith(("/interactions/", "/webhooks/"))

    async def _on_start(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        context.paced = self.counts(str(params.url))
        if context.paced:
            await self.places.take()

    async def _on_done(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, _: Any
    ) -> None:
        if getattr(context, "paced", False):
            context.paced = False
            asyncio.get_running_loop().call_later(self.period, self.places.give)

    def attach(self, trace: aiohttp.TraceConfig) -> None:
        trace.on_request_start.append(self._on_start)
        trace.on_request_end.append(self._on_done)
        trace.on_request_exception.append(self._on_done)


class EarlyAnswers:
    """Message ids as soon as Discord answers a message create, by channel and nonce.

    When a send uses a channel bucket's last token, discord.py holds that call until the bucket
    resets (up to 5 s) before returning the message it already has. The publisher must record
    the id as soon as Discord accepted the message (a crash in those seconds would leave an
    unrecorded part), and the 10th part of a digest would otherwise keep ``/digest publish``
    waiting 5 s for nothing. Discord echoes the nonce in its answer, which is how an answer
    is matched to the send waiting for it; unmatched answers are left alone.
    """

    def __init__(self) -> None:
        self._waiting: dict[tuple[int, str], asyncio.Future[int]] = {}

    def expect(self, channel_id: int, nonce: str) -> asyncio.Future[int]:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting[(channel_id, nonce)] = future
        return future

    def forget(self, channel_id: int, nonce: str) -> None:
        self._waiting.pop((channel_id, nonce), None)

    async def _on_end(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        response = params.response
        if not self._waiting or params.method != "POST" or response.status != 200:
            return
        path = _api_path(str(params.url)) or ""
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "channels" or parts[2] != "messages":
            return
        try:
            # aiohttp keeps the body it read, so discord.py reads the same one afterwards.
            data = await response.json()
            key = (int(parts[1]), str(data["nonce"]))
            message_id = int(data["id"])
        except Exception:  # not ours to judge: discord.py handles the answer as usual
            return
        future = self._waiting.get(key)
        if future is not None and not future.done():
            future.set_result(message_id)

    def attach(self, trace: aiohttp.TraceConfig) -> None:
        trace.on_request_end.append(self._on_end)


class CrosspostLimits:
    """How long each channel's crossposts must wait, from Discord's answers to them: a 429's
    ``Retry-After``, or the bucket's ``X-RateLimit-Reset-After`` once none remain."""

    def __init__(self) -> None:
        self._until: dict[int, float] = {}
        self.answered: set[int] = set()
        """Messages Discord crossposted: discord.py holds the answer that used a bucket's
        last token until the bucket resets (an hour), but it is done."""

    def wait(self, channel_id: int) -> float:
        until = self._until.get(channel_id)
        return 0.0 if until is None else max(until - asyncio.get_running_loop().time(), 0.0)

    async def _on_end(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        parts = (_api_path(str(params.url)) or "").strip("/").split("/")
        if params.method != "POST" or len(parts) != 5 or parts[4] != "crosspost":
            return
        headers, now = params.response.headers, asyncio.get_running_loop().time()
        try:
            channel_id = int(parts[1])
            if params.response.status == 200:
                self.answered.add(int(parts[3]))
            if params.response.status == 429:
                self._until[channel_id] = now + float(headers.get("Retry-After", "60"))
            elif headers.get("X-RateLimit-Remaining") == "0":
                self._until[channel_id] = now + float(headers.get("X-RateLimit-Reset-After", "60"))
            else:
                self._until.pop(channel_id, None)
        except ValueError:  # not ours to judge: discord.py handles the answer as usual
            return

    def attach(self, trace: aiohttp.TraceConfig) -> None:
        trace.on_request_end.append(self._on_end)


class DiscordPoster:
    """Posts through a logged-in client; needs only REST, so ``newsbot publish`` works
    without the gateway.

    Made with the client, before it logs in (its HTTP session, and the tracing, are created at
    login), it paces all of the client's requests and learns message ids early (see the
    module docstring); otherwise it still posts, just without those two.
    """

    def __init__(
        self,
        client: discord.Client,
        *,
        pacer: GlobalPacer | None = None,
        guild: int | None = None,
        crosspost_patience: float = CROSSPOST_PATIENCE,
        on_rate_limited: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.guild = guild
        self.crosspost_patience = crosspost_patience
        self.crosspost_limits = CrosspostLimits()
        self._guild_channels: asyncio.Future[None] | None = None
        self.pacer = pacer or GlobalPacer()
        self.answers = EarlyAnswers()
        self._held: set[asyncio.Task[discord.Message]] = set()
        self._channels: dict[int, ChannelInfo] = {}
        self._guilds: dict[int, int] = {}
        self._webhooks: dict[int, asyncio.Future[discord.Webhook]] = {}
        http = client.http
        if http.http_trace is None and client.user is None:
            trace = aiohttp.TraceConfig()
            self.pacer.attach(trace)
            self.answers.attach(trace)
            self.crosspost_limits.attach(trace)
            if on_rate_limited is not None:
                trace.on_request_end.append(_counting_429s(on_rate_limited))
            http.http_trace = trace
        else:
            log.warning("the Discord client is already traced or logged in; not pacing it")

    async def send(self, channel_id: int, payload: dict[str, Any], nonce: str) -> int:
        channel = self.client.get_partial_messageable(channel_id)
        answered = self.answers.expect(channel_id, nonce)
        # discord.py sends ``enforce_nonce`` with a nonce, so Discord returns the earlier
        # message instead of posting a second one if this is a retry.
        kwargs = message_kwargs(payload, pings=True)
        view = notify_view(payload)
        if view is not None:
            kwargs["view"] = view
        sending = asyncio.ensure_future(channel.send(nonce=nonce, **kwargs))
        try:
            await asyncio.wait((sending, answered), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            sending.cancel()
            raise
        finally:
            self.answers.forget(channel_id, nonce)
        if not sending.done():
            # Accepted; discord.py is sitting out the channel's rate-limit window before it
            # returns. Keep the call (it ends on its own) and go on with the id.
            self._held.add(sending)
            sending.add_done_callback(self._release)
            return answered.result()
        try:
            message = sending.result()
        except FAILURES as exc:
            raise delivery_error(exc) from exc
        return message.id

    async def channel_info(self, channel_id: int) -> ChannelInfo:
        """From the gateway's cache when the client has one; else asked of Discord once per
        process: all the channels of the configured guild (or, without one, of the first
        channel's guild) in one request, so a fan-out to 50 channels costs one or two requests,
        not 50. The channels of a fan-out wait for that request rather than each asking for
        itself meanwhile; a channel it did not list is asked for alone."""
        known = self._channels.get(channel_id)
        if known is not None:
            return known
        cached = self.client.get_channel(channel_id)
        try:
            if isinstance(cached, discord.abc.GuildChannel):
                self._learn(_channel_data(cached))
            else:
                if self._guild_channels is None:
                    self._guild_channels = asyncio.ensure_future(self._learn_guild(channel_id))
                learning = self._guild_channels
                try:
                    # Shielded: one caller's cancellation must not cancel the others' request.
                    await asyncio.shield(learning)
                except FAILURES:
                    if self._guild_channels is learning:
                        self._guild_channels = None  # the next publish asks again
                    raise
            if channel_id not in self._channels:
                self._learn(dict(await self.client.http.get_channel(channel_id)))
        except FAILURES as exc:
            raise delivery_error(exc) from exc
        return self._channels[channel_id]

    async def _learn_guild(self, channel_id: int) -> None:
        guild = self.guild
        if guild is None:
            self._learn(dict(await self.client.http.get_channel(channel_id)))
            guild = self._guilds[channel_id] or None
        if guild is not None:
            for data in await self.client.http.get_all_guild_channels(guild):
                self._learn(dict(data))

    def _learn(self, data: dict[str, Any]) -> None:
        channel_id = int(data["id"])
        self._channels[channel_id] = channel_info_of(data)
        self._guilds[channel_id] = int(data.get("guild_id") or self.guild or 0)

    async def create_post(
        self, forum_id: int, name: str, payload: dict[str, Any], tags: Sequence[int]
    ) -> int:
        body: dict[str, Any] = {
            "name": name,
            "auto_archive_duration": THREAD_ARCHIVE_MINUTES,
            "applied_tags": [str(tag) for tag in tags],
            "message": {key: payload[key] for key in POST_MESSAGE_KEYS if key in payload},
        }
        route = discord.http.Route("POST", "/channels/{channel_id}/threads", channel_id=forum_id)
        try:
            data = await self.client.http.request(route, json=body)
        except FAILURES as exc:
            raise delivery_error(exc) from exc
        return int(data["id"])

    async def find_post(
        self, forum_id: int, name: str, payload: Mapping[str, Any], after: datetime
    ) -> int | None:
        guild = await self.guild_of(forum_id)
        return await history.find_post(self.client, guild, forum_id, name, payload, after)

    async def guild_of(self, channel_id: int) -> int:
        """The id of the guild holding the channel."""
        if channel_id not in self._guilds:
            await self.channel_info(channel_id)
        return self._guilds[channel_id]

    async def crosspost(self, channel_id: int, message_id: int) -> None:
        """Never waits long: a channel whose crossposts Discord limited (known from its
        answers) is refused at once with the time left; and a call that discord.py would hold
        for a rate limit is given up after ``crosspost_patience`` seconds (discord.py's own
        ``max_ratelimit_timeout`` would also refuse every bucket whose hour-long window is
        not over, remaining crossposts or not)."""
        wait = self.crosspost_limits.wait(channel_id)
        if wait > 0:
            raise _crosspost_limited(wait)
        publishing = self.client.http.publish_message(channel_id, message_id)
        try:
            await asyncio.wait_for(publishing, self.crosspost_patience)
        except TimeoutError as exc:
            if message_id in self.crosspost_limits.answered:
                return  # done; discord.py sits out the bucket's window before returning
            wait = self.crosspost_limits.wait(channel_id)
            if wait > 0:
                raise _crosspost_limited(wait) from exc
            raise delivery_error(exc) from exc
        except FAILURES as exc:
            raise delivery_error(exc) from exc

    async def start_thread(self, channel_id: int, message_id: int, name: str) -> int:
        try:
            data = await self.client.http.start_thread_with_message(
                channel_id,
                message_id,
                name=name,
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
                rate_limit_per_user=None,
                reason="newsbot: the digest's discussion thread",
            )
        except discord.HTTPException as exc:
            if exc.code == THREAD_EXISTS:
                # Started before a crash: a thread on a message has the message's id.
                return message_id
            raise delivery_error(exc) from exc
        except FAILURES as exc:
            raise delivery_error(exc) from exc
        return int(data["id"])

    async def edit(self, channel_id: int, message_id: int, payload: dict[str, Any]) -> None:
        # A message posted through a webhook needs the webhook's route (not handled yet).
        try:
            await self.client.http.edit_message(channel_id, message_id, params=edit_params(payload))
        except FAILURES as exc:
            raise delivery_error(exc) from exc

    def _release(self, task: asyncio.Task[discord.Message]) -> None:
        self._held.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The message was accepted before this; whatever happened later changes nothing.
            log.debug("a held send ended with %r", task.exception())

    async def find_recent(
        self, channel_id: int, payload: Mapping[str, Any], after: After
    ) -> int | None:
        return await history.find_recent(self.client, channel_id, payload, after)

    async def with_identity(self, channel_id: int, identity: Identity) -> Poster:
        """Through the channel's webhook of this bot, found (or made) once per process and
        channel; concurrent digests of one channel share the lookup."""
        finding = self._webhooks.get(channel_id)
        if finding is None:
            finding = asyncio.ensure_future(own_webhook(self.client, channel_id))
            self._webhooks[channel_id] = finding
        try:
            webhook = await asyncio.shield(finding)
        except DeliveryError:
            if self._webhooks.get(channel_id) is finding:
                del self._webhooks[channel_id]  # the next digest asks again
            raise
        guild = await self.guild_of(channel_id)
        return WebhookPoster(self, self.client, webhook, channel_id, guild, identity)


def _counting_429s(count: Callable[[], None]) -> Any:
    """A request-end hook calling ``count`` for each answer 429 from Discord (discord.py waits
    and retries on its own; the operator still wants to see them)."""

    async def on_end(session: aiohttp.ClientSession, context: SimpleNamespace, params: Any) -> None:
        if params.response.status == 429 and _api_path(str(params.url)) is not None:
            count()

    return on_end


def _crosspost_limited(wait: float) -> DeliveryError:
    return DeliveryError(
        f"crossposts rate limited for {wait:.0f}s", permanent=False, status=429, retry_after=wait
    )


def _channel_data(channel: discord.abc.GuildChannel) -> dict[str, Any]:
    """The parts of a cached channel that :func:`channel_info_of` reads, as Discord sends
    them."""
    data: dict[str, Any] = {
        "id": channel.id,
        "guild_id": channel.guild.id,
        "type": channel.type.value,
    }
    if isinstance(channel, discord.ForumChannel):
        data["available_tags"] = [{"id": t.id, "name": t.name} for t in channel.available_tags]
        data["flags"] = channel.flags.value
    return data


def channel_info_of(data: Mapping[str, Any]) -> ChannelInfo:
    """A channel object's kind and, for a forum, its tags and whether it requires one."""
    kind = {
        discord.ChannelType.text.value: ChannelKind.TEXT,
        discord.ChannelType.news.value: ChannelKind.ANNOUNCEMENT,
        discord.ChannelType.forum.value: ChannelKind.FORUM,
    }.get(int(data.get("type", -1)), ChannelKind.OTHER)
    if kind is not ChannelKind.FORUM:
        return ChannelInfo(kind)
    tags = {str(t["name"]).lower(): int(t["id"]) for t in data.get("available_tags") or []}
    require = bool(int(data.get("flags") or 0) & REQUIRE_TAG)
    return ChannelInfo(kind, tags=tags, require_tag=require)
