"""Every rule about URLs in one place: which URLs may be linked (DESIGN §5: only http(s)), how
an article's URL becomes its identity (DESIGN §3), and why a URL in a file is refused.

The parser and the renderer ask the same :func:`safe_url`, so an article the parser accepts is
one the renderer can link.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

MAX_URL: Final = 2_048

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

# RFC 3986 reserved and unreserved characters that are harmless inside <...>, (...) and [...]:
# parentheses, brackets, angle brackets, quotes, backticks, pipes, braces, backslashes, spaces
# and every non-ASCII character are percent-encoded.
_URL_SAFE: Final = "/:@!$&'*+,;=-._~%?"

# A lower-case http(s) URL with a plain host, optional port 1-9999 and only the characters of
# _URL_SAFE after it: already in the form safe_url produces, and no whitespace, control
# character, user info, bracket or bad port can hide in it.
_PLAIN_URL: Final = re.compile(
    r"https?://[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?(?::[1-9][0-9]{0,3})?"
    r"(?:[/?][A-Za-z0-9/:@!$&'*+,;=._~%?-]*)?(?:#[A-Za-z0-9/:@!$&'*+,;=._~%?-]*)?"
)
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
    if _PLAIN_URL.fullmatch(url):
        return url
    if any(_bad_char(ch) for ch in url):
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


# Already canonical: lower-case http(s) scheme and plain host, no port, a path, no query or
# fragment. Most articles' URLs are, and skip the round trip through urlsplit (a fifth of the
# time spent checking an article's fields).
_CANONICAL_URL: Final = re.compile(
    r"https?://[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?/[A-Za-z0-9/:@!$&'*+,;=._~%-]*"
)


# Query parameters that say how a reader arrived, not what they read: the same article shared
# from a newsletter and from a feed must be one item (DESIGN §3).
_TRACKING_EXACT: Final = frozenset(("fbclid", "gclid", "mc_cid", "mc_eid"))


def _is_tracking(pair: str) -> bool:
    name = pair.split("=", 1)[0].lower()
    return name.startswith("utm_") or name in _TRACKING_EXACT


def without_tracking(query: str) -> str:
    """``query`` without tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ``mc_cid``,
    ``mc_eid``); the other parameters keep their order and their encoding as written."""
    if not query:
        return query
    return "&".join(pair for pair in query.split("&") if pair and not _is_tracking(pair))


def canonical_url(url: str) -> str:
    """The identity of an article: lower-case scheme and host, no fragment, no default port,
    no tracking parameters."""
    if _CANONICAL_URL.fullmatch(url):
        return url
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = f"[{host}]" if ":" in host else host  # IPv6 literals keep their brackets
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, without_tracking(parts.query), ""))


def http_url_problem(value: str) -> str | None:
    """Why ``value`` is not a linkable http(s) URL, or None when it is; the reason is what a
    file's author needs to fix it."""
    if len(value) <= MAX_URL and _PLAIN_URL.fullmatch(value):
        return None  # safe_url passes such a URL as it is
    if not value.strip():
        return "is empty"
    if any(ch.isspace() for ch in value):
        return "contains whitespace"
    # Control characters, and format characters (zero-width, bidi) that can disguise a URL.
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        return "contains control or invisible characters"
    if len(value) > MAX_URL:
        return f"is too long ({len(value):,} characters; at most {MAX_URL:,})"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "is not an http(s) URL"
    if not parts.hostname:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        return "has user info before the host (user@host)"
    if safe_url(value) is None:  # what the renderer would refuse to link, refused here already
        return "is not a valid URL"
    return None


# Second-level labels under which a registrable name has three labels (example.co.uk).
_SECOND_LEVEL: Final = frozenset(("co", "com", "org", "net", "ac", "gov", "edu"))


def outlet_key(domain: str, url: str, name: str = "") -> str:
    """Who published an article, as the clustering's one-outlet rule compares them: the
    registrable part of its provider's domain, else of its link's host (``edition.cnn.com``
    and ``cnn.com`` are one outlet), else its provider's name, case-folded."""
    host = domain.strip().lower().rstrip(".") or (urlsplit(url).hostname or "")
    labels = [label for label in host.split(".") if label]
    if len(labels) >= 2:
        keep = 3 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL else 2
        return ".".join(labels[-keep:])
    return name.strip().casefold() or host
