"""Event ids, keys, versions and the Kafka/HTTP encodings of the documents load sends."""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict

import pytest

from chaoskit.load.documents import Document, KeySpace
from chaoskit.load.records import RequestRecord, encode_records


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


def test_workers_of_a_run_draw_disjoint_slices_of_the_keys() -> None:
    slices = [{KeySpace("p", 10, stride=3, offset=n).next().key for _ in range(300)} for n in range(3)]
    assert slices == [{"p-0", "p-3", "p-6", "p-9"}, {"p-1", "p-4", "p-7"}, {"p-2", "p-5", "p-8"}]


def test_the_same_seed_draws_the_same_keys() -> None:
    a, b = KeySpace("p", 50, seed=9), KeySpace("p", 50, seed=9)
    assert [a.next().key for _ in range(20)] == [b.next().key for _ in range(20)]


def test_kafka_and_http_encodings_follow_the_reference_format() -> None:
    doc = KeySpace("p", 1, content_bytes=2).next()
    assert json.loads(doc.kafka_value()) == {"event_id": doc.event_id, "key": "p-0", "content": "xx", "version": 1}
    headers = dict(doc.kafka_headers(produced_at=repr(1700000000.25)))
    assert headers == {"event_id": doc.event_id, "trace_id": doc.trace_id, "produced_at": "1700000000.25"}
    assert abs(float(dict(doc.kafka_headers())["produced_at"]) - time.time()) < 60
    assert doc.http_body() == {
        "key": "p-0",
        "content": "xx",
        "version": 1,
        "event_id": doc.event_id,
        "trace_id": doc.trace_id,
    }
    assert doc.context() == {"event_id": doc.event_id, "trace_id": doc.trace_id, "key": "p-0", "version": 1}


def test_event_and_trace_ids_are_32_lowercase_hex_digits() -> None:
    keys = KeySpace("p", 1)
    for _ in range(200):
        doc = keys.next()
        for value in (doc.event_id, doc.trace_id):
            assert re.fullmatch("[0-9a-f]{32}", value), value
        assert doc.event_id != doc.trace_id


def test_seeded_key_spaces_still_make_different_ids() -> None:
    assert KeySpace("p", 5, seed=1).next().event_id != KeySpace("p", 5, seed=1).next().event_id


@pytest.mark.parametrize(
    ("event_id", "key", "content"),
    [("abc123", "exp-1", "xx"), ('we"ird', 'k"é\n', "ü\\"), ("", "", "")],
)
def test_hot_path_encodings_write_exactly_what_json_dumps_writes(event_id: str, key: str, content: str) -> None:
    doc = Document(event_id, "t", key, 3, content)
    expected = {"event_id": event_id, "key": key, "content": content, "version": 3}
    assert doc.kafka_value() == json.dumps(expected, separators=(",", ":")).encode()
    for record in (
        RequestRecord(event_id, "0af7", key, 3, True, 1795612405.194137, 12.5),
        RequestRecord(event_id, "0af7", key, 3, False, 1.0, 0.1, 'HTTP 503: "down"'),
    ):
        line = encode_records([tuple(record)])
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert [RequestRecord._make(row) for row in json.loads(line)] == [record]
