"""``chaoskit/load/users.py`` works as a plain locustfile with Locust's own command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chaoskit.runtime.process import ProcessRuntime

pytestmark = pytest.mark.integration
# By path, never imported: importing Locust into the pytest process breaks it.
LOCUSTFILE = Path(__file__).resolve().parents[3] / "chaoskit" / "load" / "users.py"


def locust(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--loglevel", "WARNING", *args],
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_kafka_user_from_the_locust_command_line(load_minimal_env: ProcessRuntime) -> None:
    proc = locust(
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "3s",
        "--json",
        "--only-summary",
        "KafkaProducerUser",
        "--kafka-bootstrap",
        load_minimal_env.endpoint("kafka"),
        "--kafka-topic",
        "events",
        "--key-prefix",
        "locustfile-it",
        "--user-rate",
        "20",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (entry,) = json.loads(proc.stdout)
    assert (entry["method"], entry["name"]) == ("KAFKA", "events")
    assert entry["num_requests"] > 0 and entry["num_failures"] == 0
    # delivery reports are folded into Locust's statistics in batches: the histogram, the
    # per-second counts and the bytes must still add up to every request
    assert sum(entry["response_times"].values()) == entry["num_requests"]
    assert sum(entry["num_reqs_per_sec"].values()) == entry["num_requests"]
    assert 0 < entry["min_response_time"] <= entry["max_response_time"]
    assert entry["total_content_length"] > 300 * entry["num_requests"]  # 256-byte content plus the JSON around it


def test_the_locustfile_refuses_a_host_off_the_loopback() -> None:
    proc = locust("-u", "1", "-r", "1", "-t", "2s", "--host", "http://192.0.2.10:80", "OrderServiceUser")
    assert proc.returncode == 1
    assert "not this machine's loopback" in proc.stderr
