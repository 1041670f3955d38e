"""Posting a digest under its ``identity`` (a name and an avatar): through a webhook the bot
owns in the channel.

The webhook is the bot's own, named ``newsbot``: found among the channel's webhooks the first
time a process posts there (which needs Manage Webhooks, checked at start-up) and made when
there is none. Its token therefore comes from Discord on each start and is never stored or
logged. One webhook per channel serves any identity, since the name and avatar are set on
each message; renaming the identity in the config leaves no webhook behind.

Webhooks take no nonce: a part that may have been sent before a crash is looked for among
that webhook's recent messages (:mod:`bot.discord_adapter.history`) before it is sent again.
Crossposts and threads stay the bot's; corrections edit through the webhook's own route.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import discord

from bot.config import Identity
from bot.discord_adapter import history
from bot.discord_adapter.failures import FAILURES, delivery_error, describe
from bot.discord_adapter.notify import notify_view
from bot.discord_adapter.payloads import NO_MENTIONS, message_kwargs
from bot.errors import DeliveryError
from bot.poster import After, ChannelInfo, Poster

log = logging.getLogger(__name__)

WEBHOOK_NAME = "newsbot"
INCOMING = 1
"""Webhook type 1: incoming, executed with its token."""
MANAGE_WEBHOOKS_FIX = (
    "give the bot Manage Webhooks there (digests with an identity post through its webhook)"
)


async def own_webhook(client: discord.Client, channel_id: int) -> discord.Webhook:
    """The bot's webhook in the channel, made if it has none yet."""
    http, me = client.http, client.user
    try:
        listed: list[dict[str, Any]] = [dict(w) for w in await http.channel_webhooks(channel_id)]
        found = [data for data in listed if _ours(data, me)]
        if found:
            data = found[0]
        else:
            data = dict(
                await http.create_webhook(
                    channel_id, name=WEBHOOK_NAME, reason="newsbot: posts digests under an identity"
                )
            )
            log.info("made webhook %s in channel %d", data["id"], channel_id)
    except discord.Forbidden as exc:
        raise DeliveryError(
            f"cannot use webhooks in channel {channel_id}: {describe(exc)}",
            permanent=True,
            status=exc.status,
            code=exc.code,
            fix=MANAGE_WEBHOOKS_FIX,
        ) from exc
    except FAILURES as exc:
        raise delivery_error(exc) from exc
    return discord.Webhook.partial(int(data["id"]), str(data["token"]), client=client)


def _ours(data: Mapping[str, Any], me: discord.ClientUser | None) -> bool:
    user = data.get("user")
    owner = int(user.get("id") or 0) if isinstance(user, Mapping) else 0
    return (
        data.get("type") == INCOMING
        and data.get("name") == WEBHOOK_NAME
        and bool(data.get("token"))
        and me is not None
        and owner == me.id
    )


def _tag(tag_id: int) -> discord.ForumTag:
    """A forum tag by id (discord.py sends only the ids of ``applied_tags``)."""
    tag = discord.ForumTag(name=str(tag_id))
    tag.id = tag_id
    return tag


class WebhookPoster:
    """A :class:`~bot.poster.Poster` that posts in one channel, and its threads and forum
    posts, as ``identity`` through the bot's webhook ``webhook``; everything else is
    ``base``'s (the bot's own poster)."""

    def __init__(
        self,
        base: Poster,
        client: discord.Client,
        webhook: discord.Webhook,
        channel_id: int,
        guild_id: int,
        identity: Identity,
    ) -> None:
        self.base = base
        self.client = client
        self.webhook = webhook
        self.channel_id = channel_id
        self.guild_id = guild_id
        self.identity = identity

    def _kwargs(self, payload: dict[str, Any]) -> dict[str, Any]:
        kwargs = message_kwargs(payload, pings=True)
        kwargs["username"] = self.identity.name
        if self.identity.avatar_url is not None:
            kwargs["avatar_url"] = self.identity.avatar_url
        view = notify_view(payload)
        if view is not None:
            kwargs["view"] = view
        return kwargs

    async def send(self, channel_id: int, payload: dict[str, Any], nonce: str) -> int:
        """``nonce`` is not sent: Discord takes none from a webhook."""
        kwargs = self._kwargs(payload)
        if channel_id != self.channel_id:
            kwargs["thread"] = discord.Object(id=channel_id)  # a forum post of the channel
        try:
            message = await self.webhook.send(wait=True, **kwargs)
        except FAILURES as exc:
            raise delivery_error(exc) from exc
        return message.id

    async def edit(self, channel_id: int, message_id: int, payload: dict[str, Any]) -> None:
        """Through the webhook's own route (a bot cannot edit a webhook's message). A message
        the webhook did not post (sent by the bot before the identity was configured) is
        edited by the bot instead."""
        kwargs: dict[str, Any] = {
            "content": payload.get("content") or "",
            "embeds": [discord.Embed.from_dict(e) for e in payload.get("embeds") or []],
            "allowed_mentions": NO_MENTIONS,
        }
        view = notify_view(payload)
        if view is not None:
            kwargs["view"] = view
        if channel_id != self.channel_id:
            kwargs["thread"] = discord.Object(id=channel_id)
        try:
            await self.webhook.edit_message(message_id, **kwargs)
        except discord.NotFound:
            await self.base.edit(channel_id, message_id, payload)
        except FAILURES as exc:
            raise delivery_error(exc) from exc

    async def find_recent(
        self, channel_id: int, payload: Mapping[str, Any], after: After
    ) -> int | None:
        return await history.find_recent(
            self.client, channel_id, payload, after, webhook_id=self.webhook.id
        )

    async def create_post(
        self, forum_id: int, name: str, payload: dict[str, Any], tags: Sequence[int]
    ) -> int:
        kwargs = self._kwargs(payload)
        try:
            message = await self.webhook.send(
                wait=True, thread_name=name, applied_tags=[_tag(t) for t in tags], **kwargs
            )
        except FAILURES as exc:
            raise delivery_error(exc) from exc
        return message.channel.id  # the post's id; its starter message shares it

    async def find_post(
        self, forum_id: int, name: str, payload: Mapping[str, Any], after: datetime
    ) -> int | None:
        return await history.find_post(
            self.client,
            self.guild_id,
            forum_id,
            name,
            payload,
            after,
            webhook_id=self.webhook.id,
        )

    async def channel_info(self, channel_id: int) -> ChannelInfo:
        return await self.base.channel_info(channel_id)

    async def crosspost(self, channel_id: int, message_id: int) -> None:
        await self.base.crosspost(channel_id, message_id)

    async def start_thread(self, channel_id: int, message_id: int, name: str) -> int:
        return await self.base.start_thread(channel_id, message_id, name)

    async def with_identity(self, channel_id: int, identity: Identity) -> Poster:
        return await self.base.with_identity(channel_id, identity)
