"""The Lua apply against a real Redis: older or duplicate versions never overwrite a newer one."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.exceptions import ConnectionError as RedisConnectionError
from svc_harness import RedisServer, free_port

from services.messages import DocumentEvent
from services.redis_apply import INDEX_KEY, ApplyOutcome, DocumentStore, doc_key, redis_client

pytestmark = pytest.mark.integration


def _event(key: str, version: int, event_id: str | None = None) -> DocumentEvent:
    return DocumentEvent(event_id or uuid.uuid4().hex, key, f"{key}@{version}", version)


@pytest.fixture()
def store(svc_redis: RedisServer) -> DocumentStore:
    return DocumentStore(redis_client(svc_redis.url))


def test_apply_writes_only_newer_versions(store: DocumentStore, svc_redis: RedisServer) -> None:
    key = f"apply-{uuid.uuid4().hex[:8]}"
    v2 = _event(key, 2)
    first = store.apply(v2, "trace-2", applied_at=100.0)
    assert (first.outcome, first.previous_version, first.in_effect) == (ApplyOutcome.APPLIED, None, True)

    assert store.apply(_event(key, 1), "t").outcome is ApplyOutcome.STALE  # older
    duplicate = store.apply(v2, "trace-2")  # the same event again (redelivery)
    assert (duplicate.outcome, duplicate.in_effect) == (ApplyOutcome.DUPLICATE, True)
    other = store.apply(_event(key, 2), "t")  # another event with the same version
    assert (other.outcome, other.previous_event_id, other.in_effect) == (ApplyOutcome.STALE, v2.event_id, False)

    client = svc_redis.client()
    assert client.hgetall(doc_key(key)) == {
        "version": "2",
        "content": f"{key}@2",
        "event_id": v2.event_id,
        "trace_id": "trace-2",
        "applied_at": "100.0",
    }
    newer = store.apply(_event(key, 3), "t")
    assert (newer.outcome, newer.previous_version, newer.previous_event_id) == (ApplyOutcome.APPLIED, 2, v2.event_id)
    assert client.hget(doc_key(key), "version") == "3"
    assert client.zscore(INDEX_KEY, key) == 3


@settings(max_examples=25, deadline=None)
@given(versions=st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=15))
def test_sequential_applies_succeed_exactly_at_new_maxima(svc_redis: RedisServer, versions: list[int]) -> None:
    store = DocumentStore(redis_client(svc_redis.url))
    key = f"seq-{uuid.uuid4().hex}"
    outcomes = [store.apply(_event(key, v), None).outcome for v in versions]
    expected = []
    best = -1
    for v in versions:
        expected.append(ApplyOutcome.APPLIED if v > best else ApplyOutcome.STALE)
        best = max(best, v)
    assert outcomes == expected
    assert svc_redis.client().hget(doc_key(key), "version") == str(max(versions))


def test_concurrent_applies_leave_the_highest_version(svc_redis: RedisServer) -> None:
    keys = [f"conc-{uuid.uuid4().hex[:8]}-{i}" for i in range(4)]
    events = [_event(key, v) for key in keys for v in range(40)]
    results: list[tuple[DocumentEvent, ApplyOutcome]] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        store = DocumentStore(redis_client(svc_redis.url))
        mine = events[:]
        random.Random(seed).shuffle(mine)
        for event in mine:  # every worker applies every event: heavy duplication
            outcome = store.apply(event, None).outcome
            with lock:
                results.append((event, outcome))

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 6 * len(events)

    client = svc_redis.client()
    newest = {key: next(e for e in events if e.key == key and e.version == 39) for key in keys}
    for key in keys:
        assert client.hget(doc_key(key), "version") == "39"
        assert client.hget(doc_key(key), "event_id") == newest[key].event_id
    applied = Counter(event.event_id for event, outcome in results if outcome is ApplyOutcome.APPLIED)
    assert max(applied.values()) == 1  # each event changed the state at most once
    assert all(applied[newest[key].event_id] == 1 for key in keys)


def test_unreachable_redis_fails_fast_with_a_connection_error() -> None:
    store = DocumentStore(redis_client(f"redis://127.0.0.1:{free_port()}/0"))  # nothing listens there
    started = time.monotonic()
    with pytest.raises(RedisConnectionError):
        store.apply(_event("k", 1), None)
    assert time.monotonic() - started < 5
