"""Start and stop as processes: bad config exits 2, SIGTERM stops cleanly, health checks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from svc_harness import REPO, KafkaBroker, RedisServer, ServiceProcess, free_port, start_stack, wait_until

from services.redis_apply import doc_key

pytestmark = pytest.mark.integration

VALID = {
    "HTTP_PORT": "1",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
    "REDIS_URL": "redis://127.0.0.1:9/0",
    "DOCUMENT_SERVICE_URL": "http://127.0.0.1:9",
}


@pytest.mark.parametrize(
    ("module", "overrides", "variable", "shown"),
    [
        ("services.order_service", {"KAFKA_BOOTSTRAP_SERVERS": None}, "KAFKA_BOOTSTRAP_SERVERS", "<unset>"),
        ("services.order_service", {"KAFKA_BOOTSTRAP_SERVERS": "broker"}, "KAFKA_BOOTSTRAP_SERVERS", "'broker'"),
        ("services.order_service", {"PRODUCE_TIMEOUT_S": "0"}, "PRODUCE_TIMEOUT_S", "'0'"),
        ("services.document_service", {"HTTP_PORT": "70000"}, "HTTP_PORT", "'70000'"),
        ("services.workflow_service", {"FAIL_RATE": "1.5"}, "FAIL_RATE", "'1.5'"),
        ("services.workflow_service", {"EXTRA_LATENCY_MS": "-1"}, "EXTRA_LATENCY_MS", "'-1'"),
        ("services.workflow_service", {"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL", "'http://127.0.0.1:6379'"),
        ("services.redriver", {"BACKOFF_BASE_S": "abc"}, "BACKOFF_BASE_S", "'abc'"),
        ("services.redriver", {"BACKOFF_FACTOR": "0.5"}, "BACKOFF_FACTOR", "'0.5'"),
        ("services.redriver", {"BACKOFF_BASE_S": "2", "BACKOFF_CAP_S": "1"}, "BACKOFF_CAP_S", "'1'"),
        ("services.redriver", {"MAX_ATTEMPTS": "0"}, "MAX_ATTEMPTS", "'0'"),
    ],
)
def test_bad_config_exits_2_with_one_line_naming_the_variable(
    module: str, overrides: dict[str, str | None], variable: str, shown: str
) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO), **VALID}
    for name, value in overrides.items():
        if value is None:
            env.pop(name)
        else:
            env[name] = value
    proc = subprocess.run([sys.executable, "-m", module], cwd=REPO, env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, proc
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"config error: {variable}={shown} is not allowed; expected "), lines[0]
    assert proc.stdout == ""


def test_port_in_use_exits_1_with_a_json_error(svc_workdir: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        service = ServiceProcess("document-service-busy", "services.document_service", {}, svc_workdir)
        service.port = holder.getsockname()[1]
        service.start()
        assert service.proc is not None
        assert service.proc.wait(30) == 1
    [line] = service.logs(level="error")
    assert line["message"] == "cannot serve HTTP" and line["port"] == service.port


def test_canary_knobs_then_clean_stop_on_sigterm(
    svc_kafka: KafkaBroker, svc_redis: RedisServer, svc_workdir: Path
) -> None:
    """A canary workflow-service (FAIL_RATE=1, EXTRA_LATENCY_MS) fails every event into
    the DLQ, the redriver (no knobs) applies it; then every service stops on SIGTERM."""
    canary = {"FAIL_RATE": "1", "EXTRA_LATENCY_MS": "50", "SERVICE_VERSION": "canary"}
    stack = start_stack(svc_kafka, svc_redis, svc_workdir, f"life{uuid.uuid4().hex[:6]}", workflow_env=canary)
    try:
        health = [sys.executable, "-m", "services.healthcheck"]
        for service in stack.all:
            assert subprocess.run([*health, service.url("/health")], cwd=REPO, timeout=30).returncode == 0
        assert subprocess.run([*health, f"http://127.0.0.1:{free_port()}/health"], cwd=REPO, timeout=30).returncode == 1
        key = f"life-{uuid.uuid4().hex[:8]}"
        answer = stack.post(key, "x", 1)
        client = stack.redis.client()
        wait_until(lambda: client.hget(doc_key(key), "version") == "1", 30, "the document in Redis")
        wait_until(lambda: stack.workflow.logs(event_id=answer["event_id"], kind="committed"), 15, "the commit")
        [failed] = stack.workflow.logs(event_id=answer["event_id"], kind="failed")
        assert failed["error"] == "injected failure (FAIL_RATE)"
        assert stack.redriver.logs(event_id=answer["event_id"], kind="applied")
        metrics = stack.workflow.metrics()
        assert (metrics["version"], metrics["service"]) == ("canary", stack.workflow.name)
        assert (metrics["consumed"], metrics["failed"], metrics["dead_lettered"], metrics["applied"]) == (1, 1, 1, 0)
        assert stack.redriver.metrics()["applied"] == 1
    finally:
        codes = stack.stop()
    assert set(codes.values()) == {0}, codes
    for service in stack.all:
        lines = service.log_path.read_text().splitlines()
        assert json.loads(lines[-1])["message"] == "stopped", (service.name, lines[-3:])
