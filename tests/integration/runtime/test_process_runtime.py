"""The process runtime on the real components: per-link proxies, status, down, sweeping."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest
import redis
from confluent_kafka import Consumer, Producer

from chaoskit.errors import ChaoskitError, ComponentStartError
from chaoskit.runtime.health import wait_for
from chaoskit.runtime.process import ProcessRuntime, sweep_orphans
from chaoskit.runtime.state import all_records, state_root, stray_processes
from chaoskit.topology import load_topology

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
MINIMAL = ROOT / "fixtures" / "topologies" / "minimal.yml"
QUIET = {"log_level": 0}


def _mine() -> set[str]:
    """Environments this test process owns (other runs on the machine may come and go)."""
    return {r.id for r in all_records() if r.owner is not None and r.owner.pid == os.getpid()}


@pytest.fixture(scope="module")
def runtime():
    rt = ProcessRuntime(load_topology(MINIMAL), owner_pid=os.getpid())
    rt.up()
    yield rt
    rt.down()


@pytest.fixture(autouse=True)
def _reset(request):
    if "runtime" in request.fixturenames:
        request.getfixturevalue("runtime").reset()


def produce(bootstrap: str, value: bytes, timeout_s: float = 10.0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": int(timeout_s * 1000), **QUIET})
    errors: list = []
    producer.produce("events", value, on_delivery=lambda err, msg: errors.append(err))
    producer.flush(timeout_s + 2)
    assert errors == [None], f"delivery to {bootstrap} failed: {errors}"


def consume_until(bootstrap: str, wanted: bytes, timeout_s: float = 20.0) -> bool:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
            **QUIET,
        }
    )
    consumer.subscribe(["events"])
    try:

        def seen():
            msg = consumer.poll(0.5)
            return msg is not None and msg.error() is None and msg.value() == wanted

        return wait_for(seen, timeout_s, f"consuming {wanted!r} via {bootstrap}")
    finally:
        consumer.close()


def test_kafka_produce_and_consume_through_the_proxies(runtime):
    value = uuid.uuid4().bytes
    produce(runtime.endpoint("kafka", "producer"), value)
    assert consume_until(runtime.endpoint("kafka", "consumer"), value)


def test_metadata_through_a_proxy_names_only_that_proxy(runtime):
    from chaoskit.runtime.health import kafka_brokers

    for client in ("producer", "consumer"):
        through = runtime.endpoint("kafka", client)
        assert kafka_brokers(through) == [through]
    assert kafka_brokers(runtime.kafka_bootstrap) == [runtime.kafka_bootstrap]


def test_disabling_one_link_stops_that_client_only(runtime):
    runtime.toxiproxy.set_enabled("producer--kafka", False)
    try:
        producer = Producer(
            {"bootstrap.servers": runtime.endpoint("kafka", "producer"), "message.timeout.ms": 2000, **QUIET}
        )
        errors: list = []
        producer.produce("events", b"cut", on_delivery=lambda err, msg: errors.append(err))
        producer.flush(5)
        assert errors and errors[0] is not None, "a producer behind a disabled proxy still delivered"
        # the other client's link and the observer's direct listener keep working
        value = uuid.uuid4().bytes
        produce(runtime.kafka_bootstrap, value)
        assert consume_until(runtime.endpoint("kafka", "consumer"), value)
    finally:
        runtime.toxiproxy.set_enabled("producer--kafka", True)


def test_redis_through_its_proxy_and_cut(runtime):
    host, port = runtime.endpoint("redis", "producer").split(":")
    client = redis.Redis(host=host, port=int(port), socket_timeout=2, socket_connect_timeout=1, retry=None)
    client.set("k", "v")
    direct_host, direct_port = runtime.endpoint("redis").split(":")
    direct = redis.Redis(host=direct_host, port=int(direct_port), socket_timeout=2)
    assert direct.get("k") == b"v"
    runtime.toxiproxy.set_enabled("producer--redis", False)
    try:
        with pytest.raises(redis.ConnectionError):
            redis.Redis(host=host, port=int(port), socket_connect_timeout=1, retry=None).ping()
        assert direct.ping()
    finally:
        runtime.toxiproxy.set_enabled("producer--redis", True)
    assert client.get("k") == b"v"


def test_status_json_from_the_cli(runtime):
    out = subprocess.run(
        [sys.executable, "-m", "chaoskit.cli", "status", runtime.env_id, "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    status = json.loads(out)
    assert status["environment"] == runtime.env_id and status["runtime"] == "process"
    assert set(status["components"]) == {"kafka", "redis", "toxiproxy", "producer", "consumer"}
    kafka = status["components"]["kafka"]
    assert kafka["state"] == "healthy" and psutil.pid_exists(kafka["pid"])
    assert kafka["endpoints"]["producer->kafka"] == runtime.endpoint("kafka", "producer")
    assert kafka["endpoints"]["direct"] == runtime.kafka_bootstrap


def test_restart_keeps_kafka_data_and_reset_brings_a_killed_component_back(runtime):
    value = uuid.uuid4().bytes
    produce(runtime.kafka_bootstrap, value)
    runtime.restart("kafka")
    assert consume_until(runtime.kafka_bootstrap, value)
    runtime.kill("redis")
    assert runtime.status()["components"]["redis"]["state"] == "stopped"
    runtime.reset()
    assert runtime.status()["components"]["redis"]["state"] == "healthy"


def test_down_leaves_nothing():
    rt = ProcessRuntime(load_topology(MINIMAL), owner_pid=os.getpid())
    rt.up()
    env_id, env_dir = rt.env_id, rt.dir
    pids = [rt.record.processes[name].pid for name in rt.topology.components]
    rt.down()
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids)
    assert not stray_processes(env_id)
    assert not env_dir.exists()


_OWNER = """
import os, sys
from chaoskit.runtime.process import ProcessRuntime
from chaoskit.topology import load_topology
rt = ProcessRuntime(load_topology(sys.argv[1]), owner_pid=os.getpid())
rt.up()
print(rt.env_id, flush=True)
sys.stdin.read()
"""


def test_an_environment_whose_owner_was_sigkilled_is_swept():
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(MINIMAL)], stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True
    )
    try:
        env_id = owner.stdout.readline().strip()
        assert env_id.startswith("ck-"), "the owner did not bring its environment up"
        assert stray_processes(env_id)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
    assert env_id in sweep_orphans()
    assert not stray_processes(env_id)
    assert not (state_root() / env_id).exists()


@pytest.mark.parametrize("component", ["kafka", "redis"])
def test_a_component_that_cannot_start_is_named_and_nothing_is_left(monkeypatch, component):
    """A component's port is taken: a clear error naming it with its log tail, no leftovers."""
    topology = load_topology(MINIMAL)
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    import chaoskit.runtime.orchestrator as orchestrator_module

    real = orchestrator_module.make_plan

    def plan_with_taken_port(topo, ports):
        plan = real(topo, ports)
        plan.direct[component] = taken
        return plan

    monkeypatch.setattr(orchestrator_module, "make_plan", plan_with_taken_port)
    rt = ProcessRuntime(topology, owner_pid=os.getpid(), start_timeout_s=30)
    before = _mine()
    try:
        with pytest.raises(ComponentStartError) as info:
            rt.up()
    finally:
        squatter.close()
    assert info.value.component == component
    assert any(word in info.value.log_tail for word in ("Address already in use", "BindException")), info.value.log_tail
    assert component in str(info.value) and info.value.log_tail in str(info.value)
    assert _mine() <= before
    assert rt.record is None


def test_an_extra_instance_runs_beside_its_service_and_goes_away(runtime):
    endpoint = runtime.add_instance("consumer", "consumer#canary", {"SERVICE_VERSION": "canary"})
    assert endpoint != runtime.endpoint("consumer")
    # status() re-probes health with a short timeout: poll it (the machine may be busy)
    status = wait_for(
        lambda: (s := runtime.status()["components"]["consumer#canary"])["state"] == "healthy" and s,
        30,
        "the canary's status",
    )
    assert status["instance_of"] == "consumer"
    pid = status["pid"]
    assert psutil.Process(pid).environ()["SERVICE_VERSION"] == "canary"
    assert psutil.Process(pid).environ()["SERVICE_NAME"] == "consumer#canary"
    assert str(psutil.Process(pid).cmdline()[-1]) == endpoint.split(":")[1], "{port} must be the instance's own"
    runtime.kill("consumer#canary")
    runtime.remove_instance("consumer#canary")
    assert "consumer#canary" not in runtime.status()["components"]
    assert runtime.log_path("consumer#canary").exists(), "a removed instance's log is still readable"
    runtime.add_instance("consumer", "consumer#left-behind")
    runtime.reset()
    assert runtime.instances() == {}


def test_a_missing_component_install_is_named_before_anything_starts(monkeypatch, tmp_path):
    from chaoskit.errors import MissingToolError

    monkeypatch.setenv("CHAOSKIT_CACHE", str(tmp_path / "empty-cache"))
    before = _mine()
    with pytest.raises(MissingToolError, match="Kafka 4.3.1, Toxiproxy 2.12.0 not installed.*chaoskit install"):
        ProcessRuntime(load_topology(MINIMAL), owner_pid=os.getpid()).up()
    assert _mine() <= before


def test_a_port_taken_between_choosing_and_binding_is_retried_on_new_ports(monkeypatch):
    """Another program binds one of our ports first: that start is undone and redone."""
    import chaoskit.runtime.orchestrator as orchestrator_module

    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    real, calls = orchestrator_module.make_plan, []

    def first_plan_collides(topo, ports):
        plan = real(topo, ports)
        calls.append(plan)
        if len(calls) == 1:
            plan.direct["redis"] = squatter.getsockname()[1]
        return plan

    monkeypatch.setattr(orchestrator_module, "make_plan", first_plan_collides)
    rt = ProcessRuntime(load_topology(MINIMAL), owner_pid=os.getpid())
    before = _mine()
    try:
        rt.up()
        assert len(calls) == 2
        assert rt.endpoint("redis") != f"127.0.0.1:{squatter.getsockname()[1]}"
        assert _mine() - before == {rt.env_id}, "the first, failed attempt left its environment behind"
    finally:
        squatter.close()
        rt.down()


def test_wipe_answers_from_a_fresh_redis_only_after_the_old_one_is_gone(runtime):
    """A wipe whose health probe the old process answered would report a recovery from a
    loss that never happened: the old pid is gone and the data with it."""
    host, port = runtime.endpoint("redis").split(":")
    client = redis.Redis(host=host, port=int(port), socket_timeout=2)
    client.set("before-the-wipe", "1")
    old_pid = runtime.status()["components"]["redis"]["pid"]
    runtime.wipe("redis")
    assert not psutil.pid_exists(old_pid) or psutil.Process(old_pid).status() == psutil.STATUS_ZOMBIE
    assert runtime.status()["components"]["redis"]["pid"] != old_pid
    assert client.get("before-the-wipe") is None


# A service that hands its listening socket to a child in another session before it waits:
# killing the service's process group leaves the port bound, as a daemonising helper would.
_STUBBORN = """
import socket, subprocess, sys, threading
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", int(sys.argv[1])))
sock.listen()
wait = "import threading; threading.Event().wait()"
subprocess.Popen([sys.executable, "-c", wait], pass_fds=[sock.fileno()], start_new_session=True)
threading.Event().wait()
"""
_STUBBORN_TOPOLOGY = """
name: stubborn
services:
  kafka:
    image: apache/kafka:4.3.1
    x-chaoskit: {kind: kafka}
  toxiproxy:
    image: ghcr.io/shopify/toxiproxy:2.12.0
    x-chaoskit: {kind: toxiproxy}
  stubborn:
    image: python:3.11-slim
    x-chaoskit:
      kind: service
      command: ["{python}", "stubborn.py", "{port}"]
"""


def test_a_component_whose_port_stays_bound_after_a_kill_is_named_not_restarted(tmp_path):
    (tmp_path / "stubborn.py").write_text(_STUBBORN)
    (tmp_path / "topology.yml").write_text(_STUBBORN_TOPOLOGY)
    rt = ProcessRuntime(load_topology(tmp_path / "topology.yml"), owner_pid=os.getpid(), gone_timeout_s=3)
    rt.up()
    env_id = rt.env_id
    try:
        pid = rt.status()["components"]["stubborn"]["pid"]
        port = rt.endpoint("stubborn").split(":")[1]
        wait_for(lambda: psutil.Process(pid).children(), 30, "the stubborn service to hand its socket over")
        with pytest.raises(ChaoskitError) as info:
            rt.kill("stubborn")
        message = str(info.value)
        assert f"stubborn (pid {pid}, ports {port})" in message, message
        assert f"port(s) {port}" in message and "still bound" in message, message
        assert rt.status()["components"]["stubborn"]["state"] == "stopped", "a second process was started"
    finally:
        rt.down()
    assert not stray_processes(env_id), "down left the detached child holding the port"
