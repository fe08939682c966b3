"""The docker runtime on a real engine: per-link proxies, container faults, down, sweeping."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest
import redis
import requests
from confluent_kafka import Consumer, Producer, TopicPartition

from chaoskit.errors import ChaoskitError, ComponentStartError, ConfigError
from chaoskit.runtime import docker_api
from chaoskit.runtime.docker import DockerRuntime, sweep_orphans
from chaoskit.runtime.docker_images import Images
from chaoskit.runtime.health import kafka_brokers, wait_for
from chaoskit.runtime.state import EnvRecord, state_root
from chaoskit.topology import load_topology

pytestmark = [pytest.mark.integration, pytest.mark.docker]
ROOT = Path(__file__).resolve().parents[3]
MINIMAL = ROOT / "fixtures" / "topologies" / "minimal.yml"
REFERENCE = ROOT / "docker-compose.chaos.yml"
QUIET = {"log_level": 0}


@pytest.fixture(scope="module", params=["host", "bridge"])
def runtime(engine, request):
    """The minimal topology in each network mode (the same tests must pass in both)."""
    rt = DockerRuntime(load_topology(MINIMAL), owner_pid=os.getpid(), client=engine, network=request.param)
    rt.up()
    yield rt
    rt.down()


@pytest.fixture(autouse=True)
def _reset(request):
    if "runtime" in request.fixturenames:
        request.getfixturevalue("runtime").reset()


def produce(bootstrap: str, value: bytes, timeout_s: float = 15.0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": int(timeout_s * 1000), **QUIET})
    errors: list = []
    producer.produce("events", value, on_delivery=lambda err, msg: errors.append(err))
    producer.flush(timeout_s + 5)
    assert errors == [None], f"delivery to {bootstrap} failed: {errors}"


def consume_until(bootstrap: str, wanted: bytes, timeout_s: float = 30.0) -> bool:
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


def stored_messages(bootstrap: str, partitions: int = 2) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex, **QUIET})
    try:
        total = 0
        for partition in range(partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition("events", partition), timeout=15)
            total += high - low
        return total
    finally:
        consumer.close()


def redis_at(address: str) -> redis.Redis:
    host, port = address.split(":")
    return redis.Redis(host=host, port=int(port), socket_timeout=2, socket_connect_timeout=1, retry=None)


def test_kafka_produce_and_consume_through_the_proxies(runtime):
    value = uuid.uuid4().bytes
    produce(runtime.endpoint("kafka", "producer"), value)
    assert consume_until(runtime.endpoint("kafka", "consumer"), value)
    for client in ("producer", "consumer"):
        through = runtime.endpoint("kafka", client)
        assert kafka_brokers(through) == [through]


def test_disabling_one_link_cuts_that_client_only(runtime):
    runtime.toxiproxy.set_enabled("producer--kafka", False)
    try:
        producer = Producer(
            {"bootstrap.servers": runtime.endpoint("kafka", "producer"), "message.timeout.ms": 3000, **QUIET}
        )
        errors: list = []
        producer.produce("events", b"cut", on_delivery=lambda err, msg: errors.append(err))
        producer.flush(10)
        assert errors and errors[0] is not None, "a producer behind a disabled proxy still delivered"
        value = uuid.uuid4().bytes
        produce(runtime.kafka_bootstrap, value)
        assert consume_until(runtime.endpoint("kafka", "consumer"), value)
    finally:
        runtime.toxiproxy.set_enabled("producer--kafka", True)


def test_status_json_of_an_attached_runtime(runtime):
    """What the CLI shows: another runtime object attached to the environment's record."""
    attached = DockerRuntime.attach(EnvRecord.load(runtime.dir), runtime.topology)
    status = json.loads(json.dumps(attached.status()))
    assert status["environment"] == runtime.env_id and status["runtime"] == "docker"
    assert set(status["components"]) == {"kafka", "redis", "toxiproxy", "producer", "consumer"}
    for name, comp in status["components"].items():
        assert comp["state"] == "healthy", (name, comp)
        assert psutil.pid_exists(comp["pid"])
    assert status["components"]["kafka"]["endpoints"]["producer->kafka"] == runtime.endpoint("kafka", "producer")
    assert status["components"]["kafka"]["endpoints"]["direct"] == runtime.kafka_bootstrap


def test_pause_freezes_redis_and_resume_thaws_it(runtime):
    direct = runtime.endpoint("redis")
    runtime.pause("redis")
    try:
        with pytest.raises(redis.TimeoutError):
            redis_at(direct).ping()
        entry = runtime.status()["components"]["redis"]
        assert entry["state"] == "stopped" and entry.get("paused") is True
    finally:
        runtime.resume("redis")
    assert redis_at(direct).ping()


def test_kill_stop_start_and_reset(runtime):
    direct = runtime.endpoint("redis")
    runtime.kill("redis")
    with pytest.raises(redis.ConnectionError):
        redis_at(direct).ping()
    assert runtime.status()["components"]["redis"]["state"] == "stopped"
    runtime.stop("consumer")
    assert runtime.status()["components"]["consumer"]["state"] == "stopped"
    runtime.start("consumer")
    assert runtime.status()["components"]["consumer"]["state"] == "healthy"
    runtime.reset()
    assert runtime.status()["components"]["redis"]["state"] == "healthy"
    assert redis_at(direct).ping()


def test_toxiproxy_restart_brings_its_proxies_back(runtime):
    runtime.restart("toxiproxy")
    assert set(runtime.toxiproxy.proxies()) >= {"producer--kafka", "consumer--kafka", "producer--redis"}
    assert redis_at(runtime.endpoint("redis", "producer")).ping()


def test_kafka_restart_keeps_data_and_wipe_loses_it(runtime):
    value = uuid.uuid4().bytes
    produce(runtime.kafka_bootstrap, value)
    runtime.restart("kafka")
    assert consume_until(runtime.kafka_bootstrap, value)
    assert stored_messages(runtime.kafka_bootstrap) > 0
    runtime.wipe("kafka")
    assert stored_messages(runtime.kafka_bootstrap) == 0, "the topic still holds messages after a wipe"
    produce(runtime.endpoint("kafka", "producer"), b"after-wipe")


def test_logs_come_from_the_containers(runtime):
    assert "Kafka Server started" in runtime.logs("kafka")
    path = runtime.log_path("kafka")
    assert path.parent == runtime.dir / "logs" and path.read_text()


@pytest.mark.parametrize("network", ["host", "bridge"])
def test_down_removes_every_container_and_network_it_made(engine, network):
    rt = DockerRuntime(load_topology(MINIMAL), owner_pid=os.getpid(), client=engine, network=network)
    rt.up()
    env_id, env_dir = rt.env_id, rt.dir
    holder = 1 if network == "bridge" else 0
    assert len(docker_api.containers(engine, env_id)) == len(rt.topology.components) + holder
    assert len(engine.networks.list(filters={"label": f"{docker_api.ENV}={env_id}"})) == holder
    rt.down()
    assert docker_api.containers(engine, env_id) == []
    assert engine.networks.list(filters={"label": f"{docker_api.ENV}={env_id}"}) == []
    assert not env_dir.exists()


_OWNER = """
import os, sys
from chaoskit.runtime.docker import DockerRuntime
from chaoskit.topology import load_topology
rt = DockerRuntime(load_topology(sys.argv[1]), owner_pid=os.getpid())
rt.up()
print(rt.env_id, flush=True)
sys.stdin.read()
"""


def test_a_sigkilled_runs_containers_are_swept_by_label(engine):
    """Even with the environment's record gone (as another runtime's sweep may leave it),
    the labels name the dead owner and the containers go."""
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(MINIMAL)], stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        env_id = owner.stdout.readline().strip()
        assert env_id.startswith("ck-"), "the owner did not bring its environment up"
        assert docker_api.containers(engine, env_id)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(30)
    (state_root() / env_id / "env.json").unlink()
    assert env_id in sweep_orphans(engine)
    assert docker_api.containers(engine, env_id) == []
    assert not (state_root() / env_id).exists()


def test_reference_system_comes_up_healthy_and_processes_a_document(engine):
    rt = DockerRuntime(load_topology(REFERENCE), owner_pid=os.getpid(), client=engine)
    rt.up()
    try:
        states = {name: c["state"] for name, c in rt.status()["components"].items()}
        assert set(states.values()) == {"healthy"}, states
        key = f"docker-{uuid.uuid4().hex[:8]}"
        answer = requests.post(
            f"http://{rt.endpoint('order-service')}/documents",
            json={"key": key, "content": "hello", "version": 1},
            timeout=15,
        )
        assert answer.status_code == 202, answer.text
        store = redis_at(rt.endpoint("redis"))
        assert wait_for(lambda: store.hget(f"doc:{key}", "content") == b"hello", 60, f"doc:{key} in Redis")
    finally:
        rt.down()


def test_a_missing_docker_api_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    with pytest.raises(ChaoskitError) as info:
        DockerRuntime(load_topology(MINIMAL), owner_pid=os.getpid()).up()
    message = str(info.value)
    assert "DOCKER_HOST" in message and "--chaos-runtime=process" in message and "/nonexistent.sock" in message


_BROKEN = """
name: {name}
services:
  kafka: {{image: apache/kafka:4.3.1, x-chaoskit: {{kind: kafka}}}}
  toxiproxy: {{image: ghcr.io/shopify/toxiproxy:2.12.0, x-chaoskit: {{kind: toxiproxy}}}}
  app:
    image: python:3.11-slim
    x-chaoskit:
      kind: service
      health: /health
      command: ["{{python}}", "-c", "import sys; print('boom', flush=True); sys.exit(3)"]
"""


def test_a_component_that_cannot_start_is_named_and_nothing_is_left(engine, tmp_path):
    name = f"chaoskit-broken-{uuid.uuid4().hex[:6]}"
    broken = tmp_path / "broken.yml"
    broken.write_text(_BROKEN.format(name=name))
    rt = DockerRuntime(load_topology(broken), owner_pid=os.getpid(), client=engine, start_timeout_s=60)
    with pytest.raises(ComponentStartError) as info:
        rt.up()
    assert info.value.component == "app"
    assert "exited with code 3" in info.value.reason and "boom" in info.value.log_tail
    assert rt.record is None
    assert engine.containers.list(all=True, filters={"label": f"{docker_api.PROJECT}={name}"}) == []


def test_the_compose_image_set_runs_the_compose_files_images(engine, monkeypatch):
    monkeypatch.setenv("CHAOSKIT_DOCKER_IMAGES", "compose")
    monkeypatch.setenv("CHAOSKIT_IMAGE_REDIS", "redis:7.2")
    images = Images.from_env(load_topology(REFERENCE), engine)
    assert (images.kafka, images.redis) == ("apache/kafka:4.3.1", "redis:7.2")
    assert images.toxiproxy == "ghcr.io/shopify/toxiproxy:2.12.0" and images.toxiproxy_server == "/toxiproxy"
    assert images.services["workflow-service"] == "chaoskit-reference-workflow-service"
    assert "chaoskit-reference-workflow-service" in images.built and not images.mount_source
    monkeypatch.setenv("CHAOSKIT_DOCKER_IMAGES", "podman")
    with pytest.raises(ConfigError, match="CHAOSKIT_DOCKER_IMAGES='podman'.*local, compose"):
        Images.from_env(load_topology(REFERENCE), engine)
