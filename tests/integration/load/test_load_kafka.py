"""The Kafka user and the driver processes on a real broker (the minimal topology): one
process, and Locust's master with its workers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import uuid
from collections import defaultdict
from pathlib import Path

import psutil
import pytest
from confluent_kafka import Consumer

from chaoskit.load.config import Target
from chaoskit.load.result import LoadResult
from chaoskit.load.runner import LoadRunner
from chaoskit.runtime.health import wait_for
from chaoskit.runtime.process import ProcessRuntime

pytestmark = pytest.mark.integration
TOPIC = "events"


def kafka_runner(env: ProcessRuntime, out: Path) -> LoadRunner:
    return LoadRunner(out, Target.kafka(env.endpoint("kafka"), TOPIC))


def consume_prefix(bootstrap: str, prefix: str, expected: int, timeout_s: float = 30.0) -> list[dict]:
    """Every record of TOPIC whose key has ``prefix``, read back from the beginning."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([TOPIC])
    seen: list[dict] = []
    try:

        def read_all() -> bool:
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                if msg.error() or not msg.key().decode().startswith(prefix):
                    continue
                headers = {k: v.decode() for k, v in msg.headers() or []}
                seen.append({"key": msg.key().decode(), "value": json.loads(msg.value()), "headers": headers})
            return len(seen) >= expected

        wait_for(read_all, timeout_s, f"{expected} records with key prefix {prefix!r} in {TOPIC}")
        consumer.consume(num_messages=1000, timeout=1.0)  # nothing beyond what was acknowledged
    finally:
        consumer.close()
    return seen


def driver_processes(run_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "chaoskit.load.driver" in cmdline and any(str(run_dir) in part for part in cmdline):
            found.append(proc)
    return found


@pytest.mark.parametrize(
    ("users", "rate", "duration_s", "workers"),
    [(5, 100, 10, 0), (1, 3000, 5, 0), (4, 400, 5, 2)],
    # above 1000 events/s per user a task sends a group of events; two workers share users and keys
    ids=["paced", "grouped", "two-workers"],
)
def test_kafka_user_reports_per_second_and_its_acked_ids_are_in_kafka(
    load_minimal_env: ProcessRuntime, tmp_path: Path, users: int, rate: float, duration_s: float, workers: int
) -> None:
    prefix = f"kafka-it-{uuid.uuid4().hex[:8]}"
    with kafka_runner(load_minimal_env, tmp_path).run(
        user="kafka",
        users=users,
        rate=rate,
        duration_s=duration_s,
        key_prefix=prefix,
        key_count=20,
        workers=workers,
    ) as run:
        assert len(set(run.pids)) == 1 + workers  # the master and its workers, or the one process
        wait_for(lambda: any(s.requests for s in run.seconds()), 15, "a second with requests while running")
    result: LoadResult = run.result

    assert result.complete and result.stop_reason == "duration", result.summary_line()
    assert len(result.seconds) >= duration_s - 1
    assert sum(s.requests for s in result.seconds) == len(result.records)
    assert max(s.users for s in result.seconds) == users
    assert result.locust_totals == {"requests": len(result.records), "failures": result.totals.failures}
    assert result.totals.failures == 0, result.errors()
    acked = result.acked_event_ids()
    assert len(acked) == len(result.records) > 0

    consumed = consume_prefix(load_minimal_env.endpoint("kafka"), prefix, len(acked))
    assert {r["headers"]["event_id"] for r in consumed} == acked
    sent = {r.event_id: r for r in result.records}
    versions: dict[str, list[int]] = defaultdict(list)
    for item in consumed:
        record = sent[item["headers"]["event_id"]]
        assert item["headers"]["trace_id"] == record.trace_id
        assert item["value"] == {
            "event_id": record.event_id,
            "key": record.key,
            "content": "x" * 256,
            "version": record.version,
        }
        assert item["key"] == record.key and float(item["headers"]["produced_at"]) > 0
        versions[item["key"]].append(item["value"]["version"])
    for key, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), f"versions of {key} out of order in Kafka: {seen}"


def test_step_shape_changes_the_user_count_in_the_driver(load_minimal_env: ProcessRuntime, tmp_path: Path) -> None:
    with kafka_runner(load_minimal_env, tmp_path).run(
        user="kafka",
        users=4,
        rate=40,
        shape="step",
        steps=2,
        duration_s=4,
        key_prefix="step-it",
    ) as run:
        pass
    counts = [s.users for s in run.result.seconds]
    assert 2 in counts and 4 in counts and counts.index(2) < counts.index(4), counts


@pytest.mark.parametrize(("interruption", "workers"), [(RuntimeError, 0), (KeyboardInterrupt, 2)])
def test_an_exception_in_the_block_stops_the_driver_and_keeps_its_records(
    load_minimal_env: ProcessRuntime, tmp_path: Path, interruption: type[BaseException], workers: int
) -> None:
    runner = kafka_runner(load_minimal_env, tmp_path)
    with pytest.raises(interruption, match="experiment interrupted"):
        with runner.run(user="kafka", users=2, rate=50, key_prefix="interrupted-it", workers=workers) as run:
            pids = run.pids
            assert len(driver_processes(tmp_path)) == 1 + workers, "the drivers should be running inside the block"
            wait_for(lambda: any(s.requests for s in run.seconds()), 15, "a second with requests")
            raise interruption("experiment interrupted")
    assert not any(psutil.pid_exists(pid) for pid in pids)
    assert driver_processes(tmp_path) == []
    assert run.result.complete and run.result.stop_reason == "SIGTERM"
    assert run.result.records and run.result.totals.failures == 0
    if workers:  # the workers' last records reached the master before it quit
        assert run.result.locust_totals["requests"] == len(run.result.records)


@pytest.mark.parametrize("workers", [0, 2])
def test_the_driver_exits_when_its_parent_dies(load_minimal_env: ProcessRuntime, tmp_path: Path, workers: int) -> None:
    """A test process killed outright (no teardown at all) must not leave Locust behind:
    neither the one process nor the master and its workers."""
    script = textwrap.dedent(f"""
        import sys, time
        from chaoskit.load.config import Target
        from chaoskit.load.runner import LoadRunner
        runner = LoadRunner({str(tmp_path)!r}, Target.kafka({load_minimal_env.endpoint("kafka")!r}, "events"))
        with runner.run(user="kafka", users=2, rate=10, key_prefix="orphan-it", workers={workers}) as run:
            print(*run.pids, flush=True)
            time.sleep(120)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    drivers: list[psutil.Process] = []
    try:
        assert parent.stdout is not None
        drivers = [psutil.Process(int(pid)) for pid in parent.stdout.readline().split()]
        assert len(drivers) == 1 + workers and all(driver.is_running() for driver in drivers)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        wait_for(
            lambda: all(not d.is_running() or d.status() == psutil.STATUS_ZOMBIE for d in drivers),
            30,
            "the orphaned drivers to exit",
        )
        for n in range(1 + workers):
            status = json.loads(next(tmp_path.glob(f"load-*/status-{n}.json")).read_text())
            assert status["state"] == "stopped" and status["reason"] in ("parent exited", "master quit"), status
        assert json.loads(next(tmp_path.glob("load-*/status-0.json")).read_text())["reason"] == "parent exited"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
        for driver in drivers:
            if driver.is_running():
                driver.kill()


def test_an_open_ended_run_stops_itself_at_max_duration(load_minimal_env: ProcessRuntime, tmp_path: Path) -> None:
    with kafka_runner(load_minimal_env, tmp_path).run(
        user="kafka",
        users=1,
        rate=20,
        max_duration_s=3,
        key_prefix="bounded-it",
    ) as run:
        wait_for(lambda: not run.running(), 30, "the driver to stop at max_duration_s")
    assert run.result.complete and run.result.stop_reason == "max_duration_s"
    assert run.result.records and run.result.totals.failures == 0


def test_undeliverable_events_are_failures_in_the_records_and_in_locusts_statistics(tmp_path: Path) -> None:
    """A broker that never answers: every event times out in librdkafka, and each one is a
    failed record with librdkafka's reason, counted by Locust as a failure too."""
    with socket.socket() as silent:  # bound, never listening: connections are refused
        silent.bind(("127.0.0.1", 0))
        bootstrap = f"127.0.0.1:{silent.getsockname()[1]}"
        runner = LoadRunner(tmp_path, Target.kafka(bootstrap, TOPIC))
        with runner.run(
            user="kafka", users=2, rate=20, duration_s=2, request_timeout_s=1, key_prefix="undeliverable-it"
        ) as run:
            pass
    result = run.result
    assert result.complete and result.records, result.summary_line()
    assert result.acked_event_ids() == set()
    assert result.totals.failures == len(result.records)
    assert set(result.errors()) == {'KafkaError{code=_MSG_TIMED_OUT,val=-192,str="Local: Message timed out"}'}
    assert result.locust_totals == {"requests": len(result.records), "failures": len(result.records)}
