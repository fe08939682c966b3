"""Backup, restore and replay on the real Kafka broker and Redis server.

Each test gets its own topics and consumer groups and Redis database 1 (the reference
services use database 0), then plays the system's part by hand: it applies events with
the services' own DocumentStore and commits offsets as workflow-service would. That makes
every position exact, so the recovered state can be compared key by key.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from chaoskit.runtime.health import wait_for
from chaoskit.runtime.topics import create_topics
from services.backup import BackupConfig, BackupSchedule, Snapshot, recover, restore, take_snapshot
from services.messages import DocumentEvent
from services.redis_apply import DocumentStore, redis_client
from services.verifier import verify

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
TEST_DB = 1


@dataclass
class Stage:
    """Test-only topics, groups and a Redis database: a miniature of the reference system's log and state."""

    config: BackupConfig
    kafka: Any  # the plugin's KafkaClients
    store: DocumentStore
    redis: Any  # a redis-py client on the test database

    def request(self, key: str, version: int) -> DocumentEvent:
        event = DocumentEvent(uuid.uuid4().hex, key, f"{key} v{version}", version)
        self._publish(self.config.requests_topic, event)
        return event

    def dead_letter(self, event: DocumentEvent) -> None:
        """The DLQ record workflow-service writes for a failed event: the same record, on the DLQ."""
        self._publish(self.config.dlq_topic, event)

    def _publish(self, topic: str, event: DocumentEvent) -> None:
        producer = self.kafka.producer()
        producer.produce(
            topic,
            key=event.key.encode(),
            value=event.to_value(),
            headers=[("event_id", event.event_id.encode()), ("trace_id", f"t-{event.event_id}".encode())],
        )
        assert producer.flush(10) == 0

    def alert(self, event: DocumentEvent) -> None:
        producer = self.kafka.producer()
        producer.produce(
            self.config.alerts_topic, value=json.dumps({"event_id": event.event_id, "reason": "gave up"}).encode()
        )
        assert producer.flush(10) == 0

    def commit_all(self) -> dict[int, int]:
        """Commit the requests group at the topic's end, as workflow-service does once events are applied."""
        consumer: Consumer = self.kafka.consumer(group=self.config.requests_group)
        try:
            ends = {
                p: consumer.get_watermark_offsets(TopicPartition(self.config.requests_topic, p), timeout=10)[1]
                for p in (0, 1)
            }
            consumer.commit(
                offsets=[TopicPartition(self.config.requests_topic, p, o) for p, o in ends.items()], asynchronous=False
            )
        finally:
            consumer.close()
        return ends


@pytest.fixture
def stage(chaos_env, kafka) -> Iterator[Stage]:
    suffix = uuid.uuid4().hex[:8]
    names = {"requests": f"it.requests.{suffix}", "dlq": f"it.dlq.{suffix}", "alerts": f"it.alerts.{suffix}"}
    # created, and led: reading watermarks before the leaders are elected fails
    create_topics(kafka.bootstrap, {names["requests"]: 2, names["dlq"]: 1, names["alerts"]: 1}, "kafka")
    redis_url = f"redis://{chaos_env.endpoint('redis')}/{TEST_DB}"
    client = redis_client(redis_url)
    client.flushdb()
    config = BackupConfig(
        kafka.bootstrap,
        redis_url,
        requests_topic=names["requests"],
        requests_group=f"it-workflow-{suffix}",
        dlq_topic=names["dlq"],
        dlq_group=f"it-redriver-{suffix}",
        alerts_topic=names["alerts"],
        timeout_s=20,
    )
    store = DocumentStore(client)
    try:
        yield Stage(config, kafka, store, client)
    finally:
        client.flushdb()
        store.close()
        admin = kafka.admin()  # held: a collected client would cancel its futures
        for future in admin.delete_topics(list(names.values())).values():
            future.result(20)


def test_recovery_restores_the_snapshot_and_replays_what_came_after(stage: Stage) -> None:
    a1, b1, a2 = stage.request("a", 1), stage.request("b", 1), stage.request("a", 2)
    c1 = stage.request("c", 1)
    c2 = stage.request("c", 2)  # failed before the snapshot: in the DLQ, not applied yet
    stage.dead_letter(c2)
    for event in (a1, b1, a2, c1):
        stage.store.apply(event, None)
    committed = stage.commit_all()

    snapshot = take_snapshot(stage.config)
    assert snapshot.requests.offsets == committed
    assert snapshot.dlq.offsets == {0: None}  # the redriver never committed: replay its DLQ from the start
    assert {k: d["version"] for k, d in snapshot.docs.items()} == {"a": "2", "b": "1", "c": "1"}

    b2, d1, a3 = stage.request("b", 2), stage.request("d", 1), stage.request("a", 3)
    e1 = stage.request("e", 1)
    stage.alert(e1)  # parked for good: the system never applied it
    stage.store.apply(b2, None)  # the system moved on after the snapshot...
    stage.redis.flushdb()  # ...then lost everything

    report = recover(stage.config, snapshot)
    assert report.restored_docs == 3
    assert (report.requests.read, report.requests.applied, report.requests.parked) == (4, 3, 1)
    assert (report.dlq.read, report.dlq.applied) == (1, 1)
    stored = {k: stage.redis.hgetall(f"doc:{k}") for k in "abcde"}
    assert {k: d.get("version") for k, d in stored.items()} == {"a": "3", "b": "2", "c": "2", "d": "1", "e": None}
    assert stored["a"]["event_id"] == a3.event_id and stored["d"]["event_id"] == d1.event_id
    assert stored["b"]["trace_id"] == f"t-{b2.event_id}"

    verdict = verify(
        stage.config.bootstrap,
        stage.config.redis_url,
        requests_topic=stage.config.requests_topic,
        alerts_topic=stage.config.alerts_topic,
        timeout_s=20,
    )
    assert verdict.ok, verdict.to_dict()
    assert sorted(verdict.matching) == ["a", "b", "c", "d"]
    assert stored["c"]["event_id"] == c2.event_id


def test_restore_wipes_what_the_snapshot_does_not_hold_and_rebuilds_the_index(stage: Stage) -> None:
    stage.store.apply(stage.request("k", 1), None)
    snapshot = take_snapshot(stage.config)
    stage.store.apply(stage.request("stray", 1), None)
    assert restore(stage.config, snapshot) == 1
    client = stage.redis
    assert sorted(client.keys("doc:*")) == ["doc:k"]
    assert client.zrange("docs:index", 0, -1, withscores=True) == [("k", 1.0)]


def test_the_command_line_snapshots_and_recovers(stage: Stage, tmp_path: Path) -> None:
    event = stage.request("cli", 7)
    stage.store.apply(event, "trace-cli")
    stage.commit_all()
    config = stage.config
    common = [
        "--bootstrap",
        config.bootstrap,
        "--redis",
        config.redis_url,
        "--requests-topic",
        config.requests_topic,
        "--requests-group",
        config.requests_group,
        "--dlq-topic",
        config.dlq_topic,
        "--dlq-group",
        config.dlq_group,
        "--alerts-topic",
        config.alerts_topic,
    ]
    out = tmp_path / "snap.json"
    taken = subprocess.run(
        [sys.executable, "-m", "services.backup", "snapshot", *common, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert taken.returncode == 0, taken.stderr
    assert json.loads(taken.stdout)["docs"] == 1
    stage.redis.flushdb()
    recovered = subprocess.run(
        [sys.executable, "-m", "services.backup", "recover", *common, str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert recovered.returncode == 0, recovered.stderr
    assert json.loads(recovered.stdout)["restored_docs"] == 1
    assert stage.redis.hget("doc:cli", "trace_id") == "trace-cli"
    bad = subprocess.run(
        [sys.executable, "-m", "services.backup", "recover", *common, str(tmp_path / "none.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "cannot read the snapshot" in bad.stderr


def test_scheduled_snapshots_keep_the_newest_and_find_one_before_a_moment(stage: Stage, tmp_path: Path) -> None:
    stage.store.apply(stage.request("s", 1), None)
    with BackupSchedule(stage.config, tmp_path / "snaps", interval_s=0.2, keep=3) as schedule:
        wait_for(lambda: len(schedule.snapshots()) >= 3, 30, "three scheduled snapshots")
        moment = time.time()
        wait_for(
            lambda: schedule.latest() is not None and schedule.latest() != schedule.latest(before=moment),
            30,
            "a snapshot after the moment",
        )
    assert len(schedule.snapshots()) <= 3 and not schedule.errors
    before = schedule.latest(before=moment)
    assert before is not None and Snapshot.load(before).completed_at < moment
    assert Snapshot.load(before).docs["s"]["version"] == "1"
