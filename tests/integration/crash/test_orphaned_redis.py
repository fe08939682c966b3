"""A run SIGKILLed in the middle of a wipe, after the new Redis started and before its pid
reached the record, leaves a Redis that nothing but its stdout can tie to the environment:
redis-server writes its process title over its environment block (the ``CHAOSKIT_ENV`` tag)
and its arguments. The next sweep (``chaoskit down``) still finds and removes it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from chaoskit.runtime.health import redis_ping, wait_for
from chaoskit.runtime.plan import Plan, addr
from chaoskit.runtime.state import EnvRecord, state_root, stray_processes

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
MINIMAL = ROOT / "fixtures" / "topologies" / "minimal.yml"

# Brings an environment up, then wipes Redis and stops dead where the new Redis is running
# but not yet recorded: prints "<env id> <new redis pid>" and waits to be killed.
_WIPER = """
import os, sys
import chaoskit.runtime.process as process
from chaoskit.topology import load_topology

rt = process.ProcessRuntime(load_topology(sys.argv[1]), owner_pid=os.getpid())
rt.up()

def stuck_before_recording(pid):
    print(rt.env_id, pid, flush=True)
    sys.stdin.read()

process.ProcessRecord.of = stuck_before_recording
rt.wipe("redis")
"""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_redis_orphaned_mid_wipe_is_swept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSKIT_STATE_DIR", str(tmp_path / "state"))
    owner = subprocess.Popen(
        [sys.executable, "-c", _WIPER, str(MINIMAL)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    redis_pid, env_id = 0, ""
    try:
        assert owner.stdout is not None
        env_id, pid_text = owner.stdout.readline().split()
        redis_pid = int(pid_text)
        record = EnvRecord.load(state_root() / env_id)
        wait_for(lambda: redis_ping(addr(Plan.from_json(record.plan).direct["redis"])), 30, "the new redis")
        assert "CHAOSKIT_ENV" not in psutil.Process(redis_pid).environ(), "redis kept its tag: nothing is proven"
        assert redis_pid != record.processes["redis"].pid, "the new redis reached the record"
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(30)
    try:
        assert redis_pid in {p.pid for p in stray_processes(env_id)}
        swept = subprocess.run(
            [sys.executable, "-m", "chaoskit.cli", "down"], capture_output=True, text=True, timeout=120
        )
        assert swept.returncode == 0, swept.stderr
        assert f"swept orphaned environment(s): {env_id}" in swept.stdout
        wait_for(lambda: not _alive(redis_pid), 30, "the orphaned redis to be gone")
        assert not stray_processes(env_id) and not (state_root() / env_id).exists()
    finally:
        if redis_pid and _alive(redis_pid):
            psutil.Process(redis_pid).kill()
        if env_id and (state_root() / env_id).exists():  # not --all: that would reach other runs' processes
            subprocess.run([sys.executable, "-m", "chaoskit.cli", "down", env_id], capture_output=True, timeout=120)
