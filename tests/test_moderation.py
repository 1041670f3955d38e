"""Moderation decisions that no single store call makes: the auto-approve policy, applied by
``newsbot ingest`` from the config file and recorded in the audit log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot import moderation
from bot.app import open_app
from bot.cli import main
from bot.config import Settings
from bot.store import AuditEntry, QueueItem, QueueQuery, Status

ARTICLE = "---\ntitle: Story {n}\nwebUrl: https://example.com/{n}\nquality: {q}\n{extra}---\n"


async def stored(db: Path) -> tuple[dict[str, QueueItem], dict[str, list[AuditEntry]]]:
    async with open_app(Settings(database=db)) as app:
        items = {i.article.title: i for i in await app.store.list_items(QueueQuery())}
        audits = {title: await app.store.audit(item.id) for title, item in items.items()}
    return items, audits


def test_ingest_auto_approves_by_the_configured_quality(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, config, feed = tmp_path / "q.db", tmp_path / "newsbot.yaml", tmp_path / "feed"
    config.write_text("auto_approve: {min_quality: 60}\n")
    feed.mkdir()
    for n, (quality, extra) in enumerate([(59, ""), (60, ""), (95, "published: true\n")], 1):
        (feed / f"{n}.md").write_text(ARTICLE.format(n=n, q=quality, extra=extra))
    assert main(["ingest", str(feed), "--config", str(config), "--db", str(db)]) == 0
    assert capsys.readouterr().out.startswith("3 new")
    items, audits = asyncio.run(stored(db))
    assert {title: item.status for title, item in items.items()} == {
        "Story 1": Status.PENDING,
        "Story 2": Status.APPROVED,  # exactly the minimum counts
        "Story 3": Status.PUBLISHED,  # already out: no approval recorded
    }
    assert items["Story 2"].decided_by == moderation.AUTO_APPROVER
    assert [(e.action, e.to_status, e.reason) for e in audits["Story 2"]] == [
        ("ingested", "pending", None),
        ("approved", "approved", "quality >= 60"),
    ]
    assert audits["Story 2"][-1].actor == "auto-approve"
    assert audits["Story 2"][0].actor.startswith("cli")
    assert [e.action for e in audits["Story 3"]] == ["ingested", "published"]
