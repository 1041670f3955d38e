"""Fixtures shared by the reliability tests, and the figures summary.

``figures`` is a session-wide dict the tests fill with what they measured; with
``NEWSBOT_FIGURES=1`` in the environment the summary at the end of the run lists them (the
README's Reliability section quotes these numbers). Without it the tests stay silent.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

_FIGURES: dict[str, Any] = {}


@pytest.fixture(scope="session")
def figures() -> dict[str, Any]:
    return _FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not os.environ.get("NEWSBOT_FIGURES") or not _FIGURES:
        return
    terminalreporter.section("reliability figures")
    width = max(len(name) for name in _FIGURES)
    for name in sorted(_FIGURES):
        terminalreporter.write_line(f"{name.ljust(width)}  {_FIGURES[name]}")
