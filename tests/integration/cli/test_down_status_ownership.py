"""``chaoskit down`` and ``chaoskit status`` without an id never take an environment a live
run owns; they name whose it is, and list the candidates when there is no single one.

Every test uses its own state directory, so environments of other runs on this machine are
neither seen nor touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaoskit.install import cache_dir
from chaoskit.runtime.health import wait_for
from chaoskit.runtime.state import EnvRecord, ProcessRecord, state_root, stray_processes

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
MINIMAL = ROOT / "fixtures" / "topologies" / "minimal.yml"

# An experiment that brings its environment up, says which, and waits to be stopped.
EXPERIMENT = """
import os, threading
from pathlib import Path

def test_hold(chaos_env):
    Path(os.environ["READY_FILE"]).write_text(chaos_env.env_id)
    threading.Event().wait(300)
"""


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "state"
    monkeypatch.setenv("CHAOSKIT_STATE_DIR", str(root))
    return root


def chaoskit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaoskit.cli", *args], capture_output=True, text=True, timeout=120, env=os.environ
    )


def _record(env_id: str, owner: ProcessRecord | None, keep: bool = True) -> EnvRecord:
    """An environment with no processes, as `chaoskit up` (no owner) or a run records it."""
    record = EnvRecord(id=env_id, runtime="process", topology=str(MINIMAL), created=time.time(), owner=owner, keep=keep)
    record.save()
    return record


def test_several_candidates_are_listed_and_none_is_taken(state: Path) -> None:
    for env_id in ("ck-first", "ck-second"):
        _record(env_id, owner=None)
    for command in ("down", "status"):
        result = chaoskit(command)
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"`chaoskit {command}` needs an environment id" in result.stderr
        assert "ck-first" in result.stderr and "ck-second" in result.stderr
        assert "started by `chaoskit up`" in result.stderr and f"topology={MINIMAL}" in result.stderr
    assert (state / "ck-first").exists() and (state / "ck-second").exists()


def test_the_only_environment_nobody_live_owns_is_taken_and_the_live_ones_are_not(state: Path) -> None:
    _record("ck-mine", owner=ProcessRecord.of(os.getpid()), keep=False)
    _record("ck-left", owner=None)
    result = chaoskit("down")
    assert result.returncode == 0, result.stderr
    assert "removed environment ck-left" in result.stdout
    assert (state / "ck-mine").exists() and not (state / "ck-left").exists()

    refused = chaoskit("down")
    assert refused.returncode == 2
    assert "every environment belongs to a live run" in refused.stderr
    assert f"ck-mine  process owned by live pid {os.getpid()} (" in refused.stderr
    assert (state / "ck-mine").exists()

    named = chaoskit("down", "ck-mine")
    assert named.returncode == 0, named.stderr
    assert f"environment ck-mine is owned by live pid {os.getpid()}" in named.stderr
    assert not (state / "ck-mine").exists()


def test_down_without_an_id_leaves_a_live_experiment_alone(state: Path, tmp_path: Path) -> None:
    (tmp_path / "test_hold.py").write_text(EXPERIMENT)
    ready = tmp_path / "ready"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:locust",
            "-p",
            "no:cacheprovider",
            f"--chaos-topology={MINIMAL}",
            "test_hold.py",
        ],
        cwd=tmp_path,
        env={**os.environ, "READY_FILE": str(ready), "CHAOSKIT_CACHE": str(cache_dir())},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def up() -> bool:
            assert run.poll() is None, "the experiment ended before its environment was up"
            return ready.exists() and bool(ready.read_text())

        wait_for(up, 180, "the experiment's environment")
        env_id = ready.read_text()

        for command in ("down", "status"):
            refused = chaoskit(command)
            assert refused.returncode == 2, refused.stdout + refused.stderr
            assert env_id in refused.stderr and f"owned by live pid {run.pid} (" in refused.stderr
            assert "test_hold.py" in refused.stderr, "the owner's command is not shown"
        record = EnvRecord.load(state / env_id)
        assert record.processes and all(p.process() is not None for p in record.processes.values())

        run.send_signal(signal.SIGKILL)
        run.wait(30)
        status = chaoskit("status")
        assert status.returncode == 0, status.stderr
        assert f"environment {env_id} (process runtime): orphaned (owner pid {run.pid} gone)" in status.stdout

        swept = chaoskit("down")
        assert swept.returncode == 0, swept.stderr
        assert f"swept orphaned environment(s): {env_id}" in swept.stdout
        assert not stray_processes(env_id) and not (state / env_id).exists()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(30)
        for left in state_root().glob("*/env.json"):  # not --all: that would reach other runs' processes
            chaoskit("down", left.parent.name)
