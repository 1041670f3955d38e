"""``newsbot retract`` and ``newsbot edit`` (issue 15): they queue the edits of the messages
that carry the item (sent by the running bot or the next ``newsbot publish``), and ``newsbot
queue --json`` shows where each item was published and whether it was corrected or retracted.
The exact text of each refusal is pinned."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot import moderation
from bot.app import open_app
from bot.cli import main
from bot.config import Settings
from bot.ingest import ingest
from bot.store import Trigger
from tests.factory import write_corpus
from tests.reliability.harness import dump


def posted_queue(db: Path) -> list[int]:
    """Three approved items, the first two published in one message of channel 77."""

    async def make() -> list[int]:
        write_corpus(db.parent / "corpus", 3)
        async with open_app(Settings(database=db)) as app:
            report = await ingest(app.store, [db.parent / "corpus"])
            ids = sorted(report.new_ids)
            for item_id in ids:
                await moderation.approve(app.store, item_id, actor="test")
            digest, _ = await app.store.create_digest(
                77, "abc@x", Trigger.CLI, [({"content": "x"}, "n0", (ids[0], ids[1]))]
            )
            await app.store.record_sent(digest.id, 0, 5555, app.clock.now())
            return ids

    return asyncio.run(make())


def run(db: Path, *args: str) -> int:
    return main(["--db", str(db), *args])


def test_retract_and_edit_queue_edits_and_queue_json_shows_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "newsbot.db"
    ids = posted_queue(db)
    assert run(db, "retract", str(ids[0]), "--reason", "  The outlet   withdrew it ") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"retracted {ids[0]}: ")
    assert out.endswith(
        "; 1 posted message queued for editing (sent by the running bot, or by the next"
        " `newsbot publish`)\n"
    )
    assert run(db, "show", str(ids[0])) == 0
    shown = [line for line in capsys.readouterr().out.splitlines() if line.startswith("retracted:")]
    assert len(shown) == 1 and shown[0].endswith(" UTC: The outlet withdrew it")
    assert run(db, "edit", f"#{ids[2]}", "--title", "A better title") == 0
    assert capsys.readouterr().out == (
        f"edited {ids[2]}: A better title; not posted anywhere: nothing to edit\n"
    )
    assert run(db, "queue", "--json") == 0
    listed = {item["id"]: item for item in json.loads(capsys.readouterr().out)}
    first, second, third = (listed[i] for i in ids)
    assert first["retracted"] and first["retraction_reason"] == "The outlet withdrew it"
    assert first["retracted_at"] is not None and not first["corrected"]
    [delivery] = first["deliveries"]
    assert (delivery["channel"], delivery["message"]) == (77, 5555)
    assert second["deliveries"] and not second["retracted"]
    assert third["deliveries"] == [] and third["title"] == "A better title"
    assert not third["corrected"]  # never posted: nothing was corrected
    assert run(db, "edit", str(ids[1]), "--excerpt", "A new excerpt.") == 0
    capsys.readouterr()
    assert run(db, "queue", "--json") == 0
    listed = {item["id"]: item for item in json.loads(capsys.readouterr().out)}
    assert listed[ids[1]]["corrected"] and listed[ids[1]]["corrected_at"] is not None


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (["retract", "1"], 2, "newsbot retract: error: the following arguments are required:"),
        (
            ["retract", "1", "--reason", "  "],
            1,
            "newsbot: error: a retraction needs a reason (readers see it where the item was"
            " posted)",
        ),
        (["retract", "99", "--reason", "x"], 1, "newsbot: error: item 99 not found"),
        (["edit", "1"], 1, "newsbot: error: give a new title, a new excerpt, or both"),
        (["edit", "1", "--title", " "], 1, "newsbot: error: the title cannot be empty"),
        (
            ["edit", "1", "--title", "x" * 1001],
            1,
            "newsbot: error: title is too long (1,001 characters; at most 1,000)",
        ),
        (["edit", "99", "--title", "x"], 1, "newsbot: error: item 99 not found"),
    ],
)
def test_bad_retractions_and_edits_are_one_line_and_change_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, error: str
) -> None:
    db = tmp_path / "newsbot.db"
    posted_queue(db)
    before = dump(db)
    if code == 2:
        with pytest.raises(SystemExit) as exited:
            run(db, *args)
        assert exited.value.code == 2
    else:
        assert run(db, *args) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith(error), err
    assert len(err.splitlines()) == 1
    assert dump(db) == before


def test_retracting_twice_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "newsbot.db"
    ids = posted_queue(db)
    assert run(db, "retract", str(ids[0]), "--reason", "gone") == 0
    assert run(db, "retract", str(ids[0]), "--reason", "again") == 1
    assert capsys.readouterr().err.strip() == (
        f"newsbot: error: item {ids[0]} is retracted; it cannot become retracted"
    )
