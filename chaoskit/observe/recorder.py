"""The recorder: watches every topic and every service log, and writes the History.

It connects to Kafka directly (never through a proxy: faults hit the system, not the
measuring apparatus), assigns itself every partition of the topology's topics from
their current end (or from the beginning), and consumes in a background thread. At
``stop`` it drains up to the end offsets it finds then, within a deadline, closes the
consumer, reads the services' JSON logs, merges both witnesses and returns the History.

Two witnesses, one fact: the processed, DLQ and alerts topics and the services' logs
may both report the same step (an alert is a record *and* a log line). Counting both
would show every event applied or alerted twice, so ``reconcile`` keeps, per event and
kind, the witness that saw it more often (Kafka on a tie: it has offsets and broker
timestamps). A real double effect shows up twice in either witness and survives.

Folding one copy into the other must not hide what only the folded copy shows: a
service that logs an event without its trace id while its Kafka record still carries
it has broken trace continuity all the same. So a kept copy whose folded twin carried
another trace (or none) says so in its detail: ``other_witness`` (where the twin was
seen) and ``other_trace`` (its trace id; absent: it had none), which the trace check
judges like any observation.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from chaoskit.errors import ChaoskitError
from chaoskit.observe.history import History, Observation, is_effect
from chaoskit.observe.logs import EXAMPLES_KEPT, read_logs
from chaoskit.observe.topic_records import Record, Topics, UnparseableRecord, observation_from_record

BATCH = 1000


@dataclass(frozen=True)
class RecorderStats:
    """How complete the record is: a report shows these next to the verdicts."""

    records: int
    skipped_records: int
    log_lines: int
    skipped_lines: int
    merged: int
    caught_up: bool
    notes: tuple[str, ...]


OTHER_WITNESS = "other_witness"  # detail: where the folded twin of this observation was seen
OTHER_TRACE = "other_trace"  # detail: the folded twin's trace id, when it differs (absent: none)

Fact = tuple[str, str, bool]


def reconcile(kafka: Sequence[Observation], logs: Sequence[Observation]) -> tuple[list[Observation], int]:
    """Merge the two witnesses: per event, kind and effect keep the one that saw it more often.

    Effects and no-ops of ``applied`` are counted apart: a redelivered duplicate is a
    no-op on the processed topic and no log line at all, and must not hide the effect
    that only the log saw. A folded copy is paired with a kept one of the same fact (in
    the order each witness saw them) and, if their trace ids differ, leaves its place
    and trace on the kept one (``OTHER_WITNESS``, ``OTHER_TRACE``). Returns the merged
    observations and how many copies were folded away.
    """

    def fact(o: Observation) -> Fact:
        return o.event_id, o.kind, is_effect(o.detail)

    seen_kafka = Counter(map(fact, kafka))
    seen_logs = Counter(map(fact, logs))
    kept = [o for o in kafka if seen_kafka[fact(o)] >= seen_logs[fact(o)]]
    kept += [o for o in logs if seen_logs[fact(o)] > seen_kafka[fact(o)]]
    twins: dict[Fact, deque[Observation]] = {}
    for o in kafka:
        if seen_kafka[fact(o)] < seen_logs[fact(o)]:
            twins.setdefault(fact(o), deque()).append(o)
    for o in logs:
        if seen_logs[fact(o)] <= seen_kafka[fact(o)]:
            twins.setdefault(fact(o), deque()).append(o)
    folded = sum(map(len, twins.values()))
    return [_with_twin(o, twins.get(fact(o))) for o in kept], folded


def _with_twin(kept: Observation, twins: deque[Observation] | None) -> Observation:
    """The kept copy, noting its folded twin (the next one of its fact) if their traces differ."""
    if not twins:
        return kept
    twin = twins.popleft()
    if twin.trace_id == kept.trace_id:
        return kept
    return kept._replace(detail={**kept.detail, OTHER_WITNESS: twin.where, OTHER_TRACE: twin.trace_id})


class Recorder:
    """Records one experiment; use as ``with Recorder(...) as rec:`` then ``rec.history``."""

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        log_paths: Iterable[str | Path] = (),
        *,
        from_beginning: bool = False,
        poll_s: float = 0.2,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self._bootstrap = bootstrap
        self._topics = topics
        self._log_paths = list(log_paths)
        self._from_beginning = from_beginning
        self._poll_s = poll_s
        self._connect_timeout_s = connect_timeout_s
        self._stop = threading.Event()
        self._deadline = 0.0
        self._thread: threading.Thread | None = None
        self._starts: dict[tuple[str, int], int] = {}
        self._observations: list[Observation] = []
        self._skipped = 0
        self._notes: list[str] = []
        self._caught_up = False
        self._failure: BaseException | None = None
        self.history: History | None = None
        self.stats: RecorderStats | None = None

    def add_logs(self, paths: Iterable[str | Path]) -> None:
        """Also read these service logs at ``stop`` (instances started mid-experiment)."""
        self._log_paths += [p for p in paths if p not in self._log_paths]

    def start(self) -> None:
        """Assign every partition of the topics and start consuming; fails fast on a missing topic."""
        consumer = Consumer(
            {
                "bootstrap.servers": self._bootstrap,
                "group.id": f"chaoskit-recorder-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 100,
                "socket.timeout.ms": 10000,
                "socket.connection.setup.timeout.ms": 5000,
                "reconnect.backoff.max.ms": 1000,
                "error_cb": self._on_error,
            }
        )
        try:
            self._starts = self._start_offsets(consumer)
            consumer.assign([TopicPartition(t, p, o) for (t, p), o in self._starts.items()])
        except KafkaException as exc:
            consumer.close()
            raise ChaoskitError(f"recorder: cannot read Kafka at {self._bootstrap}: {exc}") from exc
        except BaseException:
            consumer.close()
            raise
        self._thread = threading.Thread(target=self._run, args=(consumer,), name="chaoskit-recorder", daemon=True)
        self._thread.start()

    def stop(self, deadline_s: float = 10.0) -> History:
        """Drain to the current end offsets (at most ``deadline_s``), then build the History."""
        if self._thread is None:
            raise ChaoskitError("Recorder.stop() called before start()")
        self._deadline = time.monotonic() + deadline_s
        self._stop.set()
        self._thread.join(deadline_s + 5.0)
        if self._thread.is_alive():
            self._notes.append("the consumer thread did not finish within the deadline; the record may be incomplete")
        if self._failure is not None:
            raise ChaoskitError(f"the history recorder failed: {self._failure!r}") from self._failure
        kafka = list(self._observations)
        logs = read_logs(self._log_paths)
        merged, dropped = reconcile(kafka, logs.observations)
        notes = self._notes[:EXAMPLES_KEPT] + logs.examples + [f"{p}: no such log file" for p in logs.missing]
        self.stats = RecorderStats(
            records=len(kafka) + self._skipped,
            skipped_records=self._skipped,
            log_lines=logs.lines,
            skipped_lines=logs.skipped,
            merged=dropped,
            caught_up=self._caught_up,
            notes=tuple(notes),
        )
        self.history = History(sorted(merged, key=itemgetter(0)))
        return self.history

    def __enter__(self) -> Recorder:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.history is None:
            self.stop()

    # -- consumer thread ---------------------------------------------------------

    def _start_offsets(self, consumer: Consumer) -> dict[tuple[str, int], int]:
        metadata = consumer.list_topics(timeout=self._connect_timeout_s)
        starts: dict[tuple[str, int], int] = {}
        for topic in self._topics.all():
            info = metadata.topics.get(topic)
            if info is None or info.error is not None:
                known = sorted(t for t in metadata.topics if not t.startswith("__"))
                raise ChaoskitError(
                    f"recorder: topic {topic!r} does not exist on {self._bootstrap}; topics there: {known}"
                )
            for partition in info.partitions:
                if self._from_beginning:
                    starts[topic, partition] = OFFSET_BEGINNING
                else:
                    timeout = self._connect_timeout_s
                    low_high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
                    if low_high is None:
                        raise ChaoskitError(f"recorder: no end offset for {topic}[{partition}] within {timeout}s")
                    starts[topic, partition] = low_high[1]
        return starts

    def _run(self, consumer: Consumer) -> None:
        try:
            while not self._stop.is_set():
                self._consume(consumer)
            self._drain(consumer)
        except BaseException as exc:  # surfaced by stop(): a thread cannot raise to its caller
            self._failure = exc
        finally:
            consumer.close()

    def _consume(self, consumer: Consumer) -> None:
        for message in consumer.consume(num_messages=BATCH, timeout=self._poll_s):
            if message.error() is not None:
                self._note(f"consumer error: {message.error()}")
                continue
            try:
                self._observations.append(observation_from_record(Record.from_message(message), self._topics))
            except UnparseableRecord as exc:
                self._skipped += 1
                self._note(str(exc))

    def _drain(self, consumer: Consumer) -> None:
        """Consume until every partition reaches the end offset it has now, or the deadline."""
        targets: dict[tuple[str, int], int] = {}
        for topic, partition in self._starts:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                # None on a timeout, whatever its annotation says
                low_high: tuple[int, int] | None = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=remaining
                )
            except KafkaException as exc:
                self._note(f"end offset of {topic}[{partition}] unavailable: {exc}")
                return
            if low_high is None:
                return
            targets[topic, partition] = low_high[1]
        while time.monotonic() < self._deadline:
            positions = consumer.position([TopicPartition(t, p) for t, p in targets])
            if all(self._reached(tp, targets[tp.topic, tp.partition]) for tp in positions):
                self._caught_up = True
                return
            self._consume(consumer)

    def _reached(self, position: TopicPartition, target: int) -> bool:
        """Consumed up to ``target``; a partition with nothing new since the start needs no read
        (its position stays unset, and a start of OFFSET_BEGINNING means offset 0)."""
        return position.offset >= target or target <= max(0, self._starts[position.topic, position.partition])

    def _on_error(self, error: KafkaError) -> None:
        self._note(f"kafka: {error.str()}")

    def _note(self, text: str) -> None:
        if len(self._notes) < EXAMPLES_KEPT:
            self._notes.append(text)
