"""Kafka client settings and the two durable steps the consumers share.

Settings follow notes §4: librdkafka's defaults wait minutes under a fault (socket
timeout 60 s, message timeout 300 s); these are short and explicit so a chaos run sees
failures and recoveries within seconds. Every producer is idempotent, so librdkafka's
internal retries after a lost ack do not duplicate records.

The durable steps: `DurablePublisher` re-produces a record until its delivery report
succeeds (a consumer commits an offset only after that), and `commit_offsets` commits
synchronously, retrying while the group coordinator is unreachable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer, TopicPartition

from services.log import JsonLog
from services.messages import OutgoingRecord
from services.offsets import TP, CommitTracker

# Errors after which a commit can never succeed for this member: the partitions have
# moved (or are moving) to another member, which will redeliver from the last commit.
_LOST_OWNERSHIP = frozenset(
    {KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS, KafkaError._STATE}
)
COMMIT_RETRY_WINDOW_S = 30.0
SHUTDOWN_FLUSH_S = 5.0


ERROR_LOG_INTERVAL_S = 5.0


def _error_callback(log: JsonLog) -> Any:
    """Log client errors, each kind at most once per ERROR_LOG_INTERVAL_S.

    librdkafka recovers from these by itself (reconnects, re-bootstraps); they are
    logged so a chaos run shows when a client noticed a fault, but a broker that is
    away reports one per reconnect attempt, which would drown the event history.
    """
    last_logged: dict[int, float] = {}
    suppressed: dict[int, int] = {}

    def on_error(err: KafkaError) -> None:
        now = time.monotonic()
        code = err.code()
        if not err.fatal() and now - last_logged.get(code, -ERROR_LOG_INTERVAL_S) < ERROR_LOG_INTERVAL_S:
            suppressed[code] = suppressed.get(code, 0) + 1
            return
        last_logged[code] = now
        level = "error" if err.fatal() else "warning"
        log.emit(
            level,
            "kafka client error",
            code=err.name(),
            error=err.str(),
            fatal=err.fatal(),
            suppressed_since_last=suppressed.pop(code, 0),
        )

    return on_error


def producer_config(bootstrap: str, client_id: str, log: JsonLog, message_timeout_s: float = 30.0) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "message.timeout.ms": int(message_timeout_s * 1000),
        "request.timeout.ms": 10000,
        "socket.timeout.ms": 10000,
        "socket.connection.setup.timeout.ms": 5000,
        "reconnect.backoff.ms": 100,
        "reconnect.backoff.max.ms": 2000,
        "retry.backoff.ms": 100,
        "retry.backoff.max.ms": 1000,
        "linger.ms": 5,
        "error_cb": _error_callback(log),
    }


def consumer_config(bootstrap: str, group: str, client_id: str, log: JsonLog) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "client.id": client_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 3000,
        "max.poll.interval.ms": 300000,
        "socket.timeout.ms": 10000,
        "socket.connection.setup.timeout.ms": 5000,
        "reconnect.backoff.ms": 100,
        "reconnect.backoff.max.ms": 2000,
        "fetch.wait.max.ms": 100,
        "error_cb": _error_callback(log),
    }


class DurablePublisher:
    """Publishes records and waits for their delivery reports.

    A record whose delivery fails is produced again (after a growing pause) until it
    is delivered; only a stop request ends the wait early, and then the caller must
    not commit the records that were not delivered.
    """

    def __init__(self, producer: Producer, log: JsonLog, stop: threading.Event) -> None:
        self._producer = producer
        self._log = log
        self._stop = stop

    def publish(self, records: Sequence[OutgoingRecord]) -> list[bool]:
        """Return, per record, whether its delivery report succeeded."""
        errors: list[KafkaError | None] = [None] * len(records)
        delivered = [False] * len(records)
        to_send = list(range(len(records)))
        pause = 0.2
        while to_send:
            in_flight = [i for i in to_send if self._produce(records[i], i, delivered, errors)]
            self._wait_for_reports(in_flight, delivered, errors)
            failed = [i for i in in_flight if not delivered[i]]
            if not failed or self._stop.is_set():
                break
            first = errors[failed[0]]
            self._log.warning(
                "delivery failed; publishing again",
                failed=len(failed),
                error=first.str() if first is not None else "no delivery report",
                retry_in_s=pause,
            )
            self._stop.wait(pause)
            pause = min(pause * 2, 5.0)
            to_send = failed
        return delivered

    def _produce(
        self, record: OutgoingRecord, index: int, delivered: list[bool], errors: list[KafkaError | None]
    ) -> bool:
        def on_delivery(err: KafkaError | None, _: Message) -> None:
            delivered[index] = err is None
            errors[index] = err

        errors[index] = None
        while True:
            try:
                self._producer.produce(
                    record.topic, value=record.value, key=record.key, headers=record.headers, on_delivery=on_delivery
                )
                return True
            except BufferError:
                # The local queue is full (the broker is away): serve callbacks, then retry.
                if self._stop.is_set():
                    return False
                self._producer.poll(0.5)
            except KafkaException as exc:
                errors[index] = exc.args[0]
                return True

    def _wait_for_reports(self, indexes: list[int], delivered: list[bool], errors: list[KafkaError | None]) -> None:
        stop_deadline: float | None = None
        while any(not delivered[i] and errors[i] is None for i in indexes):
            self._producer.flush(0.5)
            if self._stop.is_set():
                stop_deadline = stop_deadline or time.monotonic() + SHUTDOWN_FLUSH_S
                if time.monotonic() >= stop_deadline:
                    return


def commit_offsets(consumer: Any, offsets: list[TopicPartition], log: JsonLog, stop: threading.Event) -> bool:
    """Commit synchronously; retry while the coordinator is away. False means given up.

    Giving up loses nothing: the records will be redelivered from the last commit
    (at-least-once), and applying them again is idempotent.
    """
    deadline = time.monotonic() + COMMIT_RETRY_WINDOW_S
    pause = 0.2
    while True:
        try:
            results = consumer.commit(offsets=offsets, asynchronous=False)
            failed = [tp for tp in results or () if tp.error is not None]
            if not failed:
                return True
            error = failed[0].error
        except KafkaException as exc:
            error = exc.args[0]
        if error.code() in _LOST_OWNERSHIP:
            log.warning("commit abandoned; partitions moved, records will be redelivered", error=error.str())
            return False
        if stop.is_set() or time.monotonic() >= deadline:
            log.warning("commit failed; records will be redelivered", error=error.str())
            return False
        log.warning("commit failed; retrying", error=error.str(), retry_in_s=pause)
        stop.wait(pause)
        pause = min(pause * 2, 2.0)


def commit_resolved(
    consumer: Any,
    tracker: CommitTracker[tuple[str | None, str | None]],
    points: dict[TP, int],
    log: JsonLog,
    stop: threading.Event,
) -> int:
    """Commit the tracker's commit points and log `committed` for every event they cover.

    Returns how many events the commit covered (0 if it was given up: the tracker keeps
    them, and the next successful commit of the partition covers them).
    """
    if not points:
        return 0
    offsets = [TopicPartition(topic, partition, offset) for (topic, partition), offset in points.items()]
    if not commit_offsets(consumer, offsets, log, stop):
        return 0
    covered = 0
    for tp, offset in points.items():
        for event_id, trace_id in tracker.mark_committed(tp, offset):
            covered += 1
            log.info(
                "committed", kind="committed", event_id=event_id, trace_id=trace_id, partition=tp[1], next_offset=offset
            )
    return covered
