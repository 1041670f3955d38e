"""Discord's hard limits (DESIGN §6): the one place they are written.

Everything that renders, packs or posts imports its numbers from here. Only limits that code
checks are written down; the others of §6 are Discord's to enforce (rate limits are obeyed from
the response headers, through discord.py).

Lengths are counted with :func:`length`, which counts UTF-16 code units: never fewer than the
code points or characters Discord counts, so a payload measured within a limit here is within
it on Discord too, whichever way Discord counts a character outside the Basic Multilingual Plane.
"""

from __future__ import annotations

from typing import Final

# Messages
CONTENT_MAX: Final = 2_000
"""Characters in a message's ``content``."""
EMBEDS_PER_MESSAGE: Final = 10
EMBEDS_TOTAL_MAX: Final = 6_000
"""Characters of all embeds of one message together (title, description, field names and
values, footer text, author name)."""

# Embeds
EMBED_TITLE_MAX: Final = 256
EMBED_DESCRIPTION_MAX: Final = 4_096
EMBED_FIELDS_MAX: Final = 25
EMBED_FIELD_NAME_MAX: Final = 256
EMBED_FIELD_VALUE_MAX: Final = 1_024
EMBED_FOOTER_MAX: Final = 2_048
EMBED_AUTHOR_MAX: Final = 256

# Threads and forum posts
THREAD_NAME_MAX: Final = 100

# Message nonce (enforce_nonce deduplication)
NONCE_MAX: Final = 25


def length(text: str) -> int:
    """The length of ``text`` as measured against the limits above (UTF-16 code units)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2
