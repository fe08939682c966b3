"""The docker runtime's tests run on a real engine: Podman's Docker-compatible API.

``engine`` runs ``images/build.sh --no-install`` once per session (idempotent: seconds
when the image is current; it builds ``chaoskit/base`` when not, and fails naming
``scripts/setup.sh --tests`` when Podman is missing: tests install nothing), then
connects. The tests skip only when build.sh exits 3: no container engine can be started
on this machine. build.sh leaves the API service running as a
machine service; if it was not running before this session, the session stops it again.
With ``DOCKER_HOST`` set, that engine is used as is and nothing is built.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from chaoskit.runtime import docker_api, podman

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "images" / "build.sh"
NO_ENGINE = 3
BUILD_TIMEOUT_S = 1200


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "docker: needs a Docker Engine API (Podman's compat API here)")


@pytest.fixture(scope="session")
def engine() -> Iterator[docker.DockerClient]:
    started_here = False
    if not os.environ.get("DOCKER_HOST"):
        api_was_up = podman.answers(podman.socket_path())
        build = subprocess.run(
            ["bash", str(BUILD), "--no-install"], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
        )
        tail = "\n".join((build.stdout + build.stderr).strip().splitlines()[-20:])
        if build.returncode == NO_ENGINE:
            pytest.skip(f"no container engine can be installed or started on this machine: {tail}")
        if build.returncode != 0:
            pytest.fail(f"images/build.sh failed (exit {build.returncode}):\n{tail}", pytrace=False)
        started_here = not api_was_up
    client = docker_api.connect()
    try:
        yield client
    finally:
        client.close()
        if started_here:
            podman.stop(podman.socket_path())
