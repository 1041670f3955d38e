"""The address check itself: private, link-local and other non-public ranges are refused
here, by checking addresses and by resolving through a resolver that answers them, never by
connecting to them."""

from __future__ import annotations

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.feeds.address import (
    CheckedResolver,
    RefusedAddress,
    address_problem,
    check_for,
    literal_problem,
)

HINT = " (set allow_private_feeds: true to allow it)"


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.10", "private"),
        ("fd12:3456::1", "private"),
        ("::ffff:192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("0.0.0.0", "private"),
        ("224.0.0.1", "reserved"),
        ("240.0.0.1", "private"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
    ],
)
def test_non_public_addresses_are_refused(ip: str, kind: str) -> None:
    assert address_problem(ip) == f"{ip} is a {kind} address{HINT}"


@pytest.mark.parametrize("ip", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(ip: str) -> None:
    assert address_problem(ip) is None


def test_allow_private_feeds_turns_the_check_off() -> None:
    assert check_for(True)("10.0.0.1") is None
    assert check_for(False)("10.0.0.1") == f"10.0.0.1 is a private address{HINT}"


def test_ip_literals_are_checked_and_names_left_to_the_resolver() -> None:
    assert literal_problem("[::1]", address_problem) == f"::1 is a loopback address{HINT}"
    assert literal_problem("192.168.0.1", address_problem) is not None
    assert literal_problem("feeds.example", address_problem) is None


class _Answers(AbstractResolver):
    """A resolver that answers from a table: what DNS would say, without asking it."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=ip, port=port, family=family, proto=0, flags=0)
            for ip in self.table[host]
        ]

    async def close(self) -> None:
        return None


async def test_the_resolver_keeps_only_public_addresses() -> None:
    resolver = CheckedResolver(
        address_problem,
        _Answers(
            {
                "mixed.example": ["10.0.0.5", "93.184.215.14"],
                "metadata.example": ["169.254.169.254"],
                "rebind.example": ["127.0.0.1", "192.168.0.1"],
            }
        ),
    )
    kept = await resolver.resolve("mixed.example", 443)
    assert [r["host"] for r in kept] == ["93.184.215.14"]
    with pytest.raises(RefusedAddress) as caught:
        await resolver.resolve("metadata.example", 80)
    assert str(caught.value) == (
        "metadata.example resolves only to refused addresses:"
        f" 169.254.169.254 is a link-local address{HINT}"
    )
    with pytest.raises(RefusedAddress) as both:
        await resolver.resolve("rebind.example", 80)
    assert "127.0.0.1 is a loopback address" in str(both.value)
    assert "192.168.0.1 is a private address" in str(both.value)
