"""Who a message pings, by Discord's rules: what its content mentions, narrowed by
``allowed_mentions`` and by what the author may mention.

- Without ``allowed_mentions`` every mention in the content pings (users, roles, @everyone).
- With it, ``parse`` names the kinds that ping (``users``, ``roles``, ``everyone``) and
  ``users`` / ``roles`` list ids that may ping; a kind both in ``parse`` and listed is a 50035
  error, as are more than 100 ids of a kind.
- A role pings only if it is mentionable or the author has Mention Everyone in the channel;
  @everyone and @here only with Mention Everyone. Mentions inside embeds never ping, and an
  escaped mention (``\\<@&1>``) is text.

The message object's ``mentions``, ``mention_roles`` and ``mention_everyone`` say who was
pinged, which is how tests check that a digest pinged exactly its role.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import FormErrors
from .permissions import Permission
from .state import Guild

MENTION = re.compile(r"(?<!\\)(?:<@(?P<kind>[!&]?)(?P<id>[0-9]{1,20})>|@(?P<all>everyone|here))")
KINDS = ("users", "roles", "everyone")
IDS_MAX = 100


def check_allowed_mentions(errors: FormErrors, allowed: Any) -> None:
    """Discord's validation of an ``allowed_mentions`` object (50035 on failure)."""
    if allowed is None:
        return
    if not isinstance(allowed, Mapping):
        errors.add(["allowed_mentions"], "MODEL_TYPE_CONVERT", "Only dictionaries may be used.")
        return
    parse = allowed.get("parse") or []
    for n, kind in enumerate(parse):
        if kind not in KINDS:
            errors.add(
                ["allowed_mentions", "parse", n], "ENUM_TYPE_COERCE", f"{kind!r} is not valid."
            )
    for kind in ("users", "roles"):
        listed = allowed.get(kind) or []
        if len(listed) > IDS_MAX:
            errors.max_length(["allowed_mentions", kind], IDS_MAX)
        if listed and kind in parse:
            errors.add(
                ["allowed_mentions"],
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
            )


def resolve_mentions(
    content: str, allowed: Mapping[str, Any] | None, guild: Guild, author_perms: int
) -> dict[str, Any]:
    """``mentions``, ``mention_roles`` and ``mention_everyone`` of a message with ``content``
    sent with ``allowed`` by an author holding ``author_perms`` in the channel."""
    parse = set(KINDS) if allowed is None else set(allowed.get("parse") or [])
    listed_users = {str(u) for u in (allowed or {}).get("users") or []}
    listed_roles = {str(r) for r in (allowed or {}).get("roles") or []}
    may_mention_all = bool(author_perms & Permission.MENTION_EVERYONE)
    users: list[Any] = []
    roles: list[str] = []
    everyone = False
    for match in MENTION.finditer(content or ""):
        if match["all"]:
            everyone = everyone or ("everyone" in parse and may_mention_all)
            continue
        ident = match["id"]
        if match["kind"] == "&":
            role = guild.roles.get(int(ident))
            allowed_here = "roles" in parse or ident in listed_roles
            pings = role is not None and (role.mentionable or may_mention_all)
            if pings and allowed_here and ident not in roles:
                roles.append(ident)
        else:
            member = guild.members.get(int(ident))
            allowed_here = "users" in parse or ident in listed_users
            if member is not None and allowed_here and all(u["id"] != ident for u in users):
                users.append(member.user.payload())
    return {"mentions": users, "mention_roles": roles, "mention_everyone": everyone}
