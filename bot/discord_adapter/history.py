"""Finding a part or a forum post that was sent just before a crash, by what it is.

Readers see no id of ours, so a part is recognised by its exact content and embeds
(:func:`bot.poster.same_message`) among the recent messages of its author: the bot, or the
bot's webhook when the digest is posted under an ``identity`` (webhooks take no nonce, so this
is the only guard there). A forum post is recognised by its name and its starter message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import discord

from bot.discord_adapter.failures import FAILURES, delivery_error, describe
from bot.poster import After, same_message

log = logging.getLogger(__name__)

# How far back a resumed digest looks for a part that was sent but not recorded (two pages).
HISTORY_LIMIT = 200
# Pages of a forum's archived posts read when looking for a post made before a crash.
ARCHIVED_PAGES = 2


def _by(message: discord.Message, client: discord.Client, webhook_id: int | None) -> bool:
    if webhook_id is not None:
        return message.webhook_id == webhook_id
    me = client.user
    return me is None or message.author.id == me.id


async def find_recent(
    client: discord.Client,
    channel_id: int,
    payload: Mapping[str, Any],
    after: After,
    *,
    webhook_id: int | None = None,
) -> int | None:
    """The id of the message after ``after`` in the channel (or thread) that is ``payload``
    as sent, posted by the bot or, with ``webhook_id``, by that webhook."""
    channel = client.get_partial_messageable(channel_id)
    since = discord.Object(id=after) if isinstance(after, int) else after
    try:
        async for message in channel.history(limit=HISTORY_LIMIT, after=since):
            if not _by(message, client, webhook_id):
                continue
            embeds = [embed.to_dict() for embed in message.embeds]
            shown = {"content": message.content, "embeds": embeds}
            if same_message(shown, payload):
                return message.id
    except discord.HTTPException as exc:
        # Without history access we cannot check; sending with the nonce is the best left.
        log.warning("cannot read history of channel %d: %s", channel_id, describe(exc))
    except FAILURES as exc:
        raise delivery_error(exc) from exc
    return None


async def find_post(
    client: discord.Client,
    guild_id: int,
    forum_id: int,
    name: str,
    payload: Mapping[str, Any],
    after: datetime,
    *,
    webhook_id: int | None = None,
) -> int | None:
    """A post named ``name`` in the forum, made after ``after`` (open or archived), whose
    starter message is ``payload``, made by the bot or, with ``webhook_id``, by that
    webhook."""
    http, me = client.http, client.user
    since = discord.utils.time_snowflake(after)
    try:
        active = await http.get_active_threads(guild_id)
        candidates = [t for t in active.get("threads", []) if int(t["parent_id"]) == forum_id]
        before: str | None = None
        for _ in range(ARCHIVED_PAGES):
            page = await http.get_public_archived_threads(forum_id, before=before)
            threads = page.get("threads", [])
            candidates += threads
            if not page.get("has_more") or not threads:
                break
            before = threads[-1]["thread_metadata"]["archive_timestamp"]
        for thread in candidates:
            thread_id = int(thread["id"])
            if thread.get("name") != name or thread_id <= since:
                continue
            owner = int(thread.get("owner_id") or 0)
            if webhook_id is None and me is not None and owner != me.id:
                continue
            starter = dict(await http.get_message(thread_id, thread_id))
            if webhook_id is not None and str(starter.get("webhook_id")) != str(webhook_id):
                continue  # the webhook's posts are told apart by their starter's author
            if same_message(starter, payload):
                return thread_id
    except discord.NotFound:
        return None
    except FAILURES as exc:
        raise delivery_error(exc) from exc
    return None
