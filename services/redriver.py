"""redriver: retries DLQ events with exponential backoff; alerts when the last attempt fails.

A DLQ record carrying `attempts` = a (failed attempts so far) is retried once

    retry_delay_s(a) = min(BACKOFF_CAP_S, BACKOFF_BASE_S * BACKOFF_FACTOR ** (a - 1))

has passed since its `last_failure_ts` ("retry after x seconds" is logged). Waiting
records sit in a due-time heap while the consumer keeps polling with short timeouts, so
one waiting event never holds up another. A retry does exactly what workflow-service
does (services.processing) and logs `redriven`, then `applied` (or "skipped stale").
If it fails and a + 1 < MAX_ATTEMPTS, the event goes back to the DLQ with attempts
a + 1 and a new last_failure_ts (retry-topic pattern: the pending retry is durable in
Kafka, not in this process). If attempt MAX_ATTEMPTS fails, exactly one alert goes to
ALERTS_TOPIC, `alerted` is logged at level error, and the event stays parked in the DLQ.

A DLQ offset is committed only when its record is resolved (retried successfully,
re-published to the DLQ, or alerted) and every earlier offset of its partition is too
(services.offsets), so a crash never skips a waiting record.
"""

from __future__ import annotations

import heapq
import itertools
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from pydantic import ValidationInfo, field_validator

from services.config import Text, Topic, integer_in, load_config, number_in
from services.consumer_runtime import ConsumerRuntime, ConsumerSettings, consumer_runtime
from services.kafka_io import commit_resolved
from services.log import JsonLog
from services.messages import (
    DocumentEvent,
    FailureInfo,
    InvalidEvent,
    OutgoingRecord,
    alert_record,
    decode_headers,
    dlq_record,
    processed_record,
)
from services.offsets import TP, CommitTracker
from services.processing import ProcessingError
from services.redis_apply import ApplyOutcome
from services.status_http import Counters

SERVICE = "redriver"
BATCH_SIZE = 100
MAX_POLL_TIMEOUT_S = 0.2

Ids = dict[str, "str | None"]


def retry_delay_s(attempts: int, base_s: float, factor: float, cap_s: float) -> float:
    """Backoff before the retry that follows `attempts` failed attempts (attempts >= 1)."""
    try:
        return min(cap_s, base_s * factor ** (attempts - 1))
    except OverflowError:
        return cap_s


class RedriverConfig(ConsumerSettings):
    """The backoff variables are also chaoskit's: `RetryPolicy.from_env` reads the same four."""

    service_name: Text = SERVICE
    consumer_group: Text = SERVICE
    dlq_topic: Topic = "documents.dlq"
    processed_topic: Topic = "documents.processed"
    alerts_topic: Topic = "ops.alerts"
    backoff_base_s: Annotated[float, number_in(0.0, 3600.0, exclusive_minimum=True)] = 1.0
    backoff_factor: Annotated[float, number_in(1.0, 100.0)] = 2.0
    backoff_cap_s: Annotated[float, number_in(0.0, 86400.0, exclusive_minimum=True)] = 8.0
    max_attempts: Annotated[int, integer_in(1, 100)] = 4

    @field_validator("backoff_cap_s")
    @classmethod
    def _cap_reaches_base(cls, cap: float, info: ValidationInfo) -> float:
        """A cap below the base would make every delay the cap: surely a typo, so refuse it.

        Runs on the default too (validate_default), so BACKOFF_BASE_S=10 alone is refused.
        """
        base = info.data.get("backoff_base_s")
        if base is not None and cap < base:
            raise ValueError(f"a number >= BACKOFF_BASE_S ({base:g})")
        return cap

    def delay_s(self, attempts: int) -> float:
        return retry_delay_s(attempts, self.backoff_base_s, self.backoff_factor, self.backoff_cap_s)


@dataclass(order=True)
class _Waiting:
    """A DLQ record waiting for its retry time (heap entries order by due, then arrival)."""

    due: float
    seq: int
    generation: int = field(compare=False)
    tp: TP = field(compare=False)
    offset: int = field(compare=False)
    key: bytes | None = field(compare=False)
    value: bytes | None = field(compare=False)
    headers: dict[str, str] = field(compare=False)
    event: DocumentEvent = field(compare=False)
    failure: FailureInfo = field(compare=False)


class Redriver:
    def __init__(self, config: RedriverConfig, log: JsonLog) -> None:
        self._config = config
        self._log = log
        self._stop = threading.Event()
        self._heap: list[_Waiting] = []
        self._seq = itertools.count()
        self._tracker: CommitTracker[tuple[str | None, str | None]] = CommitTracker()
        self._counters = Counters(
            [
                "consumed",
                "redriven",
                "applied",
                "skipped",
                "failed",
                "dead_lettered",
                "alerted",
                "committed",
                "assigned_partitions",
            ]
        )

    def request_stop(self, *_: Any) -> None:
        self._stop.set()

    def metrics(self) -> dict[str, Any]:
        settings = self._config.settings
        return {
            "service": settings.common.service_name,
            "version": settings.service_version,
            "waiting": len(self._heap),
            **self._counters.snapshot(),
        }

    def run(self) -> None:
        config, settings = self._config, self._config.settings
        with consumer_runtime(settings, self.metrics, self._log, self._stop) as runtime:
            runtime.consumer.subscribe(
                [config.dlq_topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
            )
            self._log.info(
                "started",
                host=settings.common.http_host,
                port=settings.common.http_port,
                topic=config.dlq_topic,
                group=settings.consumer_group,
                backoff_base_s=config.backoff_base_s,
                backoff_factor=config.backoff_factor,
                backoff_cap_s=config.backoff_cap_s,
                max_attempts=config.max_attempts,
            )
            while not self._stop.is_set():
                for msg in runtime.consumer.consume(BATCH_SIZE, timeout=self._poll_timeout()):
                    self._receive(runtime, msg)
                self._retry_due(runtime)
                self._commit(runtime.consumer, self._tracker.ready())
            self._log.info("stopping", waiting=len(self._heap))
        self._log.info("stopped")

    def _poll_timeout(self) -> float:
        if not self._heap:
            return MAX_POLL_TIMEOUT_S
        return max(0.0, min(MAX_POLL_TIMEOUT_S, self._heap[0].due - time.time()))

    def _commit(self, consumer: Consumer, points: dict[TP, int]) -> None:
        covered = commit_resolved(consumer, self._tracker, points, self._log, self._stop)
        self._counters.inc("committed", covered)

    def _on_assign(self, _: Consumer, partitions: list[TopicPartition]) -> None:
        self._tracker.assign((tp.topic, tp.partition) for tp in partitions)
        self._counters.set("assigned_partitions", len(partitions))
        self._log.info("partitions assigned", partitions=[tp.partition for tp in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Commit what is resolved while we still own the partitions. Their waiting
        # records leave the heap lazily (their generation is gone); the new owner
        # redelivers them from the commit.
        tps = [(tp.topic, tp.partition) for tp in partitions]
        self._commit(consumer, self._tracker.ready(tps))
        self._forget(tps)

    def _on_lost(self, _: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget([(tp.topic, tp.partition) for tp in partitions])

    def _forget(self, tps: list[TP]) -> None:
        self._tracker.revoke(tps)
        self._counters.set("assigned_partitions", 0)
        self._log.info("partitions revoked", partitions=[partition for _, partition in tps])

    def _receive(self, runtime: ConsumerRuntime, msg: Message) -> None:
        error = msg.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                self._log.warning("consume error", error=error.str(), code=error.name())
            return
        tp: TP = (msg.topic(), msg.partition())
        headers = decode_headers(msg.headers())
        ids: Ids = {"event_id": headers.get("event_id") or None, "trace_id": headers.get("trace_id") or None}
        self._tracker.add(tp, msg.offset(), (ids["event_id"], ids["trace_id"]))
        self._counters.inc("consumed")
        self._log.info("consumed", kind="consumed", partition=tp[1], offset=msg.offset(), **ids)
        try:
            failure = FailureInfo.from_headers(headers)
            event = DocumentEvent.from_value(msg.value())
        except InvalidEvent as exc:
            attempts = headers.get("attempts", "")
            reason = f"cannot retry malformed DLQ record: {exc}"
            self._alert(runtime, tp, msg.offset(), ids, None, reason, int(attempts) if attempts.isdigit() else 0)
            return
        if failure.attempts >= self._config.max_attempts:
            reason = f"attempts exhausted: {failure.error}"
            self._alert(runtime, tp, msg.offset(), ids, event.key, reason, failure.attempts)
            return
        delay = self._config.delay_s(failure.attempts)
        due = failure.last_failure_ts + delay
        generation = self._tracker.generation(tp)
        assert generation is not None, "add() assigns unknown partitions"
        heapq.heappush(
            self._heap,
            _Waiting(
                due, next(self._seq), generation, tp, msg.offset(), msg.key(), msg.value(), headers, event, failure
            ),
        )
        self._log.info(
            f"retry after {delay:g} seconds",
            attempts=failure.attempts,
            retry_after_s=delay,
            due_at=due,
            due_in_s=round(max(0.0, due - time.time()), 3),
            error=failure.error,
            **ids,
        )

    def _retry_due(self, runtime: ConsumerRuntime) -> None:
        while self._heap and self._heap[0].due <= time.time() and not self._stop.is_set():
            waiting = heapq.heappop(self._heap)
            if self._tracker.generation(waiting.tp) != waiting.generation:
                continue  # revoked meanwhile: its new owner redelivers it
            self._retry(runtime, waiting)

    def _retry(self, runtime: ConsumerRuntime, waiting: _Waiting) -> None:
        config, event = self._config, waiting.event
        trace_id = waiting.headers.get("trace_id") or None
        ids: Ids = {"event_id": event.event_id, "trace_id": trace_id}
        attempt = waiting.failure.attempts + 1
        self._counters.inc("redriven")
        self._log.info("redriven", kind="redriven", attempt=attempt, key=event.key, version=event.version, **ids)
        try:
            result = runtime.processor.process(event, trace_id, attempt)
        except ProcessingError as exc:
            self._counters.inc("failed")
            failure = waiting.failure.failed_again(str(exc), exc.failed_at)
            if failure.attempts >= config.max_attempts:
                self._alert(runtime, waiting.tp, waiting.offset, ids, event.key, str(exc), failure.attempts)
                return
            record = dlq_record(config.dlq_topic, waiting.key, waiting.value, waiting.headers, failure)
            if self._publish(runtime, record, waiting.tp, waiting.offset):
                self._counters.inc("dead_lettered")
                self._log.warning(
                    "dead-lettered", kind="dead-lettered", topic=config.dlq_topic, attempts=failure.attempts, **ids
                )
            return
        self._counters.inc("applied" if result.outcome is ApplyOutcome.APPLIED else "skipped")
        record = processed_record(config.processed_topic, event, trace_id, result.in_effect, result.outcome.value)
        self._publish(runtime, record, waiting.tp, waiting.offset)

    def _alert(
        self, runtime: ConsumerRuntime, tp: TP, offset: int, ids: Ids, key: str | None, reason: str, attempts: int
    ) -> None:
        record = alert_record(self._config.alerts_topic, ids["event_id"], ids["trace_id"], key, reason, attempts)
        if self._publish(runtime, record, tp, offset):
            self._counters.inc("alerted")
            self._log.error("alerted", kind="alerted", reason=reason, attempts=attempts, key=key, **ids)

    def _publish(self, runtime: ConsumerRuntime, record: OutgoingRecord, tp: TP, offset: int) -> bool:
        """Publish durably; the DLQ offset is resolved only once the record is delivered."""
        if not runtime.publisher.publish([record])[0]:
            return False
        self._tracker.resolve(tp, offset)
        return True


def main() -> None:
    config = load_config(RedriverConfig.from_env)
    log = JsonLog(config.settings.common.service_name)
    redriver = Redriver(config, log)
    signal.signal(signal.SIGTERM, redriver.request_stop)
    signal.signal(signal.SIGINT, redriver.request_stop)
    redriver.run()


if __name__ == "__main__":
    main()
