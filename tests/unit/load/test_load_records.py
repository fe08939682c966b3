"""Reading the driver's files while it still writes them, and results made from them."""

from __future__ import annotations

import json
from pathlib import Path

from chaoskit.load.config import LoadConfig, Target
from chaoskit.load.records import (
    RequestRecord,
    RunFiles,
    SecondStats,
    encode_records,
    read_batches,
    read_jsonl,
)
from chaoskit.load.result import LoadResult


def test_a_line_still_being_written_is_left_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a":')
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_a_batch_still_being_written_is_left_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    first = encode_records([("e1", "t1", "k-0", 1, True, 100.0, 5.0, None)])
    second = encode_records([("e2", "t2", "k-0", 2, False, 101.0, 50.0, 'HTTP 503: "down"')])
    path.write_bytes(first + second[:-10])
    assert read_batches(path) == [[RequestRecord("e1", "t1", "k-0", 1, True, 100.0, 5.0)]]
    path.write_bytes(first + second)
    assert read_batches(path)[1] == [RequestRecord("e2", "t2", "k-0", 2, False, 101.0, 50.0, 'HTTP 503: "down"')]


def test_result_of_a_finished_run(tmp_path: Path) -> None:
    files = RunFiles(tmp_path)
    records = [
        RequestRecord("e1", "t1", "k-0", 1, True, 100.0, 5.0),
        RequestRecord("e2", "t2", "k-0", 2, False, 101.0, 50.0, "HTTP 503: broker down"),
        RequestRecord("e3", "t3", "k-1", 1, True, 102.0, 7.0),
    ]
    files.events.write_bytes(encode_records([tuple(r) for r in records[:2]]) + encode_records([tuple(records[2])]))
    files.status.write_text(
        json.dumps(
            {
                "state": "stopped",
                "started_at": 99.5,
                "ended_at": 103.0,
                "reason": "duration",
                "locust": {"requests": 3, "failures": 1},
            }
        )
    )
    result = LoadResult.read(tmp_path, [files], LoadConfig(target=Target.http("http://127.0.0.1:1")))
    assert result.complete and result.stop_reason == "duration"
    assert result.records == records
    assert result.acked_event_ids() == {"e1", "e3"}
    assert result.errors() == {"HTTP 503: broker down": 1}
    assert (result.totals.requests, result.totals.failures) == (3, 1)
    assert result.duration_s == 3.5
    during = [p for p in result.phases([("w", 100.9, 101.2)]) if p.phase == "during"]
    assert during[0].requests == 1 and during[0].failures == 1
    assert "3 requests in 3.5 s, 1 failed (33.3%)" in result.summary_line()


def test_result_of_a_killed_driver_is_marked_incomplete(tmp_path: Path) -> None:
    files = RunFiles(tmp_path)
    files.status.write_text(json.dumps({"state": "running", "started_at": 10.0}))
    files.events.write_bytes(encode_records([("e1", "t1", "k", 1, True, 11.0, 2.0, None)]))
    result = LoadResult.read(tmp_path, [files], LoadConfig(target=Target.http("http://127.0.0.1:1")))
    assert not result.complete and result.stop_reason == "killed"
    assert result.started_at == 10.0 and result.ended_at == 11.002


def _second(time: float, requests: int, users: int) -> SecondStats:
    return SecondStats(
        time=time, requests=requests, failures=0, rps=float(requests), p50=None, p95=None, p99=None, users=users
    )


def test_a_master_worker_run_reads_records_and_seconds_from_the_master_and_usage_from_every_process(
    tmp_path: Path,
) -> None:
    """The master (process 0) wrote the whole run's records and seconds, the workers'
    batches interleaved (sorted back by start time); each local process has a status."""
    parts = [RunFiles(tmp_path, 0), RunFiles(tmp_path, 1), RunFiles(tmp_path, 2)]
    worker_1 = [("e2", "t", "k-0", 1, True, 100.5, 5.0, None)]
    worker_2 = [("e1", "t", "k-1", 1, True, 100.0, 7.0, None), ("e3", "t", "k-1", 2, False, 101.0, 9.0, "x")]
    parts[0].events.write_bytes(encode_records(worker_1) + encode_records(worker_2))
    parts[0].stats.write_text(_second(101.0, 3, 2).to_line() + "\n")
    for n, part in enumerate(parts):
        part.status.write_text(
            json.dumps(
                {
                    "state": "stopped",
                    "started_at": 99.0 + n,
                    "ended_at": 103.0 + n,
                    "reason": "duration" if n == 0 else "master quit",
                    "locust": {"requests": 3, "failures": 1} if n == 0 else {"requests": 0, "failures": 0},
                    "cpu_s": 1.0 + n,
                    "wall_s": 4.0,
                }
            )
        )
    config = LoadConfig(target=Target.http("http://127.0.0.1:1"), workers=2)
    result = LoadResult.read(tmp_path, parts, config)
    assert [r.event_id for r in result.records] == ["e1", "e2", "e3"]
    assert (result.started_at, result.ended_at, result.complete, result.stop_reason) == (99.0, 105.0, True, "duration")
    assert result.locust_totals == {"requests": 3, "failures": 1}
    assert [(s.requests, s.users) for s in result.seconds] == [(3, 2)]
    assert (result.driver_cpu_s, result.driver_wall_s) == (6.0, 4.0)
    assert (result.core_shares, result.core_share) == ((0.25, 0.5, 0.75), 0.75)
    parts[2].status.write_text(json.dumps({"state": "running", "started_at": 100.0}))
    killed = LoadResult.read(tmp_path, parts, config)
    assert (killed.complete, killed.stop_reason, killed.core_share, killed.locust_totals) == (False, "killed", None, {})
