"""The deployment files hold together: the image runs the console script as a non-root user,
the compose file's service builds that image with the config and data where the image
expects them, and the systemd unit runs ``newsbot run``. (``docker compose config`` itself
needs the compose plugin, which CI does not have; these checks read the same files.)"""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def dockerfile() -> list[str]:
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_the_image_runs_the_console_script_as_a_non_root_user() -> None:
    lines = dockerfile()
    final = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM "))]
    assert final.startswith("FROM python:3.11-slim")
    stage = lines[lines.index(final) :]
    assert any(line.startswith("USER ") and line != "USER root" for line in stage)
    assert 'ENTRYPOINT ["newsbot"]' in stage
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert "newsbot" in scripts
    assert any("NEWSBOT_CONFIG=/config/newsbot.yaml" in line for line in stage)
    # Every path the image copies exists, so the build cannot fail on a missing one.
    for line in lines:
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


def test_the_compose_service_builds_the_image_with_config_and_data_mounted() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    service = compose["services"]["newsbot"]
    assert service["build"] == "." and service["command"] == ["run"]
    mounts = {volume.split(":")[1] for volume in service["volumes"]}
    assert {"/config/newsbot.yaml", "/data"} <= mounts
    named = {volume.split(":")[0] for volume in service["volumes"] if not volume.startswith(".")}
    assert named <= set(compose["volumes"])
    assert "DISCORD_TOKEN" in service["environment"]
    assert "/readyz" in " ".join(service["healthcheck"]["test"])


def test_the_systemd_unit_runs_newsbot_run() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "deploy" / "systemd" / "newsbot.service", encoding="utf-8")
    service = unit["Service"]
    assert service["ExecStart"].endswith("/newsbot run")
    assert service["User"] == "newsbot" and service["Restart"] == "on-failure"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
