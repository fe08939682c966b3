"""History: appends, time order, indexes, columns, and the JSON-lines round trip."""

import orjson
import pytest

from chaoskit.observe.history import NO_TRACE, History, HistoryFormatError, Kind, Observation

T = 1_800_000_000.0


def sample() -> History:
    history = History()
    history.append(T + 1.0, "e1", "t1", Kind.ACKED, "documents.requested", {"key": "k1", "partition": 0, "offset": 7})
    history.append(T + 0.5, "e2", "t2", "acked", "documents.requested", {"key": "k2"})  # out of order, kind as text
    history.append(T + 2.0, "e1", "t1", Kind.APPLIED, "workflow-service", {"version": 1, "note": None})
    history.append(T + 2.0, "e1", "t1", Kind.CONSUMED, "workflow-service")
    history.append(T + 3.0, "e2", None, Kind.DEAD_LETTERED, "documents.dlq", {"error": "boom", "attempts": 1})
    history.append(T + 4.0, "e3", None, Kind.ALERTED, "ops.alerts", {"key": "k1"})
    return history


def test_iteration_is_in_time_order_with_lifecycle_order_for_ties():
    observed = [(o.time - T, o.event_id, o.kind) for o in sample()]
    assert observed == [
        (0.5, "e2", Kind.ACKED),
        (1.0, "e1", Kind.ACKED),
        (2.0, "e1", Kind.CONSUMED),
        (2.0, "e1", Kind.APPLIED),
        (3.0, "e2", Kind.DEAD_LETTERED),
        (4.0, "e3", Kind.ALERTED),
    ]


def test_observations_carry_their_detail_without_absent_fields():
    first = next(iter(sample()))
    assert first == Observation(T + 0.5, "e2", "t2", Kind.ACKED, "documents.requested", {"key": "k2"})
    applied = sample().for_event("e1")[-1]
    assert applied.detail == {"version": 1}


def test_indexes_per_event_trace_and_key():
    history = sample()
    assert [o.kind for o in history.for_event("e1")] == [Kind.ACKED, Kind.CONSUMED, Kind.APPLIED]
    assert history.for_event("nope") == []
    assert [o.kind for o in history.for_trace("t2")] == [Kind.ACKED]  # the DLQ entry lost its trace
    assert [(o.event_id, o.kind) for o in history.for_key("k1")] == [
        ("e1", Kind.ACKED),
        ("e1", Kind.CONSUMED),
        ("e1", Kind.APPLIED),
        ("e3", Kind.ALERTED),
    ]
    assert history.key_of("e2") == "k2" and history.key_of("nope") is None
    assert set(history.for_events(["e2", "nope"])) == {"e2", "nope"}
    assert [o.kind for o in history.for_events(["e2"])["e2"]] == [Kind.ACKED, Kind.DEAD_LETTERED]


def test_indexes_see_later_appends():
    history = sample()
    assert len(history.for_event("e3")) == 1
    history.append(T + 5.0, "e3", None, Kind.COMMITTED, "workflow-service")
    assert len(history.for_event("e3")) == 2


def test_select_gives_columns_in_time_order_with_numbers_for_events_and_traces():
    history = sample()
    acked = history.select(Kind.ACKED)
    assert len(acked) == 2
    assert acked.time == [T + 0.5, T + 1.0]
    assert acked.event_id == ["e2", "e1"]
    assert [history.event_id(n) for n in acked.event] == ["e2", "e1"]
    assert acked.trace_id == ["t2", "t1"]
    assert acked.where == ["documents.requested"] * 2
    assert acked.field("key") == ["k2", "k1"]
    assert acked.field("offset") == [None, 7]
    assert acked.field("absent") == [None, None]
    parked = history.select(Kind.DEAD_LETTERED)
    assert parked.trace == [NO_TRACE] and parked.trace_id == [None]
    assert history.first_trace(parked.event[0]) != NO_TRACE


def test_len_count_span_and_event_ids():
    history = sample()
    assert len(history) == 6
    assert history.count(Kind.ACKED) == 2 and history.count(Kind.FAILED) == 0
    assert history.span() == (T + 0.5, T + 4.0)
    assert History().span() is None
    assert history.event_ids() == ["e1", "e2", "e3"]


def test_save_and_load_round_trip(tmp_path):
    history = sample()
    path = tmp_path / "history.jsonl"
    history.save(path)

    loaded = History.load(path)

    assert list(loaded) == list(history)
    assert len(loaded) == 6 and loaded.span() == history.span()
    assert loaded.for_key("k1") == history.for_key("k1")
    assert loaded.select(Kind.DEAD_LETTERED).trace_id == [None]
    loaded.append(T + 6.0, "e4", "t4", Kind.ACKED, "documents.requested", {"key": "k4"})
    assert [o.event_id for o in loaded.for_key("k4")] == ["e4"]


def test_round_trip_of_many_blocks_and_encoded_text(tmp_path, monkeypatch):
    monkeypatch.setattr("chaoskit.observe.history._BLOCK_ROWS", 4)
    history = History()
    for n in range(10):
        detail = {"key": f"k{n % 2}", "error": "boom" if n == 4 else None, "version": n}
        history.append(T + n, f"e{n}", f"t{n}" if n != 5 else "other", Kind.APPLIED, "workflow-service", detail)
        history.append(T + n + 0.5, f"e{n}", f"t{n}", Kind.COMMITTED, "workflow-service")
    path = tmp_path / "history.jsonl"
    history.save(path)
    lines = path.read_bytes().splitlines()
    assert any(b'"encoded":["detail.key"]' in line for line in lines)

    loaded = History.load(path)

    assert list(loaded) == list(history)
    assert loaded.select(Kind.APPLIED).field("error") == [None] * 4 + ["boom"] + [None] * 5
    assert loaded.for_event("e5")[1].trace_id == "t5"  # a per-observation trace survives


def test_an_empty_history_round_trips(tmp_path):
    path = tmp_path / "empty.jsonl"
    History().save(path)
    assert list(History.load(path)) == []


def test_a_truncated_file_is_refused(tmp_path):
    path = tmp_path / "history.jsonl"
    sample().save(path)
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join(lines[:-1]) + b"\n")
    with pytest.raises(HistoryFormatError, match="truncated"):
        History.load(path)


def test_a_file_that_is_not_a_history_is_refused(tmp_path):
    path = tmp_path / "other.jsonl"
    path.write_bytes(b'{"hello": 1}\n')
    with pytest.raises(HistoryFormatError, match="line 1: not a chaoskit history header"):
        History.load(path)
    path.write_bytes(orjson.dumps({"format": "chaoskit.history", "version": 99}) + b"\n")
    with pytest.raises(HistoryFormatError, match="version 99"):
        History.load(path)


def test_a_corrupt_column_is_reported_with_its_line_when_read(tmp_path):
    path = tmp_path / "history.jsonl"
    sample().save(path)
    lines = path.read_bytes().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith(b'{"block":"alerted"'))
    lines[header + 2] = b"[99]"  # the event column: an event number past the table
    path.write_bytes(b"\n".join(lines) + b"\n")

    history = History.load(path)  # the structure is fine
    with pytest.raises(HistoryFormatError, match=f"line {header + 3}: refers to a symbol not defined"):
        _ = history.select(Kind.ALERTED).event
