"""The reference experiments on the docker runtime: one of each fault kind, run as a user
runs them (``pytest experiments --chaos-runtime=docker``), in a subprocess with its own
environment. Skips only when no container engine is available (the ``engine`` fixture)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from chaoskit.runtime.docker import sweep_orphans

pytestmark = [pytest.mark.integration, pytest.mark.docker]
ROOT = Path(__file__).resolve().parents[3]
# One experiment per fault kind; ~2.5 minutes on a 2-core machine, environment start included.
SUBSET = (
    "test_latency_on_document_service",  # latency on a link
    "test_document_service_hangs",  # a dependency outage -> DLQ -> retry
    "test_repeated_failure_raises_one_alert",  # retries exhausted -> one alert
    "test_broker_killed_and_restarted",  # broker loss
    "test_workflow_service_partitioned_from_kafka",  # a partition
    "test_bad_canary_is_rolled_back_automatically",  # a bad deploy rolled back under load
)
TIMEOUT_S = 1500.0  # generous: the machine is shared
TAIL_LINES = 80


def test_the_experiment_subset_passes_on_the_docker_runtime(engine):
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "experiments",
        "-p",
        "no:locust",
        "-p",
        "no:cacheprovider",
        "-q",
        "--chaos-runtime=docker",
        "-k",
        " or ".join(SUBSET),
    ]
    run = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        output, _ = run.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        output = stop(run, engine)
        tail = "\n".join(output.splitlines()[-TAIL_LINES:])
        pytest.fail(f"the docker experiment subset did not finish within {TIMEOUT_S:.0f} s:\n{tail}", pytrace=False)
    tail = "\n".join(output.splitlines()[-TAIL_LINES:])
    assert run.returncode == 0, f"`{' '.join(argv[2:])}` exited {run.returncode}:\n{tail}"
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) == len(SUBSET), f"expected {len(SUBSET)} experiments to pass:\n{tail}"


def stop(run: subprocess.Popen[str], engine) -> str:
    """SIGTERM first (the plugin heals and downs the environment on it), SIGKILL after a
    grace period; then the dead run's containers are swept by label. Returns its output."""
    run.send_signal(signal.SIGTERM)
    try:
        output, _ = run.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        run.kill()
        output, _ = run.communicate(timeout=30)
    sweep_orphans(engine)
    return output or ""
