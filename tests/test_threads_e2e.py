"""Discussion threads end to end (``thread: true``, issue 14): ``newsbot publish`` as a real
process against the double starts one thread on the digest's first message, named like the
digest; killed after Discord made the thread but before it was recorded, the restarted
publish finds it (a message has one thread, 160004) instead of making a second.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import open_app
from bot.config import DigestChannel
from bot.discord_adapter.runner import run_bot
from bot.errors import StartupError
from tests.discord_double import DoubleFactory, Permission
from tests.discord_double.state import ChannelType
from tests.reliability import harness
from tests.test_publish_e2e import (
    ROOMY,
    THREE_PARTS,
    Launcher,
    approve_corpus,
    finish,
    kill,
    settings_for,
    start_publish,
    write_config,
)

__all__ = ["start_publish"]  # the fixture, used by name

THREADS = "POST /channels/*/messages/*/threads"


async def test_a_digest_gets_one_thread_even_when_killed_before_recording_it(
    discord_double_factory: DoubleFactory, tmp_path: Path, start_publish: Launcher
) -> None:
    double = await discord_double_factory(rate_limits=ROOMY)
    channel = double.channel("digest-general").id
    digest = DigestChannel(
        channel=channel, max_items=10, thread=True, title="Morning news", **THREE_PARTS
    )
    settings = settings_for(double, tmp_path, digest)
    config = write_config(settings, tmp_path / "newsbot.yaml")
    await approve_corpus(settings, tmp_path / "corpus", 10)
    hold = double.hold(THREADS, after_handling=True)
    process = await start_publish(double, settings, config, channel)
    await hold.wait(timeout=30)
    await kill(process)
    hold.drop()
    async with open_app(settings) as app:
        [unfinished] = await app.store.unfinished_digests()
        assert unfinished.thread_id is None
        assert all(m.message_id is not None for m in unfinished.messages)

    process = await start_publish(double, settings, config, channel)
    code, _, err = await finish(process)
    assert code == 0, err
    posted = double.messages(channel)
    threads = [c for c in double.guild.channels.values() if c.type == ChannelType.PUBLIC_THREAD]
    assert len(threads) == 1
    [thread] = threads
    assert thread.id == int(posted[0]["id"]) and thread.parent_id == channel
    assert thread.name.startswith("Morning news · ")
    assert len(double.requests_to(THREADS)) == 2  # the second was answered 160004
    assert posted[0]["thread"]["id"] == str(thread.id)
    assert len(posted) == len(unfinished.messages)  # no part posted again
    async with open_app(settings) as app:
        assert await app.store.unfinished_digests() == []


async def test_start_up_needs_create_public_threads_for_a_thread_digest(
    discord_double_factory: DoubleFactory, tmp_path: Path, restore_endpoints: None
) -> None:
    double = await discord_double_factory()
    channel = double.channel("digest-general")
    double.guild.everyone.permissions &= ~int(Permission.CREATE_PUBLIC_THREADS)
    settings = harness.settings_for(
        double, tmp_path / "newsbot.db", digests=(DigestChannel(channel=channel.id, thread=True),)
    )
    with pytest.raises(StartupError) as raised:
        await run_bot(settings)
    assert str(raised.value) == (
        f"test.yaml: digests[1].thread: the bot cannot start threads in #digest-general"
        f" ({channel.id}); give it Create Public Threads there"
    )
