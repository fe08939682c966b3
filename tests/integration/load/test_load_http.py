"""The HTTP user against the reference system's order-service, with a broker pause."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from chaoskit.load.config import Target
from chaoskit.load.runner import LoadRunner
from chaoskit.runtime.health import wait_for
from chaoskit.runtime.process import ProcessRuntime

pytestmark = pytest.mark.integration


def test_http_run_shows_a_kafka_pause_in_the_during_phase_only(
    load_reference_env: ProcessRuntime, tmp_path: Path
) -> None:
    env = load_reference_env
    runner = LoadRunner(tmp_path, Target.http(f"http://{env.endpoint('order-service')}"))
    with runner.run(users=10, rate=100, duration_s=20, key_prefix=f"http-it-{uuid.uuid4().hex[:8]}") as run:
        wait_for(lambda: sum(1 for s in run.seconds() if s.requests) >= 5, 20, "5 seconds of baseline load")
        paused_at = time.time()
        env.pause("kafka")
        try:
            seconds_at_pause = len(run.seconds())
            wait_for(lambda: len(run.seconds()) >= seconds_at_pause + 3, 10, "3 seconds of load with Kafka paused")
        finally:
            env.resume("kafka")
        resumed_at = time.time()
    result = run.result

    assert result.complete and result.stop_reason == "duration", result.summary_line()
    assert len(result.seconds) >= 19
    assert sum(s.requests for s in result.seconds) == len(result.records) == result.locust_totals["requests"]
    assert len(result.acked_event_ids()) == result.totals.requests - result.totals.failures

    before, during, after = result.phases([("kafka paused", paused_at, resumed_at)])
    assert (before.phase, during.phase, after.phase) == ("before", "during", "after")
    assert before.requests and during.requests and after.requests
    assert before.failures == 0 and after.failures == 0, result.errors()
    assert during.failures > 0 or (
        during.p99 is not None
        and before.p99 is not None
        and after.p99 is not None
        and during.p99 > max(before.p99, after.p99)
    ), (before, during, after)


def test_http_users_on_two_workers_report_every_request_through_the_master(
    load_reference_env: ProcessRuntime, tmp_path: Path
) -> None:
    """The HTTP user's records come through Locust's request event on each worker, and
    from there to the master: every request is in the run's records and in Locust's totals,
    and each key's versions still count up (each worker has its own slice of the keys)."""
    runner = LoadRunner(tmp_path, Target.http(f"http://{load_reference_env.endpoint('order-service')}"))
    with runner.run(
        users=4, rate=40, duration_s=4, key_prefix=f"http-workers-it-{uuid.uuid4().hex[:8]}", workers=2
    ) as run:
        assert len(run.pids) == 3
    result = run.result
    assert result.complete and result.stop_reason == "duration", result.summary_line()
    assert result.totals.failures == 0, result.errors()
    assert sum(s.requests for s in result.seconds) == len(result.records) == result.locust_totals["requests"] > 0
    versions: dict[str, list[int]] = {}
    for record in sorted(result.records, key=lambda r: r.start_time):
        versions.setdefault(record.key, []).append(record.version)
    assert all(sorted(seen) == list(range(1, len(seen) + 1)) for seen in versions.values()), versions
