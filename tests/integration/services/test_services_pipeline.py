"""The main path end to end on real Kafka and Redis: order -> workflow -> Redis, verified."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
from confluent_kafka import Producer
from svc_harness import REPO, Stack, wait_until

from services.log import HISTORY_KINDS, LEVELS
from services.redis_apply import INDEX_KEY, doc_key
from services.verifier import verify

pytestmark = pytest.mark.integration


def _versions(stack: Stack, keys: list[str]) -> list[str | None]:
    pipe = stack.redis.client().pipeline(transaction=False)
    for key in keys:
        pipe.hget(doc_key(key), "version")
    return pipe.execute()


def _committed(stack: Stack, event_ids: set[str]) -> Counter[str]:
    return Counter(line["event_id"] for line in stack.workflow.logs(kind="committed") if line["event_id"] in event_ids)


def test_200_documents_are_applied_verified_and_never_dead_lettered(svc_stack: Stack) -> None:
    prefix = f"bulk-{uuid.uuid4().hex[:8]}-"
    docs = [
        {"key": f"{prefix}{i:03d}", "content": f"content {i}", "version": i % 7, "event_id": uuid.uuid4().hex}
        for i in range(200)
    ]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda d: svc_stack.post(**d), docs))
    assert [a["event_id"] for a in answers] == [d["event_id"] for d in docs]
    trace_of = {a["event_id"]: a["trace_id"] for a in answers}
    ids = set(trace_of)
    keys = [d["key"] for d in docs]

    wait_until(
        lambda: _versions(svc_stack, keys) == [str(d["version"]) for d in docs], 60, "all 200 documents in Redis"
    )
    wait_until(lambda: set(_committed(svc_stack, ids)) == ids, 30, "commits covering all 200 events")

    report = verify(
        svc_stack.kafka.bootstrap,
        svc_stack.redis.url,
        prefix,
        requests_topic=svc_stack.topics.requests,
        alerts_topic=svc_stack.topics.alerts,
    )
    assert report.ok, report.to_dict()
    assert sorted(report.matching) == sorted(keys)

    assert not [r for r in svc_stack.kafka.read_topic(svc_stack.topics.dlq) if r["headers"].get("event_id") in ids]
    processed = [r for r in svc_stack.kafka.read_topic(svc_stack.topics.processed) if r["value"]["event_id"] in ids]
    assert len(processed) == 200
    assert all(
        r["value"]["applied"] and r["headers"]["trace_id"] == trace_of[r["value"]["event_id"]] for r in processed
    )

    # The history contract: every event passes through each kind once, with its trace id.
    history: dict[str, list[str]] = defaultdict(list)
    for service in (svc_stack.order, svc_stack.workflow):
        for line in service.logs():
            if line["event_id"] in ids and line["kind"]:
                assert line["trace_id"] == trace_of[line["event_id"]], line
                history[line["event_id"]].append(line["kind"])
    expected = ["produced", "acked", "consumed", "attempted", "applied", "committed"]
    assert {event_id: sorted(kinds) for event_id, kinds in history.items()} == {
        event_id: sorted(expected) for event_id in ids
    }


def test_every_log_line_follows_the_json_contract(svc_stack: Stack) -> None:
    svc_stack.post(f"contract-{uuid.uuid4().hex[:8]}", "x", 1)
    fixed = ["time", "service", "level", "event_id", "trace_id", "kind", "message"]
    for service in svc_stack.all:
        raw_lines = service.log_path.read_text().splitlines()
        assert raw_lines, service.name
        for raw in raw_lines:
            line = json.loads(raw)
            assert list(line)[:7] == fixed, line
            assert isinstance(line["time"], float) and line["service"] == service.name
            assert line["level"] in LEVELS and (line["kind"] is None or line["kind"] in HISTORY_KINDS), line


def test_replayed_batch_with_duplicates_and_old_versions_keeps_the_newest(svc_stack: Stack) -> None:
    rng = random.Random(20261125)
    prefix = f"replay-{uuid.uuid4().hex[:8]}-"
    keys = [f"{prefix}{i}" for i in range(8)]
    event_id = {(key, v): uuid.uuid4().hex for key in keys for v in range(1, 6)}
    batch = list(event_id)
    rng.shuffle(batch)
    replay = rng.sample(batch, 20)  # the same events again: duplicates and old versions
    sent = Counter[str]()
    for key, version in batch + replay:
        svc_stack.post(key, f"{key} v{version}", version, event_id[(key, version)])
        sent[event_id[(key, version)]] += 1

    # A replay of the log itself: the same records produced to the topic again.
    records = [
        r for r in svc_stack.kafka.read_topic(svc_stack.topics.requests) if r["key"] and r["key"].startswith(prefix)
    ]
    producer = Producer({"bootstrap.servers": svc_stack.kafka.bootstrap, "enable.idempotence": True})
    for record in rng.sample(records, 15):
        producer.produce(
            svc_stack.topics.requests,
            key=record["key"],
            value=record["raw_value"],
            headers=list(record["headers"].items()),
        )
        sent[record["headers"]["event_id"]] += 1
    assert producer.flush(15) == 0

    ids = set(sent)
    wait_until(
        lambda: all(_committed(svc_stack, ids)[i] >= n for i, n in sent.items()),
        60,
        "every posted and replayed record to be committed",
    )
    client = svc_stack.redis.client()
    for key in keys:
        stored = client.hgetall(doc_key(key))
        assert (stored["version"], stored["content"], stored["event_id"]) == ("5", f"{key} v5", event_id[(key, 5)])
        assert client.zscore(INDEX_KEY, key) == 5

    applied: dict[str, list[int]] = defaultdict(list)
    for line in svc_stack.workflow.logs(kind="applied"):
        if line["key"].startswith(prefix):
            applied[line["key"]].append(line["version"])
    for key in keys:
        assert applied[key] == sorted(set(applied[key])), f"{key} applied out of order: {applied[key]}"
    skipped = [line for line in svc_stack.workflow.logs(message="skipped stale") if line["key"].startswith(prefix)]
    assert len(skipped) == sum(sent.values()) - sum(len(v) for v in applied.values())
    assert all(line["stored_version"] >= line["incoming_version"] for line in skipped)

    report = verify(
        svc_stack.kafka.bootstrap,
        svc_stack.redis.url,
        prefix,
        requests_topic=svc_stack.topics.requests,
        alerts_topic=svc_stack.topics.alerts,
    )
    assert report.ok and sorted(report.matching) == keys, report.to_dict()


def test_verifier_cli_exits_0_on_match_and_1_naming_each_mismatch(svc_stack: Stack) -> None:
    prefix = f"cli-{uuid.uuid4().hex[:8]}-"
    for i, version in enumerate([3, 1, 0]):
        svc_stack.post(f"{prefix}{i}", f"c{i}", version)
    keys = [f"{prefix}{i}" for i in range(3)]
    wait_until(lambda: _versions(svc_stack, keys) == ["3", "1", "0"], 30, "3 documents in Redis")

    def run_cli() -> tuple[int, dict]:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "services.verifier",
                "--bootstrap",
                svc_stack.kafka.bootstrap,
                "--redis",
                svc_stack.redis.url,
                "--key-prefix",
                prefix,
                "--timeout",
                "20",
                "--requests-topic",
                svc_stack.topics.requests,
                "--alerts-topic",
                svc_stack.topics.alerts,
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return proc.returncode, json.loads(proc.stdout)

    code, report = run_cli()
    assert code == 0 and report["ok"] and sorted(report["matching"]) == keys, report

    client = svc_stack.redis.client()
    client.hset(doc_key(keys[0]), "version", "2")  # an older version than requested
    client.zadd(INDEX_KEY, {keys[0]: 2})
    client.delete(doc_key(keys[1]))
    client.zrem(INDEX_KEY, keys[1])
    client.hset(doc_key(f"{prefix}ghost"), mapping={"version": "1", "content": "?", "event_id": "nobody"})
    client.zadd(INDEX_KEY, {f"{prefix}ghost": 1})

    code, report = run_cli()
    assert code == 1 and not report["ok"]
    assert [e["key"] for e in report["stale"]] == [keys[0]]
    assert report["stale"][0]["expected_version"] == 3 and report["stale"][0]["actual_version"] == 2
    assert [e["key"] for e in report["missing"]] == [keys[1]]
    assert [e["key"] for e in report["unexpected"]] == [f"{prefix}ghost"]
    assert report["matching"] == [keys[2]]
