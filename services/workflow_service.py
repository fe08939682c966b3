"""workflow-service: DocumentRequested -> document-service -> Redis -> DocumentProcessed.

For every record of REQUESTS_TOPIC (group CONSUMER_GROUP, manual commits):
  1. PUT the document to document-service (DOCUMENT_TIMEOUT_S),
  2. apply it to Redis idempotently (services.redis_apply),
  3. publish DocumentProcessed to PROCESSED_TOPIC,
  4. commit the offset once the processed record is acknowledged.
If 1 or 2 fails, the record goes to DLQ_TOPIC with its failure history (attempts=1)
and its offset is committed once the DLQ record is acknowledged. If not even that
publish succeeds, the offset is not committed and the publish is retried: no event is
dropped. Records are handled in small batches (one consume() call), then published
and committed together, which keeps the per-event cost low without weakening the
order "effect durable, then commit".

Canary knobs: FAIL_RATE (0..1; the same event ids fail on every run, see
processing.injected_failure) and EXTRA_LATENCY_MS (sleep before each event).
GET /health and GET /metrics (counts plus `version` = SERVICE_VERSION) serve on HTTP_PORT.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from services.config import Text, Topic, load_config, number_in
from services.consumer_runtime import ConsumerRuntime, ConsumerSettings, consumer_runtime
from services.kafka_io import commit_resolved
from services.log import JsonLog
from services.messages import (
    DocumentEvent,
    FailureInfo,
    InvalidEvent,
    OutgoingRecord,
    decode_headers,
    dlq_record,
    processed_record,
)
from services.offsets import TP, CommitTracker
from services.processing import ProcessingError
from services.redis_apply import ApplyOutcome
from services.status_http import Counters

SERVICE = "workflow-service"
BATCH_SIZE = 50
# Publish and commit at least this often within a batch, so DLQ records and commits
# keep flowing while every event waits for a document-service timeout.
BATCH_MAX_S = 1.0
POLL_TIMEOUT_S = 0.5


class WorkflowConfig(ConsumerSettings):
    """workflow-service's variables: its topics and the canary knobs of the module docstring."""

    service_name: Text = SERVICE
    consumer_group: Text = SERVICE
    requests_topic: Topic = "documents.requested"
    processed_topic: Topic = "documents.processed"
    dlq_topic: Topic = "documents.dlq"
    fail_rate: Annotated[float, number_in(0.0, 1.0)] = 0.0
    extra_latency_ms: Annotated[float, number_in(0.0, 60000.0)] = 0.0


@dataclass(frozen=True)
class _Done:
    """A handled record awaiting its publish (processed or DLQ record) and commit."""

    tp: TP
    offset: int
    record: OutgoingRecord
    dead_letter: bool


class WorkflowService:
    def __init__(self, config: WorkflowConfig, log: JsonLog) -> None:
        self._config = config
        self._log = log
        self._stop = threading.Event()
        self._counters = Counters(
            [
                "consumed",
                "processed",
                "applied",
                "skipped",
                "failed",
                "dead_lettered",
                "committed",
                "assigned_partitions",
            ]
        )
        self._tracker: CommitTracker[tuple[str | None, str | None]] = CommitTracker()

    def request_stop(self, *_: Any) -> None:
        self._stop.set()

    def metrics(self) -> dict[str, Any]:
        settings = self._config.settings
        return {
            "service": settings.common.service_name,
            "version": settings.service_version,
            **self._counters.snapshot(),
        }

    def run(self) -> None:
        config, settings = self._config, self._config.settings
        with consumer_runtime(settings, self.metrics, self._log, self._stop, fail_rate=config.fail_rate) as runtime:
            runtime.consumer.subscribe(
                [config.requests_topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
            )
            self._log.info(
                "started",
                host=settings.common.http_host,
                port=settings.common.http_port,
                topic=config.requests_topic,
                group=settings.consumer_group,
                version=settings.service_version,
                fail_rate=config.fail_rate,
                extra_latency_ms=config.extra_latency_ms,
            )
            while not self._stop.is_set():
                messages = runtime.consumer.consume(BATCH_SIZE, timeout=POLL_TIMEOUT_S)
                self._handle_batch(runtime, messages)
            self._log.info("stopping")
        self._log.info("stopped")

    def _on_assign(self, _: Consumer, partitions: list[TopicPartition]) -> None:
        self._tracker.assign((tp.topic, tp.partition) for tp in partitions)
        self._counters.set("assigned_partitions", len(partitions))
        self._log.info("partitions assigned", partitions=[tp.partition for tp in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Batches are committed before the next consume(), inside which rebalances
        # happen; only a commit that failed earlier can be pending: try it once more
        # while the partitions are still ours, so the new owner redelivers less.
        tps = [(tp.topic, tp.partition) for tp in partitions]
        covered = commit_resolved(consumer, self._tracker, self._tracker.ready(tps), self._log, self._stop)
        self._counters.inc("committed", covered)
        self._on_lost(consumer, partitions)

    def _on_lost(self, _: Consumer, partitions: list[TopicPartition]) -> None:
        self._tracker.revoke((tp.topic, tp.partition) for tp in partitions)
        self._counters.set("assigned_partitions", 0)
        self._log.info("partitions revoked", partitions=[tp.partition for tp in partitions])

    def _handle_batch(self, runtime: ConsumerRuntime, messages: list[Message]) -> None:
        done: list[_Done] = []
        started = time.monotonic()
        for msg in messages:
            if self._stop.is_set():
                break  # the rest is not tracked, so not committed: redelivered after restart
            error = msg.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    self._log.warning("consume error", error=error.str(), code=error.name())
                continue
            if self._config.extra_latency_ms:
                time.sleep(self._config.extra_latency_ms / 1000)
            done.append(self._handle(runtime, msg))
            if time.monotonic() - started >= BATCH_MAX_S:
                self._publish_and_commit(runtime, done)
                done, started = [], time.monotonic()
        self._publish_and_commit(runtime, done)

    def _publish_and_commit(self, runtime: ConsumerRuntime, done: list[_Done]) -> None:
        delivered = runtime.publisher.publish([d.record for d in done])
        for item, ok in zip(done, delivered):
            if not ok:
                continue
            self._tracker.resolve(item.tp, item.offset)
            if item.dead_letter:
                self._counters.inc("dead_lettered")
                self._log.warning(
                    "dead-lettered",
                    kind="dead-lettered",
                    event_id=item.record.event_id,
                    trace_id=item.record.trace_id,
                    topic=item.record.topic,
                    attempts=1,
                )
        covered = commit_resolved(runtime.consumer, self._tracker, self._tracker.ready(), self._log, self._stop)
        self._counters.inc("committed", covered)

    def _handle(self, runtime: ConsumerRuntime, msg: Message) -> _Done:
        tp: TP = (msg.topic(), msg.partition())
        headers = decode_headers(msg.headers())
        trace_id = headers.get("trace_id") or None
        self._counters.inc("consumed")
        try:
            event = DocumentEvent.from_value(msg.value())
        except InvalidEvent as exc:
            # A malformed record cannot be processed; it still goes to the DLQ (and from
            # there to an alert) rather than being dropped.
            event_id = headers.get("event_id") or None
            ids = {"event_id": event_id, "trace_id": trace_id}
            self._tracker.add(tp, msg.offset(), (event_id, trace_id))
            self._log.info("consumed", kind="consumed", partition=tp[1], offset=msg.offset(), **ids)
            error = ProcessingError(f"malformed event: {exc}")
            self._log.warning(
                "processing failed", kind="failed", attempt=1, error=str(error), failed_at=error.failed_at, **ids
            )
            return self._dead_letter(msg, tp, headers, error)
        self._tracker.add(tp, msg.offset(), (event.event_id, trace_id))
        self._log.info(
            "consumed",
            kind="consumed",
            event_id=event.event_id,
            trace_id=trace_id,
            key=event.key,
            version=event.version,
            partition=tp[1],
            offset=msg.offset(),
        )
        try:
            result = runtime.processor.process(event, trace_id, attempt=1)
        except ProcessingError as exc:
            return self._dead_letter(msg, tp, headers, exc)
        self._counters.inc("processed")
        self._counters.inc("applied" if result.outcome is ApplyOutcome.APPLIED else "skipped")
        record = processed_record(self._config.processed_topic, event, trace_id, result.in_effect, result.outcome.value)
        return _Done(tp, msg.offset(), record, dead_letter=False)

    def _dead_letter(self, msg: Message, tp: TP, headers: dict[str, str], error: ProcessingError) -> _Done:
        self._counters.inc("failed")
        failure = FailureInfo(str(error), 1, error.failed_at, error.failed_at, msg.topic())
        record = dlq_record(self._config.dlq_topic, msg.key(), msg.value(), headers, failure)
        return _Done(tp, msg.offset(), record, dead_letter=True)


def main() -> None:
    config = load_config(WorkflowConfig.from_env)
    log = JsonLog(config.settings.common.service_name)
    service = WorkflowService(config, log)
    signal.signal(signal.SIGTERM, service.request_stop)
    signal.signal(signal.SIGINT, service.request_stop)
    service.run()


if __name__ == "__main__":
    main()
