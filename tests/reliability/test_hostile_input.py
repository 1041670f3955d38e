"""Hostile input (issue 7, part 4): a generated corpus of malformed and hostile article files
through ``newsbot ingest`` (one real process for the whole corpus), then every stored one
through the renderer.

Each file must produce exactly one clear ``PATH:LINE: problem`` line on stderr or be stored;
nothing crashes; the process's peak memory stays bounded; whatever was stored renders without
a mention, a foreign link or article-made Markdown (``safety.py``).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_app
from bot.config import DigestChannel, Settings
from bot.render import Renderer
from bot.review import review_payload
from bot.store import QueueItem, QueueQuery
from tests.reliability import corpus
from tests.reliability.harness import Run, newsbot
from tests.reliability.safety import allowed_urls, payload_problems

CASES = corpus.cases()
PEAK_RSS_MB = 300
SUMMARY = re.compile(r"^(\d+) new, (\d+) updated, (\d+) unchanged, (\d+) rejected$")


@dataclass(frozen=True)
class Outcome:
    """The corpus after one ``newsbot ingest``: the run, each file's case, each file's stderr
    lines, and the stored items by file."""

    run: Run
    cases: dict[Path, corpus.Case]
    lines: dict[Path, list[str]]
    stray: list[str]
    stored: dict[Path, QueueItem]


def _lines_by_file(stderr: str, paths: list[Path]) -> tuple[dict[Path, list[str]], list[str]]:
    by_name = {str(path): path for path in paths}
    lines: dict[Path, list[str]] = {path: [] for path in paths}
    stray: list[str] = []
    for line in stderr.splitlines():
        match = re.match(r"^(.+?\.md):(\d+): ", line)
        path = by_name.get(match.group(1)) if match else None
        if path is None:
            stray.append(line)
        else:
            lines[path].append(line)
    return lines, stray


async def _stored(db: Path, paths: list[Path]) -> dict[Path, QueueItem]:
    async with open_app(Settings(database=db)) as app:
        items = await app.store.list_items(QueueQuery())
        full = [await app.store.get(item.id) for item in items]
    names = {path.stem: path for path in paths}
    stored: dict[Path, QueueItem] = {}
    for item in full:
        name = re.match(r"https://[^/]+/([a-z0-9-]+)", item.article.web_url)
        assert name is not None and name.group(1) in names, item.article.web_url
        stored[names[name.group(1)]] = item
    return stored


def _ingest(folder: Path, selected: list[corpus.Case]) -> Outcome:
    cases = corpus.write(folder / "corpus", selected)
    db = folder / "newsbot.db"
    run = newsbot("ingest", "--db", str(db), str(folder / "corpus"), cwd=folder, timeout=120)
    lines, stray = _lines_by_file(run.stderr, list(cases))
    stored = asyncio.run(_stored(db, list(cases))) if db.exists() else {}
    return Outcome(run, cases, lines, stray, stored)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    return _ingest(tmp_path_factory.mktemp("hostile"), CASES)


def _problems(outcome: Outcome) -> list[str]:
    """Every file that was neither rejected with one clear line nor stored (as its case
    expects)."""
    problems: list[str] = []
    for path, case in outcome.cases.items():
        errors = [line for line in outcome.lines[path] if ": warning: " not in line]
        stored = path in outcome.stored
        if stored and errors:
            problems.append(f"{case.name}: stored and also reported: {errors}")
        elif not stored and len(errors) != 1:
            problems.append(f"{case.name}: not stored, with {len(errors)} error lines: {errors}")
        elif case.expect == "store" and not stored:
            problems.append(f"{case.name}: expected to be stored, got {errors}")
        elif case.expect == "reject" and stored:
            problems.append(f"{case.name}: expected a rejection, was stored")
        for line in errors:
            match = re.fullmatch(rf"{re.escape(str(path))}:(\d+): (.+)", line)
            if match is None:
                problems.append(f"{case.name}: not 'PATH:LINE: problem': {line!r}")
                continue
            number, problem = int(match.group(1)), match.group(2)
            last = case.data.count(b"\n") + 1
            if not 1 <= number <= last:
                problems.append(f"{case.name}: line {number} is not in the file (1-{last})")
            if case.problem and case.problem not in problem:
                problems.append(f"{case.name}: {problem!r} does not say {case.problem!r}")
            if not problem.isprintable() or len(problem) > 300:
                problems.append(f"{case.name}: unclear problem text {problem!r}")
    return problems


def test_the_corpus_has_at_least_200_hostile_files_of_every_kind(
    figures: dict[str, Any],
) -> None:
    kinds = Counter(case.name.split("-")[0] for case in CASES)
    assert len(CASES) >= 200
    assert set(kinds) >= {
        "truncated", "syntax", "bomb", "nesting", "huge", "binary", "encoding", "dupkey",
        "tag", "control", "invisible", "scheme", "inject",
    }  # fmt: skip
    assert len({case.name for case in CASES}) == len(CASES)
    figures["hostile input: corpus files"] = len(CASES)


def test_ingest_reports_each_bad_file_on_one_line_and_stores_the_rest(
    outcome: Outcome, figures: dict[str, Any]
) -> None:
    run = outcome.run
    assert "Traceback" not in run.stderr, run.stderr[-3_000:]
    assert run.returncode == 1, run.stderr[-3_000:]
    assert outcome.stray == []
    summary = SUMMARY.match(run.stdout.strip())
    assert summary is not None, run.stdout
    new, updated, unchanged, rejected = map(int, summary.groups())
    assert (new, updated, unchanged) == (len(outcome.stored), 0, 0)
    assert new + rejected == len(outcome.cases)
    assert _problems(outcome) == []
    figures["hostile input: rejected with one line"] = rejected
    figures["hostile input: stored"] = new


def test_ingest_memory_and_time_stay_bounded(outcome: Outcome, figures: dict[str, Any]) -> None:
    figures["hostile input: ingest peak RSS (MB)"] = round(outcome.run.peak_rss_mb, 1)
    figures["hostile input: ingest wall time (s)"] = round(outcome.run.seconds, 2)
    assert 0 < outcome.run.peak_rss_mb < PEAK_RSS_MB  # 0 would mean no figure was written
    assert outcome.run.seconds < 60


def test_every_stored_hostile_article_renders_safely(
    outcome: Outcome, figures: dict[str, Any]
) -> None:
    assert outcome.stored
    renderer = Renderer()
    now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    problems: list[str] = []
    checked = 0
    for path, item in sorted(outcome.stored.items()):
        urls = allowed_urls(item.article)
        payloads = [review_payload(renderer, item, DigestChannel(channel=None), now=now)]
        for template in ("digest", "embed"):
            digest = DigestChannel(channel=1, template=template)
            messages = renderer.render_digest([item.article], digest, now=now, ref="h1")
            payloads += [message.payload for message in messages]
        for payload in payloads:
            checked += 1
            problems += [f"{path.stem}: {p}" for p in payload_problems(payload, urls)]
    # All of them in one digest too: packing across messages must keep the escapes whole.
    articles = [item.article for _, item in sorted(outcome.stored.items())]
    everyone = set().union(*(allowed_urls(a) for a in articles))
    for template in ("digest", "embed"):
        digest = DigestChannel(channel=1, template=template, max_items=len(articles))
        for message in renderer.render_digest(articles, digest, now=now, ref="all"):
            checked += 1
            problems += [
                f"all ({template}): {p}" for p in payload_problems(message.payload, everyone)
            ]
    figures["hostile input: rendered payloads checked"] = checked
    assert problems == []


# ---------------------------------------------------------------------------------------------
# File names are hostile input too.


def test_hostile_file_names_still_give_one_line_per_file(tmp_path: Path) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    bad = b"---\ntitle: [never closed\n---\n"
    names = ["evil\nfake.md:1: all good.md", "esc\x1b[2Jclear.md", "rtl\u202edm.txt.md"]
    for name in names:
        (folder / name).write_bytes(bad)
    (folder / "not-utf8-\udcff.md").write_bytes(bad)
    run = newsbot("ingest", "--db", str(tmp_path / "n.db"), str(folder), cwd=tmp_path)
    assert run.returncode == 1
    assert run.stdout.strip() == "0 new, 0 updated, 0 unchanged, 4 rejected"
    lines = run.stderr.splitlines()
    assert len(lines) == 4, lines
    assert all(line.isprintable() and ": YAML syntax error: " in line for line in lines), lines
    assert any(line.startswith(f"{folder}/evil\\nfake.md:1: all good.md:3: ") for line in lines)


def test_a_too_large_file_with_a_newline_in_its_name_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    (folder / "big\nname.md").write_bytes(b"---\n" + b"x" * (1024 * 1024 + 10))
    run = newsbot("ingest", "--db", str(tmp_path / "n.db"), str(folder), cwd=tmp_path)
    assert run.returncode == 1
    assert len(run.stderr.splitlines()) == 1, run.stderr


def test_a_raw_control_character_is_reported_at_its_line() -> None:
    from bot.articles import parse_article
    from bot.errors import ArticleError

    with pytest.raises(ArticleError) as error:
        parse_article("x.md", b"---\nwebUrl: https://a.example/\n\ntitle: raw \x1b[31m\n---\n")
    assert error.value.line == 4
    assert "<unicode string>" not in str(error.value)


@pytest.mark.parametrize(
    ("content", "flagged"),
    [
        ("hello @everyone", "mass mention"),
        ("ping <@123>", "active '<'"),
        ("[click](https://evil.example/x)", "masked link"),
        ("[ok](<https://evil.example/x>)", "not one of the article's"),
        ("see https://evil.example/x", "autolink"),
        ("||spoiler||", "active Markdown"),
        ("line\n> quote", "a line starting"),
        ("rtl \u202e text", "control or bidi"),
    ],
)
def test_the_safety_check_flags_what_it_is_for(content: str, flagged: str) -> None:
    """The render check above is only as good as this checker: raw hostile text must fail it,
    the escaped form of the same text must pass."""
    from bot.render.escape import escape_markdown

    urls = {"https://good.example/a"}
    payload = {"content": content, "allowed_mentions": {"parse": []}}
    assert any(flagged in problem for problem in payload_problems(payload, urls))
    escaped = {"content": escape_markdown(content), "allowed_mentions": {"parse": []}}
    assert payload_problems(escaped, urls) == []
    assert payload_problems({"content": "ok"}, urls) == ["allowed_mentions is None"]
