"""The Discord adapter's modules import each other only at module level and without cycles,
so each can be imported on its own and no import hides inside a function."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ADAPTER = ROOT / "bot" / "discord_adapter"
PACKAGE = "bot.discord_adapter"
MODULES = sorted(path.stem for path in ADAPTER.glob("*.py"))


def _adapter_imports(node: ast.AST) -> list[str]:
    """The adapter modules an import statement names ("" for none)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:  # a relative import inside the adapter package
            base = PACKAGE if node.level == 1 else "bot"
            module = f"{base}.{node.module}" if node.module else base
        else:
            module = node.module or ""
        names = [module, *(f"{module}.{alias.name}" for alias in node.names)]
    else:
        return []
    return [
        name.removeprefix(PACKAGE + ".").split(".")[0]
        for name in names
        if name.startswith(PACKAGE + ".")
        and name.removeprefix(PACKAGE + ".").split(".")[0] in MODULES
    ]


def _tree(module: str) -> ast.Module:
    return ast.parse((ADAPTER / f"{module}.py").read_text(encoding="utf-8"))


def test_the_adapter_modules_are_found() -> None:
    # Guards the tests below against an empty or wrong folder.
    assert {"client", "cogs", "review", "runner", "tree", "views", "ids"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_each_adapter_module_imports_in_a_fresh_interpreter(module: str) -> None:
    run = subprocess.run(
        [sys.executable, "-c", f"import {PACKAGE}.{module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("module", MODULES)
def test_adapter_modules_import_each_other_only_at_module_level(module: str) -> None:
    tree = _tree(module)
    top_level = {id(node) for node in tree.body}
    nested = [
        f"{module}.py:{node.lineno}: imports {', '.join(names)}"
        for node in ast.walk(tree)
        if (names := _adapter_imports(node)) and id(node) not in top_level
    ]
    # Not even under ``if TYPE_CHECKING:``: the layout needs none.
    assert nested == []


def test_the_adapter_modules_import_each_other_without_a_cycle() -> None:
    graph = {
        module: {name for node in _tree(module).body for name in _adapter_imports(node)}
        for module in MODULES
    }
    assert graph["client"] >= {"cogs", "review", "tree"}  # the check sees real edges
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join((*path, module))
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, (*path, module))
        done.add(module)

    for module in MODULES:
        visit(module, ())
