"""State verifier: rebuild the expected state from the event log and compare it with Redis.

Expected state: for each key, the highest version among the requested events
(REQUESTS topic) whose event id was not alerted as permanently failed (ALERTS topic).
Both topics are read from the beginning up to the high watermarks fetched at start, so
the verdict is about one consistent snapshot of the log; run it once the system is
quiet (DLQ drained), or events still being retried show up as missing or stale.

    python -m services.verifier --bootstrap HOST:PORT --redis redis://HOST:PORT/0 \\
        [--key-prefix P] [--timeout S] [--requests-topic T] [--alerts-topic T]

prints the JSON report and exits 0 on a full match, 1 on a mismatch, 2 when the log or
Redis cannot be read. `verify()` is the same as a function; `expected_state()` is the
pure rebuild, usable on any list of events.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from services.messages import DocumentEvent, InvalidEvent
from services.redis_apply import DOC_KEY_PREFIX, INDEX_KEY, redis_client

DEFAULT_REQUESTS_TOPIC = "documents.requested"
DEFAULT_ALERTS_TOPIC = "ops.alerts"
ERROR_EXIT_CODE = 2


class VerifierError(RuntimeError):
    """The event log or Redis could not be read; no verdict."""


@dataclass(frozen=True)
class ExpectedDoc:
    """What Redis must hold for `key`: `version`, written by one of `candidates`.

    Several events may request the same version (a replay, or a conflicting write);
    any of them is a correct winner. `candidates` maps event id to content.
    """

    key: str
    version: int
    candidates: dict[str, str]


@dataclass
class VerifierReport:
    matching: list[str] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    stale: list[dict[str, Any]] = field(default_factory=list)
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    events_read: int = 0
    alerts_read: int = 0
    skipped_records: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.stale or self.unexpected)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "summary": (
                f"{len(self.matching)} matching, {len(self.missing)} missing, {len(self.stale)} stale, "
                f"{len(self.unexpected)} unexpected (from {self.events_read} requested events, "
                f"{self.alerts_read} alerts, {self.skipped_records} unreadable records)"
            ),
            "matching": self.matching,
            "missing": self.missing,
            "stale": self.stale,
            "unexpected": self.unexpected,
            "events_read": self.events_read,
            "alerts_read": self.alerts_read,
            "skipped_records": self.skipped_records,
        }


def expected_state(
    events: Iterable[DocumentEvent], alerted_event_ids: Iterable[str] = (), key_prefix: str = ""
) -> dict[str, ExpectedDoc]:
    """Per key, the highest requested version whose event was not alerted."""
    alerted = set(alerted_event_ids)
    expected: dict[str, ExpectedDoc] = {}
    for event in events:
        if event.event_id in alerted or not event.key.startswith(key_prefix):
            continue
        current = expected.get(event.key)
        if current is None or event.version > current.version:
            expected[event.key] = ExpectedDoc(event.key, event.version, {event.event_id: event.content})
        elif event.version == current.version:
            current.candidates.setdefault(event.event_id, event.content)
    return expected


def compare(
    expected: dict[str, ExpectedDoc],
    stored: dict[str, dict[str, str]],
    index: dict[str, float],
) -> VerifierReport:
    """Classify every key: matching, missing, stale or unexpected (with the reason)."""
    report = VerifierReport()
    for key in sorted(expected):
        want = expected[key]
        have = stored.get(key)
        wanted = {"key": key, "expected_version": want.version, "expected_event_ids": sorted(want.candidates)}
        if have is None:
            report.missing.append(wanted)
            continue
        actual = {"actual_version": _int_or_none(have.get("version")), "actual_event_id": have.get("event_id")}
        version = actual["actual_version"]
        if version is None or version < want.version:
            report.stale.append({**wanted, **actual})
        elif version > want.version:
            report.unexpected.append({**wanted, **actual, "reason": "newer than any accepted requested event"})
        elif have.get("event_id") not in want.candidates:
            report.unexpected.append({**wanted, **actual, "reason": "written by an event that is not a candidate"})
        elif have.get("content") != want.candidates[have["event_id"]]:
            report.unexpected.append({**wanted, **actual, "reason": "content differs from the event's content"})
        else:
            report.matching.append(key)
    for key in sorted(set(stored) - set(expected)):
        report.unexpected.append(
            {
                "key": key,
                "actual_version": _int_or_none(stored[key].get("version")),
                "actual_event_id": stored[key].get("event_id"),
                "reason": "no accepted requested event for this key",
            }
        )
    for key in sorted(set(stored) | set(index)):
        stored_version = _int_or_none(stored[key].get("version")) if key in stored else None
        if key not in index or stored_version is None or index[key] != stored_version:
            report.unexpected.append(
                {
                    "key": key,
                    "actual_version": stored_version,
                    "index_version": index.get(key),
                    "reason": f"{INDEX_KEY} disagrees with {DOC_KEY_PREFIX}{key}",
                }
            )
    return report


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def read_topics(bootstrap: str, topics: list[str], timeout_s: float) -> dict[str, list[bytes | None]]:
    """Values of every record of `topics`, from the beginning to the high watermarks at start."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"chaoskit-verifier-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "socket.timeout.ms": 10000,
            "socket.connection.setup.timeout.ms": 5000,
        }
    )
    deadline = time.monotonic() + timeout_s
    try:
        ends: dict[tuple[str, int], int] = {}
        starts: list[TopicPartition] = []
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=max(0.1, deadline - time.monotonic()))
            info = metadata.topics.get(topic)
            if info is None or info.error is not None:
                raise VerifierError(f"topic {topic!r} is not readable: {info.error if info else 'missing'}")
            for partition in info.partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=max(0.1, deadline - time.monotonic()), cached=False
                )
                if high > low:
                    ends[(topic, partition)] = high
                    starts.append(TopicPartition(topic, partition, low))
        values: dict[str, list[bytes | None]] = {topic: [] for topic in topics}
        consumer.assign(starts)
        while ends:
            if time.monotonic() >= deadline:
                lagging = ", ".join(f"{t}[{p}]" for t, p in sorted(ends))
                raise VerifierError(f"timed out after {timeout_s:g}s reading {lagging} to the high watermark")
            for msg in consumer.consume(500, timeout=0.5):
                tp = (msg.topic(), msg.partition())
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF and tp in ends and msg.offset() >= ends[tp]:
                        del ends[tp]
                    continue
                if tp in ends and msg.offset() < ends[tp]:
                    values[tp[0]].append(msg.value())
                    if msg.offset() >= ends[tp] - 1:
                        del ends[tp]
        return values
    except KafkaException as exc:
        raise VerifierError(f"kafka: {exc.args[0].str()}") from None
    finally:
        consumer.close()


def read_redis(client: redis.Redis, key_prefix: str) -> tuple[dict[str, dict[str, str]], dict[str, float]]:
    """The stored documents (`doc:{key}` hashes) and `docs:index`, limited to `key_prefix`."""
    pattern = DOC_KEY_PREFIX + "".join(f"\\{c}" if c in "*?[]\\" else c for c in key_prefix) + "*"
    names = sorted(client.scan_iter(match=pattern, count=1000))
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(name)
    stored = {name[len(DOC_KEY_PREFIX) :]: doc for name, doc in zip(names, pipe.execute())}
    index = {
        member: score
        for member, score in client.zrange(INDEX_KEY, 0, -1, withscores=True)
        if member.startswith(key_prefix)
    }
    return stored, index


def read_event_log(
    bootstrap: str,
    requests_topic: str = DEFAULT_REQUESTS_TOPIC,
    alerts_topic: str = DEFAULT_ALERTS_TOPIC,
    timeout_s: float = 30.0,
) -> tuple[list[DocumentEvent], list[str], int]:
    """The requested events, the alerted event ids, and how many records were unreadable."""
    values = read_topics(bootstrap, [requests_topic, alerts_topic], timeout_s)
    events: list[DocumentEvent] = []
    skipped = 0
    for raw in values[requests_topic]:
        try:
            events.append(DocumentEvent.from_value(raw))
        except InvalidEvent:
            skipped += 1
    alerted: list[str] = []
    for raw in values[alerts_topic]:
        try:
            alert = json.loads(raw) if raw is not None else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            alert = None
        if isinstance(alert, dict) and alert.get("type") == "deployment":
            continue  # a deployer's rollback alert is about a version, not an event
        if isinstance(alert, dict) and isinstance(alert.get("event_id"), str):
            alerted.append(alert["event_id"])
        else:
            skipped += 1
    return events, alerted, skipped


def verify(
    bootstrap: str,
    redis_url: str,
    key_prefix: str = "",
    *,
    requests_topic: str = DEFAULT_REQUESTS_TOPIC,
    alerts_topic: str = DEFAULT_ALERTS_TOPIC,
    timeout_s: float = 30.0,
) -> VerifierReport:
    """Compare Redis with the state the event log implies; raises VerifierError if unreadable."""
    events, alerted, skipped = read_event_log(bootstrap, requests_topic, alerts_topic, timeout_s)
    client = redis_client(redis_url)
    try:
        stored, index = read_redis(client, key_prefix)
    except redis.RedisError as exc:
        raise VerifierError(f"redis: {exc.__class__.__name__}: {exc}") from None
    finally:
        client.close()
    report = compare(expected_state(events, alerted, key_prefix), stored, index)
    report.events_read = len(events)
    report.alerts_read = len(alerted)
    report.skipped_records = skipped
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.verifier", description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers (host:port)")
    parser.add_argument("--redis", required=True, help="Redis URL, e.g. redis://127.0.0.1:6379/0")
    parser.add_argument("--key-prefix", default="", help="only keys starting with this prefix")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds allowed to read the topics")
    parser.add_argument("--requests-topic", default=DEFAULT_REQUESTS_TOPIC)
    parser.add_argument("--alerts-topic", default=DEFAULT_ALERTS_TOPIC)
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout={args.timeout:g} is not allowed; expected a number > 0")
    try:
        report = verify(
            args.bootstrap,
            args.redis,
            args.key_prefix,
            requests_topic=args.requests_topic,
            alerts_topic=args.alerts_topic,
            timeout_s=args.timeout,
        )
    except VerifierError as exc:
        sys.stderr.write(f"verifier error: {exc}\n")
        return ERROR_EXIT_CODE
    print(json.dumps(report.to_dict(), indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
