"""Backup and recovery of the reference system: Redis state plus the Kafka positions it matches.

A snapshot holds every `doc:*` hash together with the committed offsets of the groups
that write them: workflow-service on the requests topic and redriver on the DLQ. The
offsets are read FIRST, then the state. Whatever a group had committed by then was
already applied (offsets are committed only after the effect is durable), so the state
read afterwards contains it; anything after those offsets is in the topics and is
replayed. Reading in the other order could miss events committed in between.

Recovery = restore + replay:
  restore  deletes every `doc:*` hash and `docs:index`, then loads the snapshot's
           documents through the services' own idempotent apply (the Lua script), which
           rebuilds the index too;
  replay   applies, through the same script, every request after the snapshot's
           workflow-service offsets and every DLQ record after its redriver offsets,
           except events parked for good (alerted on ops.alerts): the system never
           applied those, and the verifier does not expect them.
The script never lets an older or equal version overwrite a newer one, so replaying
events that are already in the state, in any order, changes nothing, and the services
may keep running during recovery: replay reads the topics only after the wipe, so an
event is either replayed or applied by a service afterwards.

    python -m services.backup snapshot --bootstrap H:P --redis URL --out FILE
    python -m services.backup snapshot --bootstrap H:P --redis URL --dir DIR --every 5 [--keep 10]
    python -m services.backup restore  --bootstrap H:P --redis URL FILE
    python -m services.backup recover  --bootstrap H:P --redis URL FILE

Exit codes: 0 done (the report is printed as JSON), 2 bad input or unreadable Kafka/Redis.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis
from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from services.messages import DocumentEvent, InvalidEvent, decode_headers
from services.redis_apply import (
    DOC_KEY_PREFIX,
    INDEX_KEY,
    ApplyOutcome,
    DocumentStore,
    redis_client,
)

FORMAT = "chaoskit.backup"
FORMAT_VERSION = 1
ERROR_EXIT_CODE = 2
DOC_FIELDS = ("version", "content", "event_id", "trace_id", "applied_at")
_BATCH = 500


class BackupError(RuntimeError):
    """Kafka or Redis could not be read or written, or a snapshot file is not valid; no result."""


@dataclass(frozen=True)
class BackupConfig:
    """Where the system's state and logs are; defaults are the reference system's names."""

    bootstrap: str
    redis_url: str
    requests_topic: str = "documents.requested"
    requests_group: str = "workflow-service"
    dlq_topic: str = "documents.dlq"
    dlq_group: str = "redriver"
    alerts_topic: str = "ops.alerts"
    timeout_s: float = 30.0


@dataclass(frozen=True)
class Position:
    """Where a consumer group stood on a topic: per partition, the next offset to read
    (None: nothing committed yet, so replay starts at the beginning)."""

    group: str
    topic: str
    offsets: dict[int, int | None]

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "topic": self.topic, "offsets": {str(p): o for p, o in self.offsets.items()}}

    @classmethod
    def from_json(cls, data: Any, where: str) -> Position:
        try:
            offsets = {int(p): (None if o is None else int(o)) for p, o in data["offsets"].items()}
            return cls(str(data["group"]), str(data["topic"]), offsets)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            shape = "{group, topic, offsets: {partition: offset|null}}"
            raise BackupError(f"{where}: expected {shape} ({exc!r})") from None


@dataclass(frozen=True)
class Snapshot:
    """`taken_at`: when the offsets were read; `completed_at`: when the state read ended.
    Only a snapshot completed before a disaster holds the state from before it."""

    taken_at: float
    completed_at: float
    requests: Position
    dlq: Position
    docs: dict[str, dict[str, str]]

    def save(self, path: Path) -> None:
        """Write atomically: a crash mid-write never leaves a truncated snapshot behind."""
        body = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "taken_at": self.taken_at,
            "completed_at": self.completed_at,
            "positions": {"requests": self.requests.to_json(), "dlq": self.dlq.to_json()},
            "docs": self.docs,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text(json.dumps(body, separators=(",", ":")))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Snapshot:
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise BackupError(f"{path}: cannot read the snapshot ({exc.strerror})") from None
        except json.JSONDecodeError as exc:
            raise BackupError(f"{path}: not JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BackupError(f'{path}: not a snapshot (expected "format": {FORMAT!r})')
        if data.get("version") != FORMAT_VERSION:
            found = data.get("version")
            raise BackupError(f"{path}: snapshot format version {found!r}; this code reads {FORMAT_VERSION}")
        docs = data.get("docs")
        if not isinstance(docs, dict) or not all(isinstance(d, dict) for d in docs.values()):
            raise BackupError(f'{path}: "docs" must map each key to its hash fields')
        positions = data.get("positions") or {}
        return cls(
            taken_at=float(data.get("taken_at", 0.0)),
            completed_at=float(data.get("completed_at", 0.0)),
            requests=Position.from_json(positions.get("requests"), f"{path}: positions.requests"),
            dlq=Position.from_json(positions.get("dlq"), f"{path}: positions.dlq"),
            docs=docs,
        )


@dataclass
class ReplayCounts:
    """What replay did with the records it read."""

    read: int = 0
    applied: int = 0
    duplicate: int = 0
    stale: int = 0
    parked: int = 0
    unreadable: int = 0

    def count(self, outcome: ApplyOutcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)


@dataclass
class RecoveryReport:
    snapshot_taken_at: float
    restored_docs: int
    requests: ReplayCounts = field(default_factory=ReplayCounts)
    dlq: ReplayCounts = field(default_factory=ReplayCounts)
    took_s: float = 0.0

    def summary(self) -> str:
        taken = time.strftime("%H:%M:%S", time.localtime(self.snapshot_taken_at))
        return (
            f"restored {self.restored_docs} docs from a snapshot of {taken}, "
            f"replayed {self.requests.read} requests ({self.requests.applied} applied) and {self.dlq.read} DLQ records "
            f"({self.dlq.applied} applied), skipped {self.requests.parked + self.dlq.parked} parked events, "
            f"in {self.took_s:.2f} s"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}


# -- snapshot ---------------------------------------------------------------------------------


def take_snapshot(config: BackupConfig) -> Snapshot:
    """Offsets of both groups first, then every document (see the module docstring for why)."""
    admin = AdminClient({"bootstrap.servers": config.bootstrap, "log_level": 3})
    taken_at = time.time()
    requests_position = committed_position(admin, config.requests_group, config.requests_topic, config.timeout_s)
    dlq_position = committed_position(admin, config.dlq_group, config.dlq_topic, config.timeout_s)
    client = redis_client(config.redis_url)
    try:
        docs = read_docs(client)
    except redis.RedisError as exc:
        raise BackupError(f"redis: {exc.__class__.__name__}: {exc}") from None
    finally:
        client.close()
    return Snapshot(taken_at, time.time(), requests_position, dlq_position, docs)


def committed_position(admin: AdminClient, group: str, topic: str, timeout_s: float) -> Position:
    try:
        metadata = admin.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise BackupError(f"topic {topic!r} is not readable: {metadata.error if metadata else 'missing'}")
        wanted = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]
        request = [ConsumerGroupTopicPartitions(group, wanted)]
        result = admin.list_consumer_group_offsets(request, request_timeout=timeout_s)[group].result(timeout_s)
    except KafkaException as exc:
        raise BackupError(f"kafka: committed offsets of {group!r} on {topic!r}: {exc.args[0].str()}") from None
    offsets = {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in result.topic_partitions}
    return Position(group, topic, offsets)


def read_docs(client: redis.Redis) -> dict[str, dict[str, str]]:
    """Every `doc:*` hash, by entity key."""
    docs: dict[str, dict[str, str]] = {}
    for names in _batches(client.scan_iter(match=f"{DOC_KEY_PREFIX}*", count=1000)):
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(name)
        for name, fields in zip(names, pipe.execute()):
            if fields:  # deleted between SCAN and HGETALL
                docs[name[len(DOC_KEY_PREFIX) :]] = fields
    return docs


# -- restore and replay -----------------------------------------------------------------------


def restore(config: BackupConfig, snapshot: Snapshot) -> int:
    """Wipe `doc:*` and `docs:index`, then load the snapshot through the apply script."""
    client = redis_client(config.redis_url)
    store = DocumentStore(client)
    try:
        for names in _batches(client.scan_iter(match=f"{DOC_KEY_PREFIX}*", count=1000)):
            client.delete(*names)
        client.delete(INDEX_KEY)
        for key, fields in sorted(snapshot.docs.items()):
            event, trace_id, applied_at = _stored_doc(key, fields)
            store.apply(event, trace_id, applied_at=applied_at)
    except redis.RedisError as exc:
        raise BackupError(f"redis: {exc.__class__.__name__}: {exc}") from None
    finally:
        store.close()
    return len(snapshot.docs)


def replay(config: BackupConfig, snapshot: Snapshot) -> tuple[ReplayCounts, ReplayCounts]:
    """Apply what came after the snapshot: requests after its offsets, then the DLQ after its offsets."""
    parked = parked_event_ids(config)
    store = DocumentStore(redis_client(config.redis_url))
    try:
        counts = []
        for position in (snapshot.requests, snapshot.dlq):
            counted = ReplayCounts()
            for value, headers in read_after(config.bootstrap, position, config.timeout_s):
                counted.read += 1
                try:
                    event = DocumentEvent.from_value(value)
                except InvalidEvent:
                    counted.unreadable += 1
                    continue
                if event.event_id in parked:
                    counted.parked += 1
                    continue
                counted.count(store.apply(event, headers.get("trace_id") or None).outcome)
            counts.append(counted)
    except redis.RedisError as exc:
        raise BackupError(f"redis: {exc.__class__.__name__}: {exc}") from None
    finally:
        store.close()
    return counts[0], counts[1]


def recover(config: BackupConfig, snapshot: Snapshot) -> RecoveryReport:
    """Restore the snapshot, then replay everything after it; the state is complete again."""
    started = time.monotonic()
    report = RecoveryReport(snapshot.taken_at, restore(config, snapshot))
    report.requests, report.dlq = replay(config, snapshot)
    report.took_s = time.monotonic() - started
    return report


def parked_event_ids(config: BackupConfig) -> set[str]:
    """Events the redriver gave up on (one alert each); deployment alerts carry no event id."""
    everything = Position("", config.alerts_topic, {})
    parked: set[str] = set()
    for value, _ in read_after(config.bootstrap, everything, config.timeout_s):
        try:
            alert = json.loads(value) if value is not None else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(alert, dict) and isinstance(alert.get("event_id"), str):
            parked.add(alert["event_id"])
    return parked


def read_after(bootstrap: str, position: Position, timeout_s: float) -> list[tuple[bytes | None, dict[str, str]]]:
    """(value, headers) of every record of the topic from the position's offsets (a partition
    without one: from the beginning) up to the high watermarks read at the start."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"chaoskit-backup-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "log_level": 3,
        }
    )
    deadline = time.monotonic() + timeout_s
    try:
        metadata = consumer.list_topics(position.topic, timeout=timeout_s).topics.get(position.topic)
        if metadata is None or metadata.error is not None:
            raise BackupError(f"topic {position.topic!r} is not readable: {metadata.error if metadata else 'missing'}")
        ends: dict[int, int] = {}
        starts: list[TopicPartition] = []
        for partition in sorted(metadata.partitions):
            tp = TopicPartition(position.topic, partition)
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s, cached=False)
            start = position.offsets.get(partition)
            start = low if start is None else max(start, low)
            if start < high:
                ends[partition] = high
                starts.append(TopicPartition(position.topic, partition, start))
        records: list[tuple[bytes | None, dict[str, str]]] = []
        consumer.assign(starts)
        while ends:
            if time.monotonic() >= deadline:
                raise BackupError(f"timed out after {timeout_s:g}s reading {position.topic} partitions {sorted(ends)}")
            for msg in consumer.consume(500, timeout=0.5):
                partition, error = msg.partition(), msg.error()
                if error is not None:
                    at_end = partition in ends and msg.offset() >= ends[partition]
                    if error.code() == KafkaError._PARTITION_EOF and at_end:
                        del ends[partition]
                    continue
                if partition in ends and msg.offset() < ends[partition]:
                    records.append((msg.value(), decode_headers(msg.headers())))
                    if msg.offset() >= ends[partition] - 1:
                        del ends[partition]
        return records
    except KafkaException as exc:
        raise BackupError(f"kafka: {exc.args[0].str()}") from None
    finally:
        consumer.close()


def _stored_doc(key: str, fields: dict[str, str]) -> tuple[DocumentEvent, str | None, float | None]:
    try:
        version = int(fields["version"])
        event = DocumentEvent(event_id=fields["event_id"], key=key, content=fields["content"], version=version)
        applied_at = float(fields["applied_at"]) if fields.get("applied_at") else None
    except (KeyError, ValueError) as exc:
        raise BackupError(f"snapshot doc {key!r} lacks a valid {exc}; each doc needs {', '.join(DOC_FIELDS)}") from None
    return event, fields.get("trace_id") or None, applied_at


def _batches(names: Iterator[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for name in names:
        batch.append(name)
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


# -- scheduled snapshots ----------------------------------------------------------------------


class BackupSchedule:
    """Takes a snapshot every `interval_s` into `directory`, keeping the newest `keep`.

    A failed snapshot is recorded in `errors` and the schedule carries on: one Redis
    hiccup must not end the backups. Use it as a context manager.
    """

    def __init__(self, config: BackupConfig, directory: Path, interval_s: float, keep: int = 10) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s={interval_s!r} is not allowed; expected seconds > 0")
        if keep < 1:
            raise ValueError(f"keep={keep!r} is not allowed; expected an integer >= 1")
        self.config = config
        self.directory = Path(directory)
        self.interval_s = interval_s
        self.keep = keep
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backup-schedule", daemon=True)

    def __enter__(self) -> BackupSchedule:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.config.timeout_s + 5)

    def snapshots(self) -> list[Path]:
        """Snapshot files, oldest first (names sort by time)."""
        return sorted(self.directory.glob("snapshot-*.json"))

    def latest(self, before: float | None = None) -> Path | None:
        """The newest snapshot, or the newest completed before `before` (e.g. before a
        disaster: a snapshot of the already-lost state would restore nothing)."""
        for path in reversed(self.snapshots()):
            if before is None or _completed_at(path) < before:
                return path
        return None

    def take(self) -> Path:
        snapshot = take_snapshot(self.config)
        path = self.directory / f"snapshot-{int(snapshot.completed_at * 1000):015d}.json"
        snapshot.save(path)
        for old in self.snapshots()[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.take()
            except BackupError as exc:
                self.errors.append(f"{time.time():.3f}: {exc}")
            self._stop.wait(self.interval_s)  # the schedule's period


def _completed_at(path: Path) -> float:
    return int(path.stem.split("-", 1)[1]) / 1000


# -- command line ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.backup", description=__doc__.splitlines()[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers (host:port), the direct listener")
    common.add_argument("--redis", required=True, help="Redis URL, e.g. redis://127.0.0.1:6379/0")
    common.add_argument("--requests-topic", default=BackupConfig.requests_topic)
    common.add_argument("--requests-group", default=BackupConfig.requests_group)
    common.add_argument("--dlq-topic", default=BackupConfig.dlq_topic)
    common.add_argument("--dlq-group", default=BackupConfig.dlq_group)
    common.add_argument("--alerts-topic", default=BackupConfig.alerts_topic)
    common.add_argument("--timeout", type=float, default=BackupConfig.timeout_s, help="seconds allowed per Kafka read")
    sub = parser.add_subparsers(dest="command", required=True)
    snap = sub.add_parser(
        "snapshot", parents=[common], help="take one snapshot (--out) or one every --every seconds (--dir)"
    )
    target = snap.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, help="write one snapshot to this file")
    target.add_argument("--dir", type=Path, help="write scheduled snapshots into this directory until Ctrl-C")
    snap.add_argument("--every", type=float, default=60.0, help="seconds between scheduled snapshots (with --dir)")
    snap.add_argument("--keep", type=int, default=10, help="snapshots kept in --dir")
    commands = (("restore", "wipe the documents and load a snapshot"), ("recover", "restore, then replay the topics"))
    for name, text in commands:
        command = sub.add_parser(name, parents=[common], help=text)
        command.add_argument("snapshot", type=Path, help="the snapshot file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.timeout > 0:
        parser.error(f"--timeout={args.timeout:g} is not allowed; expected seconds > 0")
    config = BackupConfig(
        args.bootstrap,
        args.redis,
        args.requests_topic,
        args.requests_group,
        args.dlq_topic,
        args.dlq_group,
        args.alerts_topic,
        args.timeout,
    )
    try:
        if args.command == "snapshot" and args.out is not None:
            snapshot = take_snapshot(config)
            snapshot.save(args.out)
            print(
                json.dumps(
                    {
                        "snapshot": str(args.out),
                        "docs": len(snapshot.docs),
                        "taken_at": snapshot.taken_at,
                        "requests_offsets": snapshot.requests.to_json()["offsets"],
                        "dlq_offsets": snapshot.dlq.to_json()["offsets"],
                    }
                )
            )
        elif args.command == "snapshot":
            if not args.every > 0 or args.keep < 1:
                parser.error(f"--every={args.every:g} --keep={args.keep}: expected seconds > 0 and keep >= 1")
            with (
                BackupSchedule(config, args.dir, args.every, args.keep) as schedule,
                contextlib.suppress(KeyboardInterrupt),
            ):
                threading.Event().wait()
            print(json.dumps({"snapshots": [str(p) for p in schedule.snapshots()], "errors": schedule.errors}))
        elif args.command == "restore":
            print(json.dumps({"restored_docs": restore(config, Snapshot.load(args.snapshot))}))
        else:
            print(json.dumps(recover(config, Snapshot.load(args.snapshot)).to_dict()))
    except BackupError as exc:
        sys.stderr.write(f"backup error: {exc}\n")
        return ERROR_EXIT_CODE
    return 0


if __name__ == "__main__":
    sys.exit(main())
