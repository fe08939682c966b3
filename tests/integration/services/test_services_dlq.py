"""Failure paths on real components: DLQ while document-service is down, redrive with
backoff once it is back, and exactly one alert when every attempt fails."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

import pytest
from svc_harness import BACKOFF, Stack, wait_until

from services.redis_apply import doc_key
from services.redriver import retry_delay_s
from services.verifier import verify

pytestmark = pytest.mark.integration

BASE, FACTOR, CAP = (float(BACKOFF[k]) for k in ("BACKOFF_BASE_S", "BACKOFF_FACTOR", "BACKOFF_CAP_S"))
MAX_ATTEMPTS = int(BACKOFF["MAX_ATTEMPTS"])


def _delay(attempts: int) -> float:
    return retry_delay_s(attempts, BASE, FACTOR, CAP)


def _records_of(stack: Stack, topic: str, ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in stack.kafka.read_topic(topic):
        if record["headers"].get("event_id") in ids:
            found[record["headers"]["event_id"]].append(record)
    for records in found.values():
        records.sort(key=lambda r: int(r["headers"].get("attempts", "0")))
    return found


def _verify(stack: Stack, prefix: str) -> None:
    report = verify(
        stack.kafka.bootstrap,
        stack.redis.url,
        prefix,
        requests_topic=stack.topics.requests,
        alerts_topic=stack.topics.alerts,
    )
    assert report.ok, report.to_dict()


def test_paused_document_service_sends_events_to_dlq_and_redriver_applies_them_after_backoff(
    svc_stack: Stack,
) -> None:
    prefix = f"dlq-{uuid.uuid4().hex[:8]}-"
    svc_stack.document.pause()  # SIGSTOP: connections hang, calls time out
    try:
        posted = {
            answer["event_id"]: answer["trace_id"]
            for answer in (svc_stack.post(f"{prefix}{i}", f"doc {i}", i + 1) for i in range(3))
        }
        ids = set(posted)
        first = wait_until(
            lambda: (found := _records_of(svc_stack, svc_stack.topics.dlq, ids)) and set(found) == ids and found,
            30,
            "a DLQ record for each of the 3 events",
        )
    finally:
        svc_stack.document.resume()

    for event_id, records in first.items():
        headers = records[0]["headers"]
        assert headers["attempts"] == "1"
        assert headers["trace_id"] == posted[event_id]
        assert headers["source_topic"] == svc_stack.topics.requests
        assert "timeout" in headers["error"], headers["error"]
        assert float(headers["first_failure_ts"]) == float(headers["last_failure_ts"])
        assert float(headers["produced_at"]) <= float(headers["first_failure_ts"])
        assert records[0]["value"]["event_id"] == event_id  # the request value, unchanged

    keys = [f"{prefix}{i}" for i in range(3)]
    client = svc_stack.redis.client()
    wait_until(
        lambda: [client.hget(doc_key(k), "version") for k in keys] == ["1", "2", "3"], 30, "the redriven documents"
    )

    redriver = svc_stack.redriver
    for event_id in ids:
        assert redriver.logs(event_id=event_id, kind="redriven"), event_id
        assert len(redriver.logs(event_id=event_id, kind="applied")) == 1, event_id
        # Every retry started at least the backoff after the failure it retries.
        attempted = {line["attempt"]: line["time"] for line in redriver.logs(event_id=event_id, kind="attempted")}
        records = _records_of(svc_stack, svc_stack.topics.dlq, {event_id})[event_id]
        assert records, event_id
        for record in records:
            attempts = int(record["headers"]["attempts"])
            failed_at = float(record["headers"]["last_failure_ts"])
            assert attempted[attempts + 1] >= failed_at + _delay(attempts), (attempts, attempted, failed_at)
            assert any(
                line["retry_after_s"] == _delay(attempts) and line["attempts"] == attempts
                for line in redriver.logs(event_id=event_id)
                if "retry_after_s" in line
            )
    assert not _records_of(svc_stack, svc_stack.topics.alerts, ids)
    _verify(svc_stack, prefix)


def test_event_failing_every_attempt_raises_exactly_one_alert(svc_stack: Stack) -> None:
    prefix = f"alert-{uuid.uuid4().hex[:8]}-"
    svc_stack.document.kill()  # connection refused for every attempt
    try:
        answer = svc_stack.post(f"{prefix}k", "never stored", 7)
        event_id, trace_id = answer["event_id"], answer["trace_id"]
        alerts = wait_until(
            lambda: _records_of(svc_stack, svc_stack.topics.alerts, {event_id}).get(event_id),
            30,
            "the alert",
        )
        # The DLQ record of the last attempt is resolved, so its offset gets committed.
        wait_until(
            lambda: len(svc_stack.redriver.logs(event_id=event_id, kind="committed")) == MAX_ATTEMPTS - 1,
            15,
            "the redriver to commit every DLQ record of the event",
        )
    finally:
        svc_stack.restart_document_service()

    alerts = _records_of(svc_stack, svc_stack.topics.alerts, {event_id})[event_id]
    assert len(alerts) == 1
    value = alerts[0]["value"]
    assert (value["event_id"], value["trace_id"], value["key"], value["attempts"]) == (
        event_id,
        trace_id,
        f"{prefix}k",
        MAX_ATTEMPTS,
    )
    assert "unreachable" in value["reason"], value["reason"]
    assert alerts[0]["headers"] == {"event_id": event_id, "trace_id": trace_id}

    dlq = _records_of(svc_stack, svc_stack.topics.dlq, {event_id})[event_id]
    assert [r["headers"]["attempts"] for r in dlq] == [str(a) for a in range(1, MAX_ATTEMPTS)]
    assert len({r["headers"]["first_failure_ts"] for r in dlq}) == 1
    assert all(r["headers"]["trace_id"] == trace_id for r in dlq)

    alerted = svc_stack.redriver.logs(event_id=event_id, kind="alerted")
    assert len(alerted) == 1 and alerted[0]["level"] == "error" and alerted[0]["attempts"] == MAX_ATTEMPTS
    attempts = [line["attempt"] for line in svc_stack.redriver.logs(event_id=event_id, kind="attempted")]
    assert attempts == list(range(2, MAX_ATTEMPTS + 1))
    assert svc_stack.redis.client().exists(doc_key(f"{prefix}k")) == 0
    _verify(svc_stack, prefix)  # the alerted event is not expected in Redis
