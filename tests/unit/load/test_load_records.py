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
    merge_seconds,
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


def test_seconds_of_several_processes_add_up_with_percentiles_over_all_their_records() -> None:
    def batch(*latencies: float) -> list[RequestRecord]:
        return [RequestRecord(f"e{n}", "t", "k", 1, True, 100.0, ms) for n, ms in enumerate(latencies)]

    first = ([_second(101.0, 2, 3), _second(102.0, 1, 3)], [batch(1.0, 2.0), batch(50.0)])
    second = ([_second(101.4, 2, 2)], [batch(3.0, 100.0)])
    merged = merge_seconds([first, second])
    assert [(s.time, s.requests, s.users, s.rps) for s in merged] == [(101.4, 4, 5, 4.0), (102.0, 1, 3, 1.0)]
    assert (merged[0].p50, merged[0].p95, merged[1].p99) == (2.0, 100.0, 50.0)


def test_a_run_in_two_processes_reads_as_one(tmp_path: Path) -> None:
    parts = [RunFiles(tmp_path, 0), RunFiles(tmp_path, 1)]
    for n, part in enumerate(parts):
        part.events.write_bytes(encode_records([(f"e{n}", "t", f"k-{n}", 1, True, 100.0 + n, 5.0, None)]))
        part.stats.write_text(_second(101.0 + n, 1, 1).to_line() + "\n")
        part.status.write_text(
            json.dumps(
                {
                    "state": "stopped",
                    "started_at": 99.0 + n,
                    "ended_at": 103.0 + n,
                    "reason": "duration",
                    "locust": {"requests": 1, "failures": 0},
                    "cpu_s": 1.0 + n,
                    "wall_s": 4.0,
                }
            )
        )
    result = LoadResult.read(tmp_path, parts, LoadConfig(target=Target.http("http://127.0.0.1:1"), processes=2))
    assert [r.event_id for r in result.records] == ["e0", "e1"]
    assert (result.started_at, result.ended_at, result.complete) == (99.0, 104.0, True)
    assert result.locust_totals == {"requests": 2, "failures": 0}
    assert [(s.requests, s.users) for s in result.seconds] == [(2, 2)]
    assert (result.driver_cpu_s, result.driver_wall_s) == (3.0, 4.0)
    assert (result.core_shares, result.core_share) == ((0.25, 0.5), 0.5)
    parts[1].status.write_text(json.dumps({"state": "running", "started_at": 100.0}))
    killed = LoadResult.read(tmp_path, parts, LoadConfig(target=Target.http("http://127.0.0.1:1"), processes=2))
    assert (killed.complete, killed.stop_reason, killed.core_share, killed.locust_totals) == (False, "killed", None, {})
