"""Which addresses a feed may be fetched from.

A feed URL comes from a moderator or the config file, and the server behind it can redirect
anywhere. Without a check, ``/feed add http://169.254.169.254/...`` or a redirect to
``http://10.0.0.1/admin`` would make newsbot read the cloud's metadata service or the LAN for
whoever can add a feed. So every address is checked, at connection time, for the first request
and for every redirect: the host's resolved addresses go through :class:`CheckedResolver`
(the one that is connected to is the one checked, so DNS rebinding cannot slip between a
check and the connection), and IP literals, which aiohttp does not resolve, through
:func:`literal_problem`. ``allow_private_feeds: true`` turns the check off.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

AddressCheck = Callable[[str], "str | None"]
"""An IP address (text) -> why it is refused, or None."""


def address_problem(ip: str) -> str | None:
    """Why newsbot refuses to fetch from ``ip``, or None for a public address."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return f"{ip} is not an IP address"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if address.is_loopback:
        kind = "a loopback"
    elif address.is_link_local:
        kind = "a link-local"
    elif address.is_private:
        kind = "a private"
    elif address.is_multicast or address.is_unspecified or address.is_reserved:
        kind = "a reserved"
    elif not address.is_global:
        kind = "a non-public"  # shared address space (100.64.0.0/10) and the like
    else:
        return None
    return f"{ip} is {kind} address (set allow_private_feeds: true to allow it)"


def literal_problem(host: str, check: AddressCheck) -> str | None:
    """For a URL whose host is an IP literal: the check's verdict; None for a name (names are
    checked when they are resolved)."""
    bare = host.strip("[]")
    try:
        ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        return None
    return check(bare)


class RefusedAddress(OSError):
    """Every address a host resolved to was refused; the message says which and why."""


class CheckedResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses ``check`` allows."""

    def __init__(self, check: AddressCheck, inner: AbstractResolver | None = None) -> None:
        self._check = check
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if self._check(r["host"]) is None]
        if not allowed:
            problems = {self._check(r["host"]) for r in results}
            detail = "; ".join(sorted(p for p in problems if p))
            raise RefusedAddress(f"{host} resolves only to refused addresses: {detail}")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def no_check(_ip: str) -> str | None:
    """``allow_private_feeds: true``: every address is allowed."""
    return None


def check_for(allow_private: bool) -> AddressCheck:
    return no_check if allow_private else address_problem


__all__ = [
    "AddressCheck",
    "CheckedResolver",
    "RefusedAddress",
    "address_problem",
    "check_for",
    "literal_problem",
]
