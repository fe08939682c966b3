"""Reading the driver's files while it still writes them, and results made from them."""

from __future__ import annotations

import json
from pathlib import Path

from chaoskit.load.config import LoadConfig, Target
from chaoskit.load.records import RequestRecord, RunFiles, encode_records, read_jsonl, read_records
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
    assert read_records(path) == [RequestRecord("e1", "t1", "k-0", 1, True, 100.0, 5.0)]
    path.write_bytes(first + second)
    assert read_records(path)[1] == RequestRecord("e2", "t2", "k-0", 2, False, 101.0, 50.0, 'HTTP 503: "down"')


def test_result_of_a_finished_run(tmp_path: Path) -> None:
    files = RunFiles(tmp_path)
    records = [
        RequestRecord("e1", "t1", "k-0", 1, True, 100.0, 5.0),
        RequestRecord("e2", "t2", "k-0", 2, False, 101.0, 50.0, "HTTP 503: broker down"),
        RequestRecord("e3", "t3", "k-1", 1, True, 102.0, 7.0),
    ]
    files.events.write_bytes(encode_records([tuple(r) for r in records[:2]]) + encode_records([tuple(records[2])]))
    files.status.write_text(json.dumps({
        "state": "stopped", "started_at": 99.5, "ended_at": 103.0, "reason": "duration",
        "locust": {"requests": 3, "failures": 1},
    }))
    result = LoadResult.read(files, LoadConfig(target=Target.http("http://127.0.0.1:1")))
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
    result = LoadResult.read(files, LoadConfig(target=Target.http("http://127.0.0.1:1")))
    assert not result.complete and result.stop_reason == "killed"
    assert result.started_at == 10.0 and result.ended_at == 11.002
