"""Short outages of Kafka and Redis: the services ride them out, nothing is lost."""

from __future__ import annotations

import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from svc_harness import Stack, wait_until

from services.redis_apply import doc_key
from services.verifier import verify

pytestmark = pytest.mark.integration

OUTAGE_S = 3.0


def _alive(stack: Stack) -> bool:
    return all(s.proc is not None and s.proc.poll() is None for s in stack.all)


def _wait_applied(stack: Stack, keys: list[str], version: str) -> None:
    client = stack.redis.client()
    wait_until(
        lambda: [client.hget(doc_key(k), "version") for k in keys] == [version] * len(keys),
        60,
        f"{len(keys)} documents at version {version}",
        interval_s=0.2,
    )


def _verify_ok(stack: Stack, prefix: str) -> None:
    report = verify(
        stack.kafka.bootstrap,
        stack.redis.url,
        prefix,
        requests_topic=stack.topics.requests,
        alerts_topic=stack.topics.alerts,
    )
    assert report.ok, report.to_dict()


def test_kafka_stall_delays_acks_but_loses_nothing(svc_stack: Stack) -> None:
    prefix = f"kstall-{uuid.uuid4().hex[:8]}-"
    keys = [f"{prefix}{i}" for i in range(5)]
    broker = svc_stack.kafka.proc
    with ThreadPoolExecutor(max_workers=5) as pool:
        broker.send_signal(signal.SIGSTOP)
        try:
            futures = [pool.submit(svc_stack.post, key, "during stall", 1) for key in keys]
            time.sleep(OUTAGE_S)  # the fault's duration, not a wait for a condition
        finally:
            broker.send_signal(signal.SIGCONT)
        answers = [f.result(timeout=30) for f in futures]  # 202 once the broker acks
    assert len({a["event_id"] for a in answers}) == 5
    _wait_applied(svc_stack, keys, "1")
    assert _alive(svc_stack)
    _verify_ok(svc_stack, prefix)


def test_redis_stall_is_retried_or_redriven_and_loses_nothing(svc_stack: Stack) -> None:
    prefix = f"rstall-{uuid.uuid4().hex[:8]}-"
    keys = [f"{prefix}{i}" for i in range(3)]
    redis_proc = svc_stack.redis.proc
    redis_proc.send_signal(signal.SIGSTOP)
    try:
        for key in keys:
            svc_stack.post(key, "during stall", 2)
        time.sleep(OUTAGE_S)  # the fault's duration
    finally:
        redis_proc.send_signal(signal.SIGCONT)
    _wait_applied(svc_stack, keys, "2")
    assert _alive(svc_stack)
    _verify_ok(svc_stack, prefix)
