"""Service log lines → observations; bad lines are skipped and counted, never fatal."""

import orjson
import pytest

from chaoskit.observe.history import Kind, Observation
from chaoskit.observe.logs import UnparseableLine, observation_from_log_line, read_logs


def line(**fields) -> bytes:
    base = {"time": 1800000001.5, "service": "workflow-service", "level": "info", "event_id": "e1", "trace_id": "t1"}
    return orjson.dumps({**base, **fields})


def test_a_line_with_a_kind_is_an_observation_whose_detail_is_the_extra_fields():
    raw = line(kind="failed", message="processing failed", attempt=2, error="boom", failed_at=1800000001.4)
    assert observation_from_log_line(raw) == Observation(
        1800000001.5,
        "e1",
        "t1",
        Kind.FAILED,
        "workflow-service",
        {"attempt": 2, "error": "boom", "failed_at": 1800000001.4},
    )
    assert observation_from_log_line(raw.decode()) == observation_from_log_line(raw)


def test_a_line_without_a_kind_is_no_observation():
    assert observation_from_log_line(line(kind=None, message="partitions assigned")) is None
    assert observation_from_log_line(b'{"time": 1, "message": "no kind at all"}') is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "JSON but not an object"),
        (line(kind="exploded"), "kind 'exploded' is not one of"),
        (line(kind="applied", time="yesterday"), "time 'yesterday' is not a number"),
        (line(kind="applied", event_id=None), "a applied line without an event_id"),
        (line(kind="applied", service=""), "a applied line without a service"),
    ],
)
def test_bad_lines_are_refused_with_a_reason(raw, message):
    with pytest.raises(UnparseableLine, match=message):
        observation_from_log_line(raw)


def test_reading_files_skips_and_counts_bad_lines(tmp_path):
    good = tmp_path / "workflow.log"
    cut_short = b'{"time": 1800000002, "kind": "appl'
    good.write_bytes(b"\n".join([line(kind="consumed", partition=1), line(kind=None, message="hello"), b"", cut_short]))
    read = read_logs([good, tmp_path / "missing.log"])
    assert [o.kind for o in read.observations] == [Kind.CONSUMED]
    assert (read.lines, read.skipped) == (3, 1)
    assert read.examples[0].startswith(f"{good}:4: not JSON: ")
    assert read.missing == [str(tmp_path / "missing.log")]
