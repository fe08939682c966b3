"""chaoskit under chaos: a run killed mid-experiment (SIGKILL) leaves leftovers that the
next run sweeps; a run interrupted with Ctrl-C or SIGTERM heals its faults, stops its
environment, and leaves a labelled broken result that the release gate does not pass."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from chaoskit.install import cache_dir
from chaoskit.runtime.health import wait_for
from chaoskit.runtime.process import ProcessRuntime
from chaoskit.runtime.state import EnvRecord, state_root, stray_processes
from chaoskit.topology import load_topology

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
MINIMAL = ROOT / "fixtures" / "topologies" / "minimal.yml"

# An experiment that injects a toxic and a cut, starts load, says so, and then waits to be killed.
EXPERIMENT = """
import json, os, threading
from pathlib import Path

import pytest

@pytest.mark.chaos(title="Mid experiment", severity="critical", feature="latency", hypothesis="never decided")
def test_mid_experiment(chaos_env, faults, load):
    with load.run(user="kafka", topic="events", users=2, rate=20, duration_s=120):
        with faults.latency("producer", "kafka", ms=300), faults.down("consumer", "kafka"):
            driver = [r.pid for r in load.runs]
            Path(os.environ["READY_FILE"]).write_text(json.dumps({"env": chaos_env.env_id, "drivers": driver}))
            threading.Event().wait(120)

def test_second_run_is_green(chaos_env, services):
    assert chaos_env.status()["components"]["kafka"]["state"] == "healthy"
"""


def _start(project: Path, ready: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "READY_FILE": str(ready), "CHAOSKIT_CACHE": str(cache_dir())}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:locust",
            "-p",
            "no:cacheprovider",
            f"--chaos-topology={MINIMAL}",
            "-k",
            "mid_experiment",
            *args,
            "test_crash.py",
        ],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _until_ready(proc: subprocess.Popen[bytes], ready: Path) -> dict:
    def appeared() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the experiment ended early:\n{proc.stdout.read().decode()}")
        return ready.exists() and bool(ready.read_text())

    wait_for(appeared, 120, "the experiment to inject its faults")
    return json.loads(ready.read_text())


def _assert_no_pass(results: Path, by: str, out: Path) -> None:
    """The interrupted experiment's result is broken, carries its labels, and the real
    ``chaoskit gate`` says interrupted (exit 5)."""
    (written,) = [json.loads(p.read_text()) for p in results.glob("*-result.json")]
    assert written["status"] == "broken", written
    assert f"interrupted by {by}" in written["statusDetails"]["message"]
    labels = {label["name"]: label["value"] for label in written["labels"]}
    assert (labels["severity"], labels["feature"]) == ("critical", "latency"), labels
    assert written["name"] == "Mid experiment"
    gate = subprocess.run(
        [sys.executable, "-m", "chaoskit.cli", "gate", "--results", str(results), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=out.parent,
    )
    assert gate.returncode == 5, gate.stdout + gate.stderr
    assert "INTERRUPTED: no verdict" in gate.stdout


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "test_crash.py").write_text(EXPERIMENT)
    return tmp_path


def test_sigkill_mid_experiment_is_swept_by_the_next_run(project: Path, tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    proc = _start(project, ready)
    try:
        info = _until_ready(proc, ready)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    env_id = info["env"]
    assert stray_processes(env_id), "the killed run left nothing behind: the test proves nothing"
    record = EnvRecord.load(state_root() / env_id)
    toxiproxy = ProcessRuntime.attach(record, load_topology(MINIMAL)).toxiproxy
    assert any(p.toxics or not p.enabled for p in toxiproxy.proxies().values())

    # the load driver notices its parent is gone and stops by itself
    wait_for(lambda: not any(_alive(pid) for pid in info["drivers"]), 30, "the orphaned load driver to exit")

    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:locust",
            "-p",
            "no:cacheprovider",
            f"--chaos-topology={MINIMAL}",
            "-k",
            "second_run",
            "test_crash.py",
        ],
        cwd=project,
        env={**os.environ, "CHAOSKIT_CACHE": str(cache_dir())},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert not stray_processes(env_id)
    assert not (state_root() / env_id).exists()


@pytest.mark.parametrize(
    ("sig", "keep"),
    [(signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["ctrl-c-stopped", "ctrl-c-kept", "sigterm-stopped"],
)
def test_an_interrupt_heals_faults_stops_the_environment_and_is_no_pass(
    project: Path, tmp_path: Path, sig: signal.Signals, keep: bool
) -> None:
    ready = tmp_path / "ready.json"
    results = tmp_path / "allure-results"
    proc = _start(project, ready, f"--alluredir={results}", *(["--chaos-keep"] if keep else []))
    try:
        info = _until_ready(proc, ready)
        proc.send_signal(sig)
        out = proc.communicate(timeout=120)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    env_id = info["env"]
    assert "KeyboardInterrupt" in out, out
    _assert_no_pass(results, "SIGTERM" if sig == signal.SIGTERM else "Ctrl-C", tmp_path / "gate")
    assert not any(_alive(pid) for pid in info["drivers"]), "Ctrl-C left the load driver running"
    if not keep:
        assert not stray_processes(env_id), out
        assert not (state_root() / env_id).exists()
        return
    record = EnvRecord.load(state_root() / env_id)
    runtime = ProcessRuntime.attach(record, load_topology(MINIMAL))
    try:
        proxies = runtime.toxiproxy.proxies().values()
        assert all(p.enabled and not p.toxics for p in proxies), [(p.name, p.enabled, p.toxics) for p in proxies]
    finally:
        runtime.down()
