"""Session fixtures for the services' integration tests: Kafka, Redis and the services.

Each fixture owns what it starts: its own temporary directory and free ports, deadlines
on every wait, and a teardown that stops every process and removes the directory.
Fixture names carry a `svc_` prefix so they never shadow the chaoskit plugin's
`kafka`/`redis`/`services` fixtures.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from svc_harness import (
    KAFKA_LIBS,
    KAFKA_LOG4J,
    REDIS_SERVER,
    KafkaBroker,
    RedisServer,
    Stack,
    free_port,
    start_stack,
    stop_process,
    wait_until,
)


@pytest.fixture(scope="session")
def svc_workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="chaoskit-services-it-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def svc_kafka(svc_workdir: Path) -> Iterator[KafkaBroker]:
    java = shutil.which("java")
    if java is None or not KAFKA_LIBS.is_dir():
        pytest.skip(f"needs java and the Kafka jars in {KAFKA_LIBS}")
    home = svc_workdir / "kafka"
    home.mkdir()
    client_port, controller_port = free_port(), free_port()
    props = home / "server.properties"
    props.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                "controller.listener.names=CONTROLLER",
                f"controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port}",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={home / 'data'}",
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
            ]
        )
        + "\n"
    )
    classpath = f"{KAFKA_LIBS}/*"
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if cluster_id.startswith("-"):  # StorageTool would read it as an option
        cluster_id = "A" + cluster_id[1:]
    jvm = [java, "-Xms256m", "-Xmx1g", "-XX:+UseSerialGC", "-cp", classpath, f"-Dlog4j2.configurationFile={KAFKA_LOG4J}"]
    subprocess.run(
        [*jvm, "kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id, "-c", str(props)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    log_path = home / "kafka.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([*jvm, "kafka.Kafka", str(props)], stdout=log_file, stderr=subprocess.STDOUT)
    broker = KafkaBroker(f"127.0.0.1:{client_port}", proc, log_path)
    try:

        def ready() -> bool:
            assert proc.poll() is None, f"kafka exited: {log_path.read_text()[-2000:]}"
            return broker.port_open() and bool(broker.admin().list_topics(timeout=1).brokers)

        wait_until(ready, 60, "the Kafka broker to answer metadata", interval_s=0.2)
        yield broker
    finally:
        stop_process(proc, 30)


@pytest.fixture(scope="session")
def svc_redis(svc_workdir: Path) -> Iterator[RedisServer]:
    if not REDIS_SERVER.exists():
        pytest.skip(f"needs {REDIS_SERVER}")
    port = free_port()
    home = svc_workdir / "redis"
    home.mkdir()
    proc = subprocess.Popen(
        [str(REDIS_SERVER), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(home)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer(f"redis://127.0.0.1:{port}/0", proc)
    try:

        def pong() -> bool:
            assert proc.poll() is None, "redis-server exited"
            return bool(server.client().ping())

        wait_until(pong, 20, "redis-server to answer PING")
        yield server
    finally:
        stop_process(proc, 10)


@pytest.fixture(scope="session")
def svc_stack(svc_kafka: KafkaBroker, svc_redis: RedisServer, svc_workdir: Path) -> Iterator[Stack]:
    stack = start_stack(svc_kafka, svc_redis, svc_workdir, "main")
    try:
        yield stack
    finally:
        stack.stop()
