"""Forum channels (type 15) in the double: posts, their tags, and the thread lists.

Discord's rules, as the double applies them:

- ``POST /channels/{forum}/threads`` makes a post: a thread (type 11) whose starter message is
  ``message`` (content, embeds, allowed_mentions, components); the thread's id is the starter
  message's. There is no nonce: the same request twice makes two posts. ``name`` is 1 to 100
  characters; ``applied_tags`` at most 5, each one of the forum's ``available_tags`` (50035);
  a forum with the REQUIRE_TAG flag refuses a post without a tag (40067). Needs Send Messages.
- Messages are sent into a post like into any thread (Send Messages in Threads); sending to an
  archived post reopens it, as Discord does for a member who may send there.
- ``GET /guilds/{guild}/threads/active`` lists the guild's open threads;
  ``GET /channels/{forum}/threads/archived/public`` the forum's archived ones, newest archived
  first, ``limit`` (2 to 100, default 50) at a time before ``before`` (an ISO time), with
  ``has_more``; the latter needs Read Message History.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from .clock import iso_timestamp
from .errors import ApiError, FormErrors, missing_permissions, wrong_channel_type
from .permissions import Permission
from .state import THREAD_TYPES, Channel, ChannelType, Guild

JsonObject = dict[str, Any]

REQUIRE_TAG = 1 << 4
"""The forum channel flag that makes a tag required on every post."""
APPLIED_TAGS_MAX = 5


def tag_required() -> ApiError:
    return ApiError(400, 40067, "A tag is required to create a forum post in this channel")


def check_post(forum: Channel, body: Mapping[str, Any]) -> list[int]:
    """The applied tags of a valid post body for ``forum`` (else the error Discord gives)."""
    errors = FormErrors()
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.required(["name"])
    elif len(name) > 100:
        errors.bad_length(["name"], 1, 100)
    if not isinstance(body.get("message"), Mapping):
        errors.required(["message"])
    raw = body.get("applied_tags") or []
    tags = [int(t) for t in raw]
    known = {int(t["id"]) for t in forum.available_tags}
    if len(tags) > APPLIED_TAGS_MAX:
        errors.max_length(["applied_tags"], APPLIED_TAGS_MAX)
    for n, tag in enumerate(tags):
        if tag not in known:
            errors.add(["applied_tags", n], "TAG_INVALID", f"Unknown tag {tag}.")
    errors.raise_if_any()
    if forum.flags & REQUIRE_TAG and not tags:
        raise tag_required()
    return tags


def new_post(
    guild: Guild, forum: Channel, body: Mapping[str, Any], perms: int, owner_id: int
) -> Callable[[int], Channel]:
    """Check a post for ``forum`` and return what makes its thread once the starter message
    has its id (the thread's id is the message's)."""
    if forum.type != ChannelType.GUILD_FORUM:
        raise wrong_channel_type()
    if not perms & Permission.SEND_MESSAGES:
        raise missing_permissions()
    tags = check_post(forum, body)

    def make(message_id: int) -> Channel:
        thread = Channel(
            id=message_id,
            name=str(body["name"]),
            guild_id=guild.id,
            type=ChannelType.PUBLIC_THREAD,
            parent_id=forum.id,
            owner_id=owner_id,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
            applied_tags=tags,
        )
        guild.channels[thread.id] = thread
        return thread

    return make


def archive(thread: Channel, when: dt.datetime | None = None) -> None:
    """Archive a thread (a test's stand-in for Discord archiving an idle post)."""
    thread.archived = True
    thread.archived_at = iso_timestamp(when)


def active_threads(guild: Guild) -> JsonObject:
    threads = [
        c.payload() for c in guild.channels.values() if c.type in THREAD_TYPES and not c.archived
    ]
    return {"threads": threads, "members": []}


def archived_threads(guild: Guild, forum: Channel, *, before: str | None, limit: int) -> JsonObject:
    archived = sorted(
        (
            c
            for c in guild.channels.values()
            if c.parent_id == forum.id and c.type in THREAD_TYPES and c.archived
        ),
        key=lambda c: c.archived_at or "",
        reverse=True,
    )
    if before is not None:
        cutoff = dt.datetime.fromisoformat(before)
        archived = [
            c for c in archived if dt.datetime.fromisoformat(c.archived_at or before) < cutoff
        ]
    page = archived[:limit]
    return {
        "threads": [c.payload() for c in page],
        "members": [],
        "has_more": len(archived) > limit,
    }
