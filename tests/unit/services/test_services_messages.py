"""Record formats, JSON log lines and the FAIL_RATE hash: pure functions, no servers."""

from __future__ import annotations

import io
import json

import pytest

from services.log import JsonLog
from services.messages import (
    MAX_VERSION,
    DocumentEvent,
    FailureInfo,
    InvalidEvent,
    alert_record,
    decode_headers,
    dlq_record,
    encode_headers,
    processed_record,
    short_error,
    trace_headers,
)
from services.processing import injected_failure


def test_document_event_round_trips_through_the_kafka_value() -> None:
    event = DocumentEvent("e1", "key/1 ü", "content", 7)
    assert json.loads(event.to_value()) == {"event_id": "e1", "key": "key/1 ü", "content": "content", "version": 7}
    assert DocumentEvent.from_value(event.to_value()) == event


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (None, "value"),
        (b"not json", "value"),
        (b"[1]", "value"),
        (b'{"event_id": "e", "key": "", "content": "c", "version": 1}', "key"),
        (b'{"event_id": "e", "key": "k", "content": 3, "version": 1}', "content"),
        (b'{"event_id": "e", "key": "k", "content": "c", "version": -1}', "version"),
        (b'{"event_id": "e", "key": "k", "content": "c", "version": true}', "version"),
        (b'{"event_id": "e", "key": "k", "content": "c", "version": 1.5}', "version"),
        (f'{{"event_id": "e", "key": "k", "content": "c", "version": {MAX_VERSION + 1}}}'.encode(), "version"),
        (b'{"key": "k", "content": "c", "version": 1}', "event_id"),
    ],
)
def test_malformed_values_name_the_field(value: bytes | None, field: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        DocumentEvent.from_value(value)
    assert caught.value.field == field


def test_trace_headers_are_utf8_strings() -> None:
    headers = encode_headers(trace_headers("e1", "t1", 1700000000.25))
    assert headers == [("event_id", b"e1"), ("trace_id", b"t1"), ("produced_at", b"1700000000.25")]
    assert decode_headers(headers) == {"event_id": "e1", "trace_id": "t1", "produced_at": "1700000000.25"}
    assert decode_headers(None) == {}


def test_dlq_record_keeps_the_request_and_adds_the_failure_history() -> None:
    request = {"event_id": "e1", "trace_id": "t1", "produced_at": "1.5"}
    failure = FailureInfo("document-service timeout after 2s", 1, 10.0, 10.0, "documents.requested")
    record = dlq_record("documents.dlq", b"k", b"{}", request, failure)
    assert (record.topic, record.key, record.value, record.event_id, record.trace_id) == (
        "documents.dlq",
        b"k",
        b"{}",
        "e1",
        "t1",
    )
    headers = decode_headers(record.headers)
    assert headers == {
        "event_id": "e1",
        "trace_id": "t1",
        "produced_at": "1.5",
        "error": "document-service timeout after 2s",
        "attempts": "1",
        "first_failure_ts": "10.0",
        "last_failure_ts": "10.0",
        "source_topic": "documents.requested",
    }
    assert FailureInfo.from_headers(headers) == failure

    again = FailureInfo.from_headers(headers).failed_again("HTTP 503", 12.5)
    second = decode_headers(dlq_record("documents.dlq", b"k", b"{}", headers, again).headers)
    assert (second["attempts"], second["first_failure_ts"], second["last_failure_ts"], second["error"]) == (
        "2",
        "10.0",
        "12.5",
        "HTTP 503",
    )
    assert list(second).count("attempts") == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"attempts": "0", "first_failure_ts": "1", "last_failure_ts": "1"},
        {"attempts": "1", "first_failure_ts": "x"},
    ],
)
def test_failure_info_rejects_bad_headers(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidEvent):
        FailureInfo.from_headers(headers)


def test_processed_and_alert_values() -> None:
    event = DocumentEvent("e1", "k", "c", 3)
    processed = processed_record("documents.processed", event, "t1", True, "applied")
    assert json.loads(processed.value) == {
        "event_id": "e1",
        "key": "k",
        "version": 3,
        "applied": True,
        "outcome": "applied",
    }
    assert decode_headers(processed.headers) == {"event_id": "e1", "trace_id": "t1"}
    alert = alert_record("ops.alerts", "e1", "t1", "k", "boom\n  trace", 4)
    assert json.loads(alert.value) == {
        "event_id": "e1",
        "trace_id": "t1",
        "key": "k",
        "reason": "boom trace",
        "attempts": 4,
    }
    assert decode_headers(alert.headers) == {"event_id": "e1", "trace_id": "t1"}


def test_short_error_is_one_bounded_line() -> None:
    assert short_error("a\nb\tc") == "a b c"
    assert len(short_error("x" * 1000)) == 300


def test_log_lines_have_the_fixed_fields_first() -> None:
    stream = io.StringIO()
    log = JsonLog("svc", stream)
    log.info("applied", kind="applied", event_id="e1", trace_id="t1", version=3)
    log.warning("no event")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert list(first) == ["time", "service", "level", "event_id", "trace_id", "kind", "message", "version"]
    assert (first["service"], first["level"], first["kind"], first["version"]) == ("svc", "info", "applied", 3)
    assert isinstance(first["time"], float)
    assert (second["level"], second["event_id"], second["kind"]) == ("warning", None, None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"kind": "done"}, "kind"), ({"message_": None, "service": "x"}, "overwrite")],
)
def test_log_rejects_unknown_kinds_and_clashing_fields(kwargs: dict, message: str) -> None:
    kwargs.pop("message_", None)
    with pytest.raises(ValueError, match=message):
        JsonLog("svc", io.StringIO()).info("m", **kwargs)


def test_fail_rate_is_deterministic_and_close_to_the_rate() -> None:
    ids = [f"event-{i}" for i in range(4000)]
    first = [injected_failure(i, 0.25) for i in ids]
    assert first == [injected_failure(i, 0.25) for i in ids]
    assert 0.22 < sum(first) / len(ids) < 0.28
    assert not any(injected_failure(i, 0.0) for i in ids)
    assert all(injected_failure(i, 1.0) for i in ids)
    # A higher rate fails a superset: raising a canary's FAIL_RATE keeps earlier failures.
    assert all(injected_failure(i, 0.5) for i, failed in zip(ids, first) if failed)
