"""Kafka records → observations (plain values standing in for a consumed message)."""

from types import SimpleNamespace

import orjson
import pytest

from chaoskit.observe.history import Kind, Observation
from chaoskit.observe.topic_records import Record, Topics, UnparseableRecord, observation_from_record

TOPICS = Topics(
    requests="documents.requested", processed="documents.processed", dlq="documents.dlq", alerts="ops.alerts"
)
STAMP_MS = 1_800_000_012_345


def record(topic: str, value: dict | bytes | None, headers: dict[str, str] | None = None, **fields) -> Record:
    raw = orjson.dumps(value) if isinstance(value, dict) else value
    encoded = [(name, text.encode()) for name, text in (headers or {}).items()]
    partition, offset = fields.get("partition", 2), fields.get("offset", 41)
    return Record(topic, partition, offset, fields.get("timestamp_ms", STAMP_MS), b"k1", raw, encoded)


def test_a_request_record_means_the_broker_acked_the_event():
    value = {"event_id": "e1", "key": "k1", "content": "x", "version": 3}
    headers = {"event_id": "e1", "trace_id": "t1", "produced_at": "1800000012.3"}
    observation = observation_from_record(record("documents.requested", value, headers), TOPICS)
    assert observation == Observation(
        1_800_000_012.345,
        "e1",
        "t1",
        Kind.ACKED,
        "documents.requested",
        {"partition": 2, "offset": 41, "key": "k1", "version": 3, "produced_at": 1_800_000_012.3},
    )


@pytest.mark.parametrize(
    ("outcome", "effect"), [("applied", True), ("duplicate", False), ("stale", False), (None, True)]
)
def test_a_processed_record_is_an_effect_only_when_this_delivery_applied_it(outcome, effect):
    value = {"event_id": "e1", "key": "k1", "version": 3, "applied": outcome != "stale"}
    if outcome is not None:
        value["outcome"] = outcome
    observation = observation_from_record(record("documents.processed", value, {"trace_id": "t1"}), TOPICS)
    assert observation.kind is Kind.APPLIED
    assert observation.detail["applied"] is effect
    assert observation.detail.get("outcome") == outcome


def test_a_dlq_record_carries_cause_attempts_and_failure_times():
    headers = {
        "event_id": "e1",
        "trace_id": "t1",
        "error": "document-service: 503",
        "attempts": "2",
        "first_failure_ts": "1800000010.5",
        "last_failure_ts": "1800000011.5",
        "source_topic": "documents.requested",
    }
    value = {"event_id": "e1", "key": "k1", "content": "x", "version": 3}
    observation = observation_from_record(record("documents.dlq", value, headers), TOPICS)
    assert observation.kind is Kind.DEAD_LETTERED and observation.trace_id == "t1"
    assert observation.detail == {
        "partition": 2,
        "offset": 41,
        "key": "k1",
        "version": 3,
        "error": "document-service: 503",
        "attempts": 2,
        "first_failure_ts": 1_800_000_010.5,
        "last_failure_ts": 1_800_000_011.5,
        "source_topic": "documents.requested",
    }


def test_a_dlq_record_without_cause_or_attempts_is_recorded_as_seen():
    observation = observation_from_record(record("documents.dlq", {"event_id": "e1"}, {"trace_id": "t1"}), TOPICS)
    assert observation.detail["error"] is None and observation.detail["attempts"] is None


def test_an_alert_takes_its_ids_from_the_value():
    value = {"event_id": "e1", "trace_id": "t1", "key": "k1", "reason": "attempts exhausted", "attempts": 4}
    observation = observation_from_record(record("ops.alerts", value), TOPICS)
    assert (observation.event_id, observation.trace_id, observation.kind) == ("e1", "t1", Kind.ALERTED)
    assert observation.detail["reason"] == "attempts exhausted" and observation.detail["attempts"] == 4


def test_without_a_kafka_timestamp_the_produced_at_header_is_the_time():
    headers = {"event_id": "e1", "produced_at": "1800000001.25"}
    unstamped = record("documents.requested", {"event_id": "e1"}, headers, timestamp_ms=None)
    observation = observation_from_record(unstamped, TOPICS)
    assert observation.time == 1_800_000_001.25


@pytest.mark.parametrize(
    ("topic", "value", "headers", "message"),
    [
        ("other.topic", {"event_id": "e1"}, {}, "topic 'other.topic' is not one of"),
        ("documents.requested", b"{not json", {}, "documents.requested\\[2\\]@41: value is not JSON"),
        ("documents.requested", b"[1, 2]", {}, "not an object"),
        ("documents.requested", {"key": "k1"}, {}, "no event_id in headers or value"),
        ("documents.dlq", {"event_id": "e1"}, {"attempts": "two"}, "attempts='two' is not an integer"),
    ],
)
def test_records_that_break_the_contract_are_refused_with_a_reason(topic, value, headers, message):
    with pytest.raises(UnparseableRecord, match=message):
        observation_from_record(record(topic, value, headers), TOPICS)


def test_record_from_a_message_like_object():
    message = SimpleNamespace(
        topic=lambda: "ops.alerts",
        partition=lambda: 0,
        offset=lambda: 5,
        timestamp=lambda: (1, STAMP_MS),
        key=lambda: b"k1",
        value=lambda: b"{}",
        headers=lambda: None,
    )
    assert Record.from_message(message) == Record("ops.alerts", 0, 5, STAMP_MS, b"k1", b"{}", ())
    message.timestamp = lambda: (0, -1)
    assert Record.from_message(message).timestamp_ms is None
