"""Secrets (issue 7, part 7): with ``DISCORD_TOKEN`` set to a recognisable value, the token
never appears in logs (everything at DEBUG, discord.py's included), error output, ``repr``s or
``--json`` output: while the bot runs against the double, while ``newsbot publish`` fails with
a wrong token or succeeds with the right one, and in every CLI output in between."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import pprint
import traceback
from pathlib import Path
from typing import Any

import pytest

from bot import moderation
from bot.app import open_app
from bot.config import Secret, Settings, load_settings
from bot.errors import ConfigError
from tests.discord_double import DiscordDouble, DoubleFactory
from tests.reliability.harness import (
    newsbot,
    newsbot_async,
    running_bot,
    seed_db,
    seed_files,
    settings_for,
)

TOKEN = "MTE5NzQ2MjM0NTY3ODkwMTIz.RECOGN.s3cr3t-t0k3n-never-log-me-8f2d1c"
PIECES = (TOKEN, "s3cr3t-t0k3n", "MTE5NzQ2MjM0NTY3ODkwMTIz")


def leaks(text: str) -> list[str]:
    return [piece for piece in PIECES if piece in text]


def test_the_token_is_hidden_in_every_repr_and_format_of_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./newsbot.yaml
    settings = load_settings(environ={"DISCORD_TOKEN": f"  {TOKEN}\n"})
    assert settings.token.reveal() == TOKEN
    token = settings.token
    caplog.set_level(logging.DEBUG)
    logging.getLogger("tests").debug("settings %s %r token %s %r", settings, settings, token, token)
    try:
        raise ConfigError(f"problem with {settings!r} and {token}")
    except ConfigError as exc:
        formatted = "".join(traceback.format_exception(exc))
    shown = [
        repr(settings),
        str(settings),
        f"{settings}",
        repr(token),
        str(token),
        f"{token}",
        f"{token!r}",
        "%s %r" % (token, token),  # noqa: UP031 - the old style must hide it too
        format(token, ""),
        repr(dataclasses.asdict(settings)),
        json.dumps(dataclasses.asdict(settings), default=str),
        pprint.pformat(settings),
        repr(copy.deepcopy(settings)),
        repr(dataclasses.replace(settings, guild=1)),
        repr([settings, {"token": token}]),
        formatted,
        caplog.text,
    ]
    assert [text for text in shown if leaks(text)] == []
    assert token == Secret(TOKEN) and hash(token) == hash(Secret(TOKEN))


def _no_token_in_records(records: list[logging.LogRecord]) -> list[str]:
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    found = []
    for record in records:
        text = formatter.format(record)
        if leaks(text) or leaks(repr(record.args)):
            found.append(text[:300])
    return found


async def test_the_token_never_reaches_the_logs_while_the_bot_runs(
    discord_double_factory: DoubleFactory,
    tmp_path: Path,
    restore_endpoints: None,
    caplog: pytest.LogCaptureFixture,
    figures: dict[str, Any],
) -> None:
    double = await discord_double_factory(token=TOKEN)
    db = tmp_path / "newsbot.db"
    ids = await seed_db(db, seed_files(3))
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="discord")
    settings = settings_for(double, db)
    async with running_bot(settings, double):
        reviews = await double.wait_for_messages("review", 3, timeout=10)
        # A button, commands that succeed and fail, a publish through a 500 and a 429, and a
        # gateway resume (the RESUME payload carries the token).
        # Posted highest quality first: click the first post's own item.
        shown = int(reviews[0]["components"][0]["components"][0]["custom_id"].split(":")[3])
        ids = [shown, *(i for i in ids if i != shown)]
        click = await double.click_button(reviews[0], f"newsbot:review:approve:{shown}")
        await click.response()
        for user, command, options in [
            ("moderator", "news approve", {"item": ids[1]}),
            ("member", "news approve", {"item": ids[2]}),
            ("moderator", "news show", {"item": 99_999}),
            ("moderator", "news queue", {}),
        ]:
            await (await double.send_slash_command(command, options, user=user)).response()
        double.fail_next(1, 500, "POST /channels/{channel_id}/messages")
        double.fail_next(1, 429, "POST /channels/{channel_id}/messages")
        publish = await double.send_slash_command("digest publish", {}, user="moderator")
        await publish.response()
        await publish.wait_for_followups(1, timeout=30)
        await double.close_gateway(4000)
        await double.wait_for_resume(timeout=15)
        await (await double.send_slash_command("news queue", {}, user="moderator")).response()
    assert double.messages("digest-general")
    assert any(r.name.startswith("discord.") for r in caplog.records)
    assert _no_token_in_records(caplog.records) == []
    figures["secrets: log records checked (bot run, DEBUG)"] = len(caplog.records)


def _config(tmp_path: Path, double: DiscordDouble) -> Path:
    config = tmp_path / "newsbot.yaml"
    config.write_text(
        "database: newsbot.db\n"
        f"guild: {double.guild.id}\n"
        "moderator_roles: [Moderator]\n"
        f"digests:\n  - channel: {double.channel('digest-general').id}\n"
    )
    return config


def _env(double: DiscordDouble, token: str = TOKEN) -> dict[str, str]:
    return {**double.env(), "DISCORD_TOKEN": token}


async def test_the_token_never_appears_in_cli_output_with_a_wrong_or_right_token(
    discord_double_factory: DoubleFactory, tmp_path: Path, figures: dict[str, Any]
) -> None:
    wrong = await discord_double_factory(token="the-token-discord-expects")
    config = _config(tmp_path, wrong)
    outputs = []
    for command in (["publish"], ["run"], ["sync-commands"]):
        run = await newsbot_async(
            *command, "-vv", "--config", str(config), cwd=tmp_path, env=_env(wrong)
        )
        assert run.returncode == 1
        assert (
            "newsbot: error: Discord refused the token in DISCORD_TOKEN "
            "(reset it in the Developer Portal)"
        ) in run.err_lines, run.stderr[-2_000:]
        outputs.append(run.stdout + run.stderr)
    right = await discord_double_factory(token=TOKEN)
    config = _config(tmp_path, right)
    ids = await seed_db(tmp_path / "newsbot.db", seed_files(2))
    async with open_app(Settings(database=tmp_path / "newsbot.db")) as app:
        await moderation.approve(app.store, ids[0], actor="test")
    published = await newsbot_async(
        "publish", "-vv", "--config", str(config), cwd=tmp_path, env=_env(right)
    )
    assert published.returncode == 0, published.stderr[-2_000:]
    assert right.messages("digest-general")
    outputs.append(published.stdout + published.stderr)
    # Discord unreachable, and the commands that print JSON or settings-derived text.
    unreachable = {
        **_env(right),
        "NEWSBOT_DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",
        "NEWSBOT_DISCORD_GATEWAY": "ws://127.0.0.1:9/gateway",
    }
    for args, env in [
        (["publish", "-vv"], unreachable),
        (["queue", "--json", "-vv"], _env(right)),
        (["preview", "--json", "-vv"], _env(right)),
        (["schedules", "-vv"], _env(right)),
        (["check-templates", "-vv", "--seeds", str(seed_files(1)[0])], _env(right)),
    ]:
        run = await newsbot_async(*args, "--config", str(config), cwd=tmp_path, env=env)
        outputs.append(run.stdout + run.stderr)
    bad = tmp_path / "bad.yaml"
    bad.write_text("digests: [{channel: nope}]\n")
    outputs.append(newsbot("queue", "--config", str(bad), cwd=tmp_path, env=_env(right)).stderr)
    assert [text[:300] for text in outputs if leaks(text)] == []
    figures["secrets: CLI runs checked"] = len(outputs)
