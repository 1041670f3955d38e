"""The ``newsbot`` command, run as a real subprocess against real files."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import __version__, moderation
from bot.app import open_app
from bot.cli import main
from bot.config import Settings
from bot.ingest import ingest
from bot.store import Trigger
from tests.factory import write_corpus

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


def newsbot(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    environ["PYTHONPATH"] = str(ROOT)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=environ,
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_ingest_seeds_then_queue_json(tmp_path: Path) -> None:
    result = newsbot("ingest", str(SEEDS), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    seeds = len(list(SEEDS.glob("*.md")))
    assert result.stdout.strip() == f"{seeds} new, 0 updated, 0 unchanged, 0 rejected"
    assert (tmp_path / "newsbot.db").exists()
    listed = json.loads(newsbot("queue", "--json", cwd=tmp_path).stdout)
    assert len(listed) == seeds
    required = {
        "id",
        "status",
        "title",
        "url",
        "provider",
        "quality",
        "heat",
        "topics",
        "published_at",
    }
    assert all(required <= set(entry) for entry in listed)
    ibm = next(e for e in listed if "IBM" in e["title"])
    assert ibm["provider"] == "Los Angeles Times" and ibm["topics"] == ["Computer Vision", "AI"]
    assert ibm["published_at"] == "2020-06-10T10:04:00+00:00"
    assert {e["status"] for e in listed} == {"pending", "published"}


def test_db_flag_env_and_config_precedence(tmp_path: Path) -> None:
    config = tmp_path / "conf.yaml"
    config.write_text("database: from-config.db\n")
    seed = str(SEEDS / "ibm-facial-recognition.md")
    runs = [
        ("from-config.db", newsbot("ingest", seed, "--config", str(config), cwd=tmp_path)),
        (
            "env.db",
            newsbot(
                "ingest",
                seed,
                cwd=tmp_path,
                env={"NEWSBOT_CONFIG": str(config), "NEWSBOT_DB": str(tmp_path / "env.db")},
            ),
        ),
        (
            "f.db",
            newsbot(
                "ingest",
                seed,
                "--db",
                str(tmp_path / "f.db"),
                cwd=tmp_path,
                env={"NEWSBOT_DB": str(tmp_path / "env.db")},
            ),
        ),
    ]
    for database, result in runs:
        # Each run stored the article afresh in its own database (none saw another's).
        assert result.returncode == 0 and result.stdout.startswith("1 new"), result.stderr
        assert (tmp_path / database).exists()
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["env.db", "f.db", "from-config.db"]


def test_config_errors_name_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "newsbot.yaml"
    config.write_text("digests:\n  - channel: 5\n    max_items: ten\n")
    result = newsbot("queue", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "newsbot: error: newsbot.yaml: digests[1].max_items: expected an integer, got 'ten'"
    )
    config.write_text("digests: [\n")
    result = newsbot("queue", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("newsbot: error: newsbot.yaml:2: YAML syntax error")
    assert "Traceback" not in result.stderr


def test_moderation_from_the_shell(tmp_path: Path) -> None:
    newsbot("ingest", str(SEEDS), cwd=tmp_path)
    pending = [
        e["id"]
        for e in json.loads(newsbot("queue", "--json", "--status", "pending", cwd=tmp_path).stdout)
    ]
    result = newsbot("approve", str(pending[0]), cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith(f"approved {pending[0]}: ")
    again = newsbot("approve", str(pending[0]), cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip() == (
        f"newsbot approve: item {pending[0]} is approved; it cannot become approved"
    )
    result = newsbot("reject", str(pending[1]), "--reason", "duplicate story", cwd=tmp_path)
    assert result.returncode == 0
    assert newsbot("reject", "99999", cwd=tmp_path).stderr.strip() == (
        "newsbot reject: item 99999 not found"
    )
    result = newsbot("approve", "--all", cwd=tmp_path)
    assert result.stdout.strip() == f"approved {len(pending) - 2} items"
    rejected = json.loads(newsbot("queue", "--json", "--status", "rejected", cwd=tmp_path).stdout)
    assert [(e["id"], e["reason"]) for e in rejected] == [(pending[1], "duplicate story")]
    bad = newsbot("approve", "abc", cwd=tmp_path)
    assert bad.returncode == 2 and "not an item id: 'abc'" in bad.stderr


def test_queue_table_and_topic_filter(tmp_path: Path) -> None:
    newsbot("ingest", str(SEEDS), cwd=tmp_path)
    table = newsbot("queue", "--topic", "Space", cwd=tmp_path).stdout.splitlines()
    assert table[0].split() == ["ID", "STATUS", "QUALITY", "HEAT", "PROVIDER", "TITLE"]
    assert len(table) > 2
    as_json = json.loads(newsbot("queue", "--topic", "Space", "--json", cwd=tmp_path).stdout)
    assert len(as_json) == len(table) - 1
    assert all("Space" in e["topics"] for e in as_json)


def test_export_then_ingest_gives_the_same_queue(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    newsbot("ingest", str(SEEDS), cwd=first)
    result = newsbot("export", str(tmp_path / "out"), cwd=first)
    assert result.returncode == 0, result.stderr
    assert newsbot("ingest", str(tmp_path / "out"), cwd=second).returncode == 0

    def queue(cwd: Path) -> list[dict[str, object]]:
        entries = json.loads(newsbot("queue", "--json", cwd=cwd).stdout)
        return sorted(entries, key=lambda e: str(e["url"]))

    before, after = queue(first), queue(second)
    # Each item says which file it came from: the seed, then the exported file.
    assert {Path(str(e.pop("source"))).parent for e in before} == {SEEDS}
    assert {Path(str(e.pop("source"))).parent for e in after} == {tmp_path / "out"}
    assert before == after
    original = (SEEDS / "ibm-facial-recognition.md").read_text(encoding="utf-8")
    exported = [p.read_text(encoding="utf-8") for p in (tmp_path / "out").glob("*facial*")]
    assert exported == [original]


def test_large_batch_with_malformed_files(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    bad = write_corpus(feed, 10_000, bad_ratio=0.05)
    result = newsbot("ingest", str(feed), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.strip() == f"{10_000 - len(bad)} new, 0 updated, 0 unchanged, 500 rejected"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(bad) == 500
    reported = {line.split(":", 1)[0] for line in lines}
    assert reported == {str(p) for p in bad}
    assert all(line.split(":")[1].isdigit() for line in lines)
    again = newsbot("ingest", str(feed), cwd=tmp_path)
    assert again.stdout.strip() == f"0 new, 0 updated, {10_000 - len(bad)} unchanged, 500 rejected"


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    from bot.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sub.choices is not None
    for name, command in sub.choices.items():
        assert command.description, name
        assert f"newsbot {name}" in readme, f"newsbot {name} is missing from README.md"
        result = newsbot(name, "--help", cwd=ROOT)
        assert result.returncode == 0 and "--config" in result.stdout and "--db" in result.stdout


@pytest.mark.parametrize(
    ("flag", "start"), [("--version", f"newsbot {__version__}\n"), ("--help", "usage: newsbot")]
)
def test_top_level_flags(flag: str, start: str, tmp_path: Path) -> None:
    result = newsbot(flag, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith(start)


def test_check_templates_reads_no_database(tmp_path: Path) -> None:
    result = newsbot("check-templates", "--seeds", str(SEEDS), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("all templates render 40 articles within Discord's limits")
    assert list(tmp_path.iterdir()) == []  # no newsbot.db made on the way


# --- in-process: newsbot show, export's path errors -------------------------------------------


def _seeded(tmp_path: Path) -> tuple[Path, list[int]]:
    """A database with three shipped seeds, pending."""
    db = tmp_path / "newsbot.db"

    async def seed() -> list[int]:
        async with open_app(Settings(database=db)) as app:
            files = sorted(SEEDS.glob("*.md"))[:3]
            return (await ingest(app.store, files, actor="cli:test")).new_ids

    return db, asyncio.run(seed())


def test_show_prints_the_item_as_posted_with_state_and_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, ids = _seeded(tmp_path)
    item_id = ids[0]

    async def publish_it() -> tuple[str, str]:
        async with open_app(Settings(database=db)) as app:
            await moderation.approve(app.store, item_id, actor="cli:alice")
            item = await app.store.get(item_id)
            digest, _ = await app.store.create_digest(
                456, "k1", Trigger.CLI, [({"content": "x"}, "nonce-1", (item_id,))]
            )
            await app.store.record_sent(digest.id, 0, 789, app.clock.now())
            rendered = app.renderer.render_item(
                item.article, Settings().digest_for(None), now=app.clock.now()
            )
            return item.article.title, str(rendered["content"])

    title, content = asyncio.run(publish_it())
    assert main(["--db", str(db), "show", f"#{item_id}"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"#{item_id} · published")
    assert f"title:        {title}" in lines
    assert content in out  # exactly what the digest would post
    history = lines[lines.index("===== history =====") + 1 :]
    assert [line.split()[3] for line in history] == [
        "ingested",
        "approved",
        "published",
        "delivered",
    ]
    assert "cli:alice" in history[1] and "pending -> approved" in history[1]
    assert history[3].endswith("delivered  channel 456, message 789, digest 1")

    assert main(["--db", str(db), "show", str(item_id), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["id"], shown["status"], shown["title"]) == (item_id, "published", title)
    assert shown["payload"]["content"] == content
    assert [e["action"] for e in shown["history"]] == ["ingested", "approved", "published"]
    assert shown["deliveries"] == [
        {"channel": 456, "message": 789, "digest": 1, "at": shown["deliveries"][0]["at"]}
    ]


def test_show_of_an_unknown_item_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = _seeded(tmp_path)
    assert main(["--db", str(db), "show", "999"]) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "newsbot: error: item 999 not found\n")


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("notes.txt", "exists and is not a folder"),
        ("notes.txt/sub", "{tmp}/notes.txt is not a folder"),
        ("/proc/newsbot-export", "cannot create the folder (No such file or directory)"),
    ],
)
def test_export_to_a_path_that_cannot_be_a_folder_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, problem: str
) -> None:
    db, _ = _seeded(tmp_path)
    (tmp_path / "notes.txt").write_text("keep me\n")
    path = target if target.startswith("/") else str(tmp_path / target)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["--db", str(db), "export", path]) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "",
        f"newsbot: error: {path}: {problem.format(tmp=tmp_path)}; nothing was written\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "notes.txt").read_text() == "keep me\n"


def test_export_refuses_a_file_before_creating_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "README.md").write_text("# mine\n")
    assert main(["--db", str(tmp_path / "fresh.db"), "export", str(tmp_path / "README.md")]) == 1
    assert "exists and is not a folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]


def test_export_into_an_existing_folder_replaces_its_files_and_leaves_no_staging(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, ids = _seeded(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("not an export\n")
    assert main(["--db", str(db), "export", str(out)]) == 0
    assert main(["--db", str(db), "export", str(out)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"exported 3 items to {out}"] * 2
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 4 and "mine.txt" in names  # no hidden staging folder left
    assert all(name.startswith(f"{i:05d}-") for i, name in zip(ids, names, strict=False))


def test_a_bad_argument_is_one_line_pointing_to_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["queue", "--status", "done"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "newsbot queue: error: argument --status: invalid choice: 'done' (choose from 'pending',"
        " 'approved', 'rejected', 'published') (see newsbot queue --help)"
    ]


CLUSTER_FILES = {
    "1-reuters.md": (
        "Texas measles outbreak grows to 762 cases, health officials say",
        "reuters.com/a",
        "Reuters",
        "The Texas Department of State Health Services reported 48 new measles cases on"
        " Tuesday, bringing the outbreak centred on the South Plains region to 762.",
    ),
    "2-chronicle.md": (
        "Texas measles cases climb to 762 as West Texas outbreak spreads",
        "houstonchronicle.com/b",
        "Houston Chronicle",
        "State health officials added 48 cases on Tuesday; most of those infected are"
        " unvaccinated children in Gaines County.",
    ),
}


def write_cluster_files(folder: Path) -> None:
    folder.mkdir()
    for name, (title, url, outlet, excerpt) in CLUSTER_FILES.items():
        (folder / name).write_text(
            f"---\ntitle: {title!r}\nwebUrl: https://{url}\nexcerpt: {excerpt!r}\n"
            f"publishedDateTime: 2026-11-03T18:00:00Z\nprovider: {{name: {outlet}}}\n---\n",
            encoding="utf-8",
        )


def test_ingest_cluster_queue_related_and_split(tmp_path: Path) -> None:
    write_cluster_files(tmp_path / "in")
    result = newsbot("ingest", "--cluster", str(tmp_path / "in"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1 new, 0 updated, 0 unchanged, 0 rejected, 1 clustered"
    [item] = json.loads(newsbot("queue", "--json", cwd=tmp_path).stdout)
    assert item["related"] == [
        {
            "url": "https://houstonchronicle.com/b",
            "title": CLUSTER_FILES["2-chronicle.md"][0],
            "outlet": "Houston Chronicle",
        }
    ]
    split = newsbot("split", str(item["id"]), "https://houstonchronicle.com/b", cwd=tmp_path)
    assert split.returncode == 0, split.stderr
    assert split.stdout.strip() == (
        f"split https://houstonchronicle.com/b from item {item['id']}: it is item 2 (pending)"
    )
    listed = json.loads(newsbot("queue", "--json", cwd=tmp_path).stdout)
    assert [(e["id"], e["status"], e["related"]) for e in listed] == [
        (1, "pending", []),
        (2, "pending", []),
    ]
    again = newsbot("split", "1", "https://houstonchronicle.com/b", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip() == (
        "newsbot: error: related coverage https://houstonchronicle.com/b of item 1 not found"
    )


def test_clustering_files_in_the_config_clusters_file_ingest(tmp_path: Path) -> None:
    write_cluster_files(tmp_path / "in")
    (tmp_path / "newsbot.yaml").write_text("clustering: {files: true, window: 2d}\n")
    result = newsbot("ingest", str(tmp_path / "in"), cwd=tmp_path)
    assert result.stdout.strip() == "1 new, 0 updated, 0 unchanged, 0 rejected, 1 clustered"
