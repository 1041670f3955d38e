"""The ``newsbot`` command, run as a real subprocess against real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import __version__
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
