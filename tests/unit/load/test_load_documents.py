"""Event ids, keys, versions and the Kafka/HTTP encodings of the documents load sends."""

from __future__ import annotations

import json
from collections import defaultdict

from chaoskit.load.documents import KeySpace


def test_keys_come_from_the_prefix_and_versions_count_up_per_key() -> None:
    keys = KeySpace("exp7", 5, content_bytes=3, seed=1)
    docs = [keys.next() for _ in range(200)]
    assert {d.key for d in docs} == {f"exp7-{n}" for n in range(5)}
    versions: dict[str, list[int]] = defaultdict(list)
    for doc in docs:
        versions[doc.key].append(doc.version)
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())
    assert all(d.content == "xxx" for d in docs)


def test_every_event_gets_its_own_event_and_trace_id() -> None:
    keys = KeySpace("p", 1)
    docs = [keys.next() for _ in range(1000)]
    assert len({d.event_id for d in docs}) == 1000
    assert len({d.trace_id for d in docs}) == 1000
    assert all(len(d.event_id) == 32 and int(d.event_id, 16) >= 0 for d in docs)


def test_the_same_seed_draws_the_same_keys() -> None:
    a, b = KeySpace("p", 50, seed=9), KeySpace("p", 50, seed=9)
    assert [a.next().key for _ in range(20)] == [b.next().key for _ in range(20)]


def test_kafka_and_http_encodings_follow_the_reference_format() -> None:
    doc = KeySpace("p", 1, content_bytes=2).next()
    assert json.loads(doc.kafka_value()) == {"event_id": doc.event_id, "key": "p-0", "content": "xx", "version": 1}
    headers = dict(doc.kafka_headers(produced_at=1700000000.25))
    assert headers == {"event_id": doc.event_id.encode(), "trace_id": doc.trace_id.encode(), "produced_at": b"1700000000.25"}
    assert doc.http_body() == {
        "key": "p-0", "content": "xx", "version": 1, "event_id": doc.event_id, "trace_id": doc.trace_id,
    }
    assert doc.context() == {"event_id": doc.event_id, "trace_id": doc.trace_id, "key": "p-0", "version": 1}
