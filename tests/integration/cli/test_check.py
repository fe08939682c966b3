"""``chaoskit check``: a topology file validated and summarised without starting anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
MINIMAL = ROOT / "fixtures" / "topologies" / "minimal.yml"
REFERENCE = ROOT / "docker-compose.chaos.yml"


def check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaoskit.cli", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


def test_a_valid_topology_is_summarised():
    result = check("--topology", str(MINIMAL))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("chaoskit-minimal (") and lines[0].endswith("): 5 components")
    assert "  service:     consumer, producer" in lines
    assert "  links:       producer->kafka, consumer->kafka, producer->redis" in lines
    assert "  topics:      events (2 partitions)" in lines
    assert "  roles unset: requests, processed, dlq, alerts" in lines
    assert lines[-1] == "valid; nothing was started"
    assert result.stderr == ""


def test_the_topology_defaults_to_chaoskit_topology_then_the_reference():
    from_env = check(env={"CHAOSKIT_TOPOLOGY": str(MINIMAL)})
    assert from_env.returncode == 0 and from_env.stdout.startswith("chaoskit-minimal ")
    default = check(env={"CHAOSKIT_TOPOLOGY": str(REFERENCE)})
    assert default.returncode == 0, default.stderr
    assert "documents.dlq (3 partitions, role dlq)" in default.stdout


def _broken(tmp_path: Path, mutate) -> str:
    doc = yaml.safe_load(MINIMAL.read_text())
    mutate(doc)
    path = tmp_path / "topology.yml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


@pytest.mark.parametrize(
    ("mutate", "needles"),
    [
        (lambda d: d["services"]["redis"].pop("image"), ["services.redis: needs image or build"]),
        (
            lambda d: d["x-chaoskit"]["links"].append("consumer->redsi"),
            ["names component 'redsi'", "(did you mean 'redis'?)"],
        ),
        (
            lambda d: d["x-chaoskit"]["topics"]["events"].update(role="deadletter"),
            ["x-chaoskit.topics.events.role", "'requests', 'processed', 'dlq' or 'alerts'"],
        ),
    ],
)
def test_a_bad_topology_is_one_paragraph_and_exit_2(tmp_path, mutate, needles):
    result = check("--topology", _broken(tmp_path, mutate))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("chaoskit: error: invalid topology: ")
    for needle in needles:
        assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_file_is_exit_2(tmp_path):
    result = check("--topology", str(tmp_path / "nope.yml"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
