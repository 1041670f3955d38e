"""URL rules: which links newsbot ever posts (DESIGN §5: only http(s) URLs are linked)."""

from __future__ import annotations

import re
import unicodedata
from typing import Final
from urllib.parse import quote, urlsplit

MAX_URL: Final = 2_048

# RFC 3986 reserved and unreserved characters that are harmless inside <...>, (...) and [...]:
# parentheses, brackets, angle brackets, quotes, backticks, pipes, braces, backslashes, spaces
# and every non-ASCII character are percent-encoded.
_URL_SAFE: Final = "/:@!$&'*+,;=-._~%?"
_HOST: Final = re.compile(r"[a-z0-9._-]+|\[[0-9a-f:.]+\]")
_BAD_CATEGORIES: Final = frozenset(("Cc", "Cf", "Co", "Cs", "Cn"))


def _bad_char(ch: str) -> bool:
    # Cc control, Cf format (zero-width and bidi), Co private use, Cs surrogates, Cn unassigned.
    return ch.isspace() or ch == "\\" or unicodedata.category(ch) in _BAD_CATEGORIES


def safe_url(url: object) -> str | None:
    """``url`` if it is an absolute http(s) URL with a host, in a form safe to put inside
    ``<...>`` or a masked link; None otherwise.

    Refused: other schemes, no host, user info (``https://good.example@evil.example``), a bad
    port, whitespace, control, zero-width or bidi characters, backslashes, more than 2,048
    characters. The scheme and host are lower-cased (the host IDNA-encoded when it is not
    ASCII) and the rest is percent-encoded where needed, so ``(``, ``)``, ``<``, ``>``, ``[``,
    ``]`` and spaces never appear literally.
    """
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        return None
    plain_ascii = url.isascii() and url.isprintable() and " " not in url and "\\" not in url
    if not plain_ascii and any(_bad_char(ch) for ch in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or parts.username is not None or parts.password is not None:
        return None
    host = parts.hostname
    if not host:
        return None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    host = host.lower()
    if ":" in host:
        host = f"[{host}]"
    if not _HOST.fullmatch(host):
        return None
    netloc = host if port is None else f"{host}:{port}"
    out = f"{scheme}://{netloc}{quote(parts.path, safe=_URL_SAFE)}"
    if parts.query:
        out += "?" + quote(parts.query, safe=_URL_SAFE)
    if parts.fragment:
        out += "#" + quote(parts.fragment, safe=_URL_SAFE)
    return out if len(out) <= MAX_URL else None
