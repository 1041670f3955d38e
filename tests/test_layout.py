"""The shape of the code that issue 11 set: small modules, and Jinja used through its public API."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"
MAX_LINES = 600
# The store implementation holds all of one engine's SQL in one place, on purpose.
EXEMPT = {"store/sqlite.py"}
PRIVATE_JINJA = ("jinja2.compiler", "jinja2.idtracking", "jinja2.optimizer", "jinja2.lexer")


def modules() -> list[Path]:
    return sorted(BOT.rglob("*.py"))


def test_no_module_is_over_600_lines() -> None:
    long = {
        p.relative_to(BOT).as_posix(): n
        for p in modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert {k: v for k, v in long.items() if k not in EXEMPT} == {}


def test_nothing_imports_jinja_internals() -> None:
    found = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            found += [f"{path.name}: {n}" for n in names if n.startswith(PRIVATE_JINJA)]
    assert found == []


def test_every_package_ships_in_the_wheel() -> None:
    """``pip install .`` (the README's first command) installs only the packages listed."""
    config = tomllib.loads((BOT.parent / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(BOT.parent).parts) for p in BOT.rglob("__init__.py")}
    assert found - listed == set()
