"""Moderation decisions that no single store call makes: the auto-approve policy, applied by
``newsbot ingest`` from the config file and recorded in the audit log."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from bot import moderation
from bot.app import open_app
from bot.articles import Article, Provider
from bot.cli import main
from bot.config import AutoApprove, Settings
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


def _article(n: int, **changes: object) -> Article:
    base = Article(
        url=f"https://ex.org/{n}",
        web_url=f"https://ex.org/{n}",
        title=f"Story {n}",
        provider=Provider("Example News", "ex.org"),
        topics=("Climate",),
        quality=10,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("policy", "trusted", "feed", "changes", "reason"),
    [
        (AutoApprove(), (), None, {}, None),
        (AutoApprove(min_quality=10), (), None, {}, "quality >= 10"),
        (AutoApprove(min_quality=11), (), None, {}, None),
        (AutoApprove(min_quality=0), (), None, {"quality": None}, None),
        (AutoApprove(providers=("ex.org",)), (), None, {}, "trusted outlet ex.org"),
        (AutoApprove(providers=("example news",)), (), None, {}, "trusted outlet example news"),
        (AutoApprove(), ("EX.org",), None, {}, "trusted outlet ex.org"),  # trusted from Discord
        (AutoApprove(topics=("climate",)), (), None, {}, "topic Climate"),
        (AutoApprove(topics=("ai",)), (), None, {}, None),
        (AutoApprove(feeds=("hn",)), (), "hn", {}, "feed hn"),
        (AutoApprove(feeds=("hn",)), (), "lobsters", {}, None),
        (AutoApprove(min_quality=0), (), None, {"published": True}, None),  # already out
    ],
)
def test_any_auto_approve_rule_approves_and_names_itself(
    policy: AutoApprove,
    trusted: tuple[str, ...],
    feed: str | None,
    changes: dict[str, object],
    reason: str | None,
) -> None:
    article = _article(1, **changes)
    approvals = moderation.auto_approvals([article], policy, trusted=trusted, feed=feed)
    if reason is None:
        assert approvals == {}
    else:
        assert approvals == {article.url: moderation.Approval("auto-approve", reason)}


def test_an_outlet_trusted_from_discord_approves_its_next_items_at_ingest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, feed = tmp_path / "q.db", tmp_path / "feed"
    feed.mkdir()
    story = (
        "---\ntitle: {t}\nwebUrl: https://ex.org/{t}\nprovider: {{name: Ex, domain: ex.org}}\n---\n"
    )
    (feed / "1.md").write_text(story.format(t="one"))
    assert main(["ingest", str(feed), "--db", str(db)]) == 0

    async def trust() -> None:
        async with open_app(Settings(database=db)) as app:
            [item] = await app.store.list_items(QueueQuery())
            approved, outlet, added = await moderation.trust_outlet(
                app.store, item.id, actor="discord:1:mod"
            )
            assert (approved.status, outlet, added) == (Status.APPROVED, "ex.org", True)

    asyncio.run(trust())
    (feed / "2.md").write_text(story.format(t="two"))
    assert main(["ingest", str(feed), "--db", str(db)]) == 0
    items, audits = asyncio.run(stored(db))
    assert items["two"].status is Status.APPROVED
    assert audits["two"][-1].reason == "trusted outlet ex.org"
    capsys.readouterr()
