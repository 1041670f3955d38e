"""The deployment files hold together: the image runs the console script as a non-root user,
the compose file runs PostgreSQL, a gateway and two workers of that image with the config
where the image expects it (and ``docker compose config`` validates it: .ci/run installs
Debian's docker-compose), and the systemd units run ``newsbot run``, ``gateway`` and
``worker``."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
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


def test_the_compose_file_runs_postgresql_a_gateway_and_two_workers() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"postgres", "gateway", "worker"}
    assert services["gateway"]["command"] == ["gateway"]
    assert services["worker"]["command"] == ["worker"]
    assert services["worker"]["deploy"]["replicas"] == 2
    for name in ("gateway", "worker"):
        service = services[name]
        assert service["build"] == "."
        assert {volume.split(":")[1] for volume in service["volumes"]} == {"/config/newsbot.yaml"}
        assert service["environment"]["NEWSBOT_DB"].startswith("postgresql://newsbot:")
        assert "DISCORD_TOKEN" in service["environment"]
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    named = {v.split(":")[0] for v in services["postgres"]["volumes"]}
    assert named <= set(compose["volumes"])


def _compose() -> list[str] | None:
    """A compose that can validate the file: the plugin, else Debian's docker-compose."""
    docker = shutil.which("docker")
    if docker is not None:
        plugin = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if plugin.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy is not None else None


def test_docker_compose_config_validates_the_file() -> None:
    compose = _compose()
    if compose is None:
        pytest.skip("no docker compose here (.ci/run installs Debian's docker-compose)")
    environ = {"PATH": os.environ.get("PATH", ""), "DISCORD_TOKEN": "t", "POSTGRES_PASSWORD": "p"}
    done = subprocess.run(
        [*compose, "-f", str(ROOT / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        env=environ,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Without the token it refuses to start, naming what is missing.
    del environ["DISCORD_TOKEN"]
    missing = subprocess.run(
        [*compose, "-f", str(ROOT / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        env=environ,
        check=False,
    )
    assert missing.returncode != 0 and "DISCORD_TOKEN" in missing.stderr


def test_the_systemd_units_run_each_process() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "deploy" / "systemd" / "newsbot@.service", encoding="utf-8")
    service = unit["Service"]
    # The instance is the command: newsbot@run, newsbot@gateway, newsbot@worker.
    assert service["ExecStart"].endswith("/newsbot %i")
    assert service["User"] == "newsbot" and service["Restart"] == "on-failure"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
