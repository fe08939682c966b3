"""Kafka record formats of the reference system: values, headers, DLQ metadata.

Requests (`documents.requested`): key = entity key (utf-8), value = JSON
`{"event_id", "key", "content", "version"}`, headers `event_id`, `trace_id`,
`produced_at` (epoch float as a string). DLQ records repeat the request and add
`error`, `attempts`, `first_failure_ts`, `last_failure_ts` and `source_topic`, so the
trace id and the failure history travel with the event through every retry.
All header values are utf-8 strings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Versions travel as JSON numbers and are compared as Lua doubles in Redis, so they must
# stay exactly representable in a double.
MAX_VERSION = 2**53 - 1
MAX_KEY_LENGTH = 512
MAX_ID_LENGTH = 128
MAX_ERROR_LENGTH = 300

Headers = list[tuple[str, bytes]]


class InvalidEvent(ValueError):
    """A document event or record that does not follow the format; `field` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def check_id(field: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise InvalidEvent(field, f"must be a non-empty string of at most {MAX_ID_LENGTH} characters")
    return value


@dataclass(frozen=True)
class DocumentEvent:
    """A DocumentRequested event: write `content` as `version` of the document `key`."""

    event_id: str
    key: str
    content: str
    version: int

    @classmethod
    def from_fields(cls, data: Mapping[str, Any], event_id: object) -> DocumentEvent:
        """Validate the document fields (shared by the HTTP API and the Kafka decoder)."""
        key = data.get("key")
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidEvent("key", f"must be a non-empty string of at most {MAX_KEY_LENGTH} characters")
        content = data.get("content")
        if not isinstance(content, str):
            raise InvalidEvent("content", "must be a string")
        version = data.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= MAX_VERSION:
            raise InvalidEvent("version", f"must be an integer in [0, {MAX_VERSION}]")
        return cls(event_id=check_id("event_id", event_id), key=key, content=content, version=version)

    @classmethod
    def from_value(cls, raw: bytes | None) -> DocumentEvent:
        if raw is None:
            raise InvalidEvent("value", "is empty (tombstone)")
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidEvent("value", f"is not JSON ({exc.__class__.__name__})") from None
        if not isinstance(data, dict):
            raise InvalidEvent("value", "is not a JSON object")
        return cls.from_fields(data, data.get("event_id"))

    def to_value(self) -> bytes:
        return json.dumps(
            {"event_id": self.event_id, "key": self.key, "content": self.content, "version": self.version},
            separators=(",", ":"),
        ).encode()


def decode_headers(headers: Sequence[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """Kafka headers as a dict of strings; a repeated header keeps its last value."""
    result: dict[str, str] = {}
    for name, value in headers or ():
        result[name] = "" if value is None else value.decode("utf-8", errors="replace")
    return result


def encode_headers(values: Mapping[str, str]) -> Headers:
    return [(name, value.encode()) for name, value in values.items()]


def trace_headers(event_id: str, trace_id: str, produced_at: float) -> dict[str, str]:
    return {"event_id": event_id, "trace_id": trace_id, "produced_at": repr(produced_at)}


def short_error(error: str) -> str:
    """One line, bounded: DLQ headers and alerts carry the cause, not a traceback."""
    line = " ".join(error.split())
    return line if len(line) <= MAX_ERROR_LENGTH else line[: MAX_ERROR_LENGTH - 3] + "..."


def _parse_ts(headers: Mapping[str, str], name: str) -> float:
    try:
        value = float(headers[name])
    except (KeyError, ValueError):
        raise InvalidEvent(name, "header must be an epoch float") from None
    if not math.isfinite(value):
        raise InvalidEvent(name, "header must be an epoch float")
    return value


@dataclass(frozen=True)
class FailureInfo:
    """The failure history a DLQ record carries: how many attempts failed, when, and why."""

    error: str
    attempts: int
    first_failure_ts: float
    last_failure_ts: float
    source_topic: str

    def to_headers(self) -> dict[str, str]:
        return {
            "error": short_error(self.error),
            "attempts": str(self.attempts),
            "first_failure_ts": repr(self.first_failure_ts),
            "last_failure_ts": repr(self.last_failure_ts),
            "source_topic": self.source_topic,
        }

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> FailureInfo:
        attempts_raw = headers.get("attempts", "")
        if not attempts_raw.isdigit() or int(attempts_raw) < 1:
            raise InvalidEvent("attempts", "header must be an integer >= 1")
        return cls(
            error=headers.get("error", ""),
            attempts=int(attempts_raw),
            first_failure_ts=_parse_ts(headers, "first_failure_ts"),
            last_failure_ts=_parse_ts(headers, "last_failure_ts"),
            source_topic=headers.get("source_topic", ""),
        )

    def failed_again(self, error: str, at: float) -> FailureInfo:
        return FailureInfo(error, self.attempts + 1, self.first_failure_ts, at, self.source_topic)


@dataclass(frozen=True)
class OutgoingRecord:
    """A record to publish durably, with the ids its log lines need."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers
    event_id: str | None
    trace_id: str | None


def dlq_record(
    topic: str,
    key: bytes | None,
    value: bytes | None,
    headers: Mapping[str, str],
    failure: FailureInfo,
) -> OutgoingRecord:
    """The failed record, unchanged, with its failure history in the headers."""
    merged = {name: v for name, v in headers.items() if name not in failure.to_headers()}
    merged.update(failure.to_headers())
    return OutgoingRecord(
        topic=topic,
        key=key,
        value=value if value is not None else b"",
        headers=encode_headers(merged),
        event_id=headers.get("event_id") or None,
        trace_id=headers.get("trace_id") or None,
    )


def processed_record(
    topic: str, event: DocumentEvent, trace_id: str | None, applied: bool, outcome: str
) -> OutgoingRecord:
    """DocumentProcessed: `applied` says whether Redis now holds this event's write."""
    value = json.dumps(
        {
            "event_id": event.event_id,
            "key": event.key,
            "version": event.version,
            "applied": applied,
            "outcome": outcome,
        },
        separators=(",", ":"),
    ).encode()
    headers = {"event_id": event.event_id}
    if trace_id:
        headers["trace_id"] = trace_id
    return OutgoingRecord(topic, event.key.encode(), value, encode_headers(headers), event.event_id, trace_id)


def alert_record(
    topic: str,
    event_id: str | None,
    trace_id: str | None,
    key: str | None,
    reason: str,
    attempts: int,
) -> OutgoingRecord:
    """An ops alert: this event failed its last attempt and is parked in the DLQ."""
    value = json.dumps(
        {"event_id": event_id, "trace_id": trace_id, "key": key, "reason": short_error(reason), "attempts": attempts},
        separators=(",", ":"),
    ).encode()
    headers = {name: v for name, v in (("event_id", event_id), ("trace_id", trace_id)) if v}
    return OutgoingRecord(topic, key.encode() if key else None, value, encode_headers(headers), event_id, trace_id)
