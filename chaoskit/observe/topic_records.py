"""Kafka records → observations: the pure half of the recorder, testable without a broker.

The services' contract: the record key is the entity key; values are JSON with
``event_id``; headers (utf-8) carry ``event_id``, ``trace_id`` and ``produced_at``, and
DLQ records also ``error``, ``attempts``, ``first_failure_ts``, ``last_failure_ts`` and
``source_topic``. A record's presence in a topic is itself the observation: on the
requests topic the broker acked the event, on the processed topic the service applied
it (or reported a no-op, outcome "duplicate" or "stale": detail ``applied: false``), on
the DLQ it was parked, on the alerts topic operations were alerted. Times are the records' Kafka timestamps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from chaoskit.observe.history import Kind, Observation


class UnparseableRecord(ValueError):
    """A record that breaks the contract; the recorder skips and counts it."""


@dataclass(frozen=True)
class Topics:
    """The topology's topic names, by role (they come from the topology, not from here)."""

    requests: str
    processed: str
    dlq: str
    alerts: str

    def all(self) -> tuple[str, ...]:
        return (self.requests, self.processed, self.dlq, self.alerts)

    def kind_of(self, topic: str) -> Kind | None:
        """What a record on this topic witnesses, or None for a topic not listed here."""
        kinds = {self.requests: Kind.ACKED, self.processed: Kind.APPLIED, self.dlq: Kind.DEAD_LETTERED}
        return kinds.get(topic, Kind.ALERTED if topic == self.alerts else None)


@dataclass(frozen=True)
class Record:
    """What the recorder keeps of a consumed Kafka message."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]] = ()

    @classmethod
    def from_message(cls, message: Any) -> Record:
        """From a ``confluent_kafka.Message`` (a message without a timestamp gets None)."""
        kind, stamp = message.timestamp()
        return cls(
            message.topic(),
            message.partition(),
            message.offset(),
            stamp if kind and stamp >= 0 else None,
            message.key(),
            message.value(),
            tuple(message.headers() or ()),
        )


def observation_from_record(record: Record, topics: Topics) -> Observation:
    """The observation a record stands for; raises UnparseableRecord naming what is wrong."""
    kind = topics.kind_of(record.topic)
    if kind is None:
        raise UnparseableRecord(f"topic {record.topic!r} is not one of {list(topics.all())}")
    headers = _headers(record.headers)
    value = _json_value(record)
    event_id = headers.get("event_id") or value.get("event_id")
    if not event_id:
        raise UnparseableRecord(f"{_where(record)}: no event_id in headers or value")
    trace_id = headers.get("trace_id") or value.get("trace_id")
    detail: dict[str, Any] = {"partition": record.partition, "offset": record.offset}
    key = record.key.decode("utf-8", "replace") if record.key is not None else value.get("key")
    if key is not None:
        detail["key"] = key
    if "version" in value:
        detail["version"] = value["version"]
    if kind is Kind.ACKED and "produced_at" in headers:
        detail["produced_at"] = _number(headers["produced_at"], "produced_at", record)
    elif kind is Kind.APPLIED:
        # "applied" in the value says Redis holds the write (now or from an earlier
        # delivery); only outcome "applied" means this delivery changed the state.
        outcome = value.get("outcome")
        detail["applied"] = outcome == "applied" if outcome is not None else value.get("applied", True) is not False
        if outcome is not None:
            detail["outcome"] = outcome
    elif kind is Kind.DEAD_LETTERED:
        detail["error"] = headers.get("error") or value.get("error")
        detail["attempts"] = _integer(headers.get("attempts", value.get("attempts")), "attempts", record)
        for name in ("first_failure_ts", "last_failure_ts"):
            if name in headers:
                detail[name] = _number(headers[name], name, record)
        if "source_topic" in headers:
            detail["source_topic"] = headers["source_topic"]
    elif kind is Kind.ALERTED:
        detail["reason"] = value.get("reason")
        detail["attempts"] = _integer(value.get("attempts"), "attempts", record)
    time_s = _time_of(record, headers)
    return Observation(time_s, str(event_id), str(trace_id) if trace_id else None, kind, record.topic, detail)


def _headers(headers: Sequence[tuple[str, bytes | None]]) -> dict[str, str]:
    """Header values as text; the first occurrence of a repeated header wins."""
    decoded: dict[str, str] = {}
    for name, raw in headers:
        if raw is not None and name not in decoded:
            decoded[name] = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return decoded


def _json_value(record: Record) -> Mapping[str, Any]:
    if record.value is None:
        return {}
    try:
        value = orjson.loads(record.value)
    except orjson.JSONDecodeError:
        raise UnparseableRecord(f"{_where(record)}: value is not JSON") from None
    if not isinstance(value, dict):
        raise UnparseableRecord(f"{_where(record)}: value is JSON but not an object")
    return value


def _time_of(record: Record, headers: Mapping[str, str]) -> float:
    if record.timestamp_ms is not None:
        return record.timestamp_ms / 1000.0
    if "produced_at" in headers:
        return _number(headers["produced_at"], "produced_at", record)
    raise UnparseableRecord(f"{_where(record)}: no Kafka timestamp and no produced_at header")


def _number(text: Any, name: str, record: Record) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise UnparseableRecord(f"{_where(record)}: {name}={text!r} is not a number") from None


def _integer(value: Any, name: str, record: Record) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UnparseableRecord(f"{_where(record)}: {name}={value!r} is not an integer") from None


def _where(record: Record) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"
