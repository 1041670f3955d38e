"""The double's gateway shards as Discord's does: IDENTIFY's ``shard``, each shard's guilds,
events to the shard that owns their guild, 4010 and 4011, and GET /gateway/bot. Through
discord.py's own AutoShardedClient, and raw websockets for the refusals."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
import pytest

from tests.discord_double import (
    DiscordDouble,
    DoubleFactory,
    GuildBuilder,
    SnowflakeGenerator,
    User,
    on_shard,
    shard_of,
)
from tests.test_discord_double import pointed_at

READY = 10.0


def guild_on(shard: int, name: str) -> Any:
    def build(bot: User, ids: SnowflakeGenerator) -> Any:
        b = GuildBuilder(name, ids=ids, id=on_shard(ids(), shard, 2))
        b.member("owner", owner=True)
        b.add_user(bot, key="bot")
        b.text_channel("news")
        return b.build()

    return build


@pytest.fixture
async def double(discord_double_factory: DoubleFactory) -> DiscordDouble:
    return await discord_double_factory(
        guild=guild_on(0, "Zero"), extra_guilds=[guild_on(1, "One")]
    )


class Sharded(discord.AutoShardedClient):
    def __init__(self, **options: Any) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05, **options)
        self.ready_event = asyncio.Event()
        self.updates: list[int] = []

    async def on_ready(self) -> None:
        self.ready_event.set()

    async def on_guild_channel_update(self, before: Any, after: Any) -> None:
        self.updates.append(after.guild.id)


@asynccontextmanager
async def connected(double: DiscordDouble, **options: Any) -> AsyncIterator[Sharded]:
    client = Sharded(**options)
    with pointed_at(double):
        task = asyncio.create_task(client.start(double.token))
        try:
            await asyncio.wait_for(client.ready_event.wait(), READY)
            yield client
        finally:
            await client.close()
            await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), READY)


def guild_ids(double: DiscordDouble) -> dict[str, int]:
    return {g.name: g.id for g in double.guilds.values()}


async def test_each_shard_gets_its_own_guilds(double: DiscordDouble) -> None:
    ids = guild_ids(double)
    assert shard_of(ids["Zero"], 2) == 0 and shard_of(ids["One"], 2) == 1
    async with connected(double, shard_count=2) as client:
        assert {g.name: g.shard_id for g in client.guilds} == {"Zero": 0, "One": 1}
    shards = [e.detail["shard"] for e in double.gateway.log if e.kind == "ready"]
    assert sorted(shards) == [[0, 2], [1, 2]]


async def test_a_process_holding_one_shard_sees_only_its_guilds(double: DiscordDouble) -> None:
    async with connected(double, shard_ids=[1], shard_count=2) as client:
        assert [g.name for g in client.guilds] == ["One"]


async def test_events_go_to_the_shard_of_their_guild(double: DiscordDouble) -> None:
    async with (
        connected(double, shard_ids=[0], shard_count=2) as zero,
        connected(double, shard_ids=[1], shard_count=2) as one,
    ):
        channel = double.channel("news", guild=guild_ids(double)["One"])
        got = asyncio.ensure_future(one.wait_for("guild_channel_update", timeout=READY))
        await double.dispatch("CHANNEL_UPDATE", {**channel.payload(), "name": "world"})
        await got
        assert one.updates == [guild_ids(double)["One"]] and zero.updates == []
    sent = [e.detail["shard"] for e in double.gateway.log if e.kind == "dispatch"]
    assert sent.count(1) >= 1 and all(
        e.detail["shard"] == 1
        for e in double.gateway.log
        if e.kind == "dispatch" and e.detail["event"] == "CHANNEL_UPDATE"
    )


async def identify_raw(double: DiscordDouble, **fields: Any) -> int | None:
    """IDENTIFY over a raw websocket; the close code the double answers with."""
    url = f"{double.gateway_url}?v=10&encoding=json"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        hello = await ws.receive_json(timeout=READY)
        assert hello["op"] == 10
        identify = {"token": double.token, "intents": 1, "properties": {}, **fields}
        await ws.send_str(json.dumps({"op": 2, "d": identify}))
        while True:
            message = await ws.receive(timeout=READY)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return ws.close_code
            data = json.loads(message.data)
            if data.get("t") == "READY":
                return None


@pytest.mark.parametrize("shard", [[2, 2], [-1, 2], [0, 0], [0], ["0", 2], [True, 2]])
async def test_an_invalid_shard_is_closed_with_4010(double: DiscordDouble, shard: Any) -> None:
    assert await identify_raw(double, shard=shard) == 4010


async def test_too_many_guilds_for_one_connection_is_closed_with_4011(
    double: DiscordDouble,
) -> None:
    double.gateway.max_guilds_per_shard = 1
    assert await identify_raw(double) == 4011
    assert await identify_raw(double, shard=[0, 2]) is None  # sharded, it is welcome


async def test_gateway_bot_recommends_the_shard_count(double: DiscordDouble) -> None:
    double.recommended_shards = 3
    double.max_concurrency = 16
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bot {double.token}"}
        async with session.get(f"{double.api_base}/gateway/bot", headers=headers) as answer:
            body = await answer.json()
    assert body["shards"] == 3 and body["session_start_limit"]["max_concurrency"] == 16
