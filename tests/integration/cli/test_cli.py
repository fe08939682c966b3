"""The ``chaoskit`` command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
MINIMAL = ROOT / "fixtures" / "topologies" / "minimal.yml"
CHAOSKIT = [sys.executable, "-m", "chaoskit.cli"]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CHAOSKIT, *args], capture_output=True, text=True, timeout=timeout)


def test_install_twice_the_second_is_a_noop():
    run("install")
    second = run("install")
    assert second.returncode == 0
    assert second.stderr.count("cached in") == 3, second.stderr
    assert "resolving" not in second.stderr and "building" not in second.stderr


def test_up_status_down():
    up = run("up", "--topology", str(MINIMAL))
    assert up.returncode == 0, up.stderr
    env_id = up.stdout.strip().splitlines()[-1].split()[-1]
    try:
        status = json.loads(run("status", env_id, "--json").stdout)
        assert {c["state"] for c in status["components"].values()} == {"healthy"}
        pids = [c["pid"] for c in status["components"].values()]
    finally:
        down = run("down", env_id)
    assert down.returncode == 0, down.stderr
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert run("status", env_id).returncode == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["up", "--runtime", "k8s"], "argument --runtime: invalid choice: 'k8s'"),
        (["launch"], "invalid choice: 'launch'"),
        (["up", "--topology", "/nonexistent.yml"], "'/nonexistent.yml' does not exist"),
        (["status", "ck-doesnotexist"], "no environment 'ck-doesnotexist'"),
    ],
)
def test_bad_input_is_one_clear_line(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
