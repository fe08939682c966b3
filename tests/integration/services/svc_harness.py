"""Helpers for the services' integration tests: real processes with deadlines on every wait.

Small and self-contained on purpose (chaoskit's process runtime will replace it): the
broker comes from the pinned jars `chaoskit install` put in its cache, Redis from
its redis-server, the services run as `python -m services.X` subprocesses. Every
component gets its own free ports on 127.0.0.1 (bind-tested, outside the ephemeral
range). The module name is unique so test modules can import it without clashing with
any other `conftest`.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import redis
from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from chaoskit import install
from chaoskit.runtime.plan import KAFKA_LOG4J2
from chaoskit.runtime.topics import create_topics

REPO = Path(__file__).resolve().parents[3]

T = TypeVar("T")
_ports_taken: set[int] = set()


def free_port() -> int:
    """A port in 20000-32000 that binds on 127.0.0.1 now (outside the ephemeral range,
    so outgoing connections never hold it) and was not handed out before."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        if port in _ports_taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _ports_taken.add(port)
        return port
    raise RuntimeError("no free port found in 20000-32000")


class ProcessExited(AssertionError):
    """A process that was being waited for has exited: no point in waiting longer."""


def wait_until(check: Callable[[], T], timeout_s: float, what: str, interval_s: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except ProcessExited:
            raise
        except Exception as exc:  # a component still starting raises; keep polling
            last_error = exc
        if time.monotonic() >= deadline:
            suffix = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}{suffix}")
        time.sleep(interval_s)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float) -> int:
    """SIGTERM, wait, then SIGKILL; a stopped (SIGSTOP) process is continued first."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def http_json(method: str, url: str, body: Any = None, timeout_s: float = 15.0) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


# --- Kafka -------------------------------------------------------------------------------


@dataclass
class KafkaBroker:
    bootstrap: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    _admin: AdminClient | None = None

    def admin(self) -> AdminClient:
        """One client for the session (the futures it returns die with it)."""
        if self._admin is None:
            self._admin = AdminClient({"bootstrap.servers": self.bootstrap})
        return self._admin

    def port_open(self) -> bool:
        host, port = self.bootstrap.rsplit(":", 1)
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((host, int(port))) == 0

    def create_topics(self, partitions: dict[str, int]) -> None:
        create_topics(self.bootstrap, partitions, "kafka")

    def read_topic(self, topic: str, timeout_s: float = 20.0) -> list[dict[str, Any]]:
        """Every record of `topic` up to its current high watermarks, decoded."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"test-reader-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            ends: dict[int, int] = {}
            starts = []
            for p in partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
                if high > low:
                    ends[p] = high
                    starts.append(TopicPartition(topic, p, low))
            consumer.assign(starts)
            records: list[dict[str, Any]] = []
            deadline = time.monotonic() + timeout_s
            while ends:
                assert time.monotonic() < deadline, f"timed out reading {topic}"
                for msg in consumer.consume(500, timeout=0.5):
                    if msg.error() is not None:
                        if msg.error().code() == KafkaError._PARTITION_EOF and msg.offset() >= ends.get(
                            msg.partition(), 0
                        ):
                            ends.pop(msg.partition(), None)
                        continue
                    if msg.offset() < ends.get(msg.partition(), -1):
                        records.append(
                            {
                                "partition": msg.partition(),
                                "offset": msg.offset(),
                                "key": msg.key().decode() if msg.key() else None,
                                "value": json.loads(msg.value()) if msg.value() else None,
                                "raw_value": msg.value(),
                                "headers": {k: v.decode() for k, v in (msg.headers() or [])},
                                "timestamp": msg.timestamp()[1] / 1000,
                            }
                        )
                        if msg.offset() >= ends[msg.partition()] - 1:
                            del ends[msg.partition()]
            return records
        finally:
            consumer.close()


def _kafka_properties(home: Path, client_port: int, controller_port: int) -> str:
    return (
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


def start_kafka(java: str, home: Path, tries: int = 3) -> KafkaBroker:
    """A single-node KRaft broker (format, start, wait for metadata).

    Other test sessions on this machine start brokers too: if one of our ports is taken
    between the bind test and the broker's bind, start again on new ports.
    """
    home.mkdir(parents=True, exist_ok=True)
    log4j = home / "log4j2.properties"
    log4j.write_text(KAFKA_LOG4J2)
    jvm = [
        java,
        "-Xms256m",
        "-Xmx1g",
        "-XX:+UseSerialGC",
        "-cp",
        install.locate().kafka_classpath,
        f"-Dlog4j2.configurationFile={log4j}",
    ]
    for attempt in range(tries):
        attempt_home = home / f"attempt-{attempt}"
        attempt_home.mkdir(parents=True)
        client_port, controller_port = free_port(), free_port()
        props = attempt_home / "server.properties"
        props.write_text(_kafka_properties(attempt_home, client_port, controller_port))
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if cluster_id.startswith("-"):  # StorageTool would read it as an option
            cluster_id = "A" + cluster_id[1:]
        subprocess.run(
            [*jvm, "kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id, "-c", str(props)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        log_path = attempt_home / "kafka.log"
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen([*jvm, "kafka.Kafka", str(props)], stdout=log_file, stderr=subprocess.STDOUT)
        broker = KafkaBroker(f"127.0.0.1:{client_port}", proc, log_path)

        def ready() -> bool:
            if proc.poll() is not None:
                raise ProcessExited(f"kafka exited: {log_path.read_text()[-3000:]}")
            return broker.port_open() and bool(broker.admin().list_topics(timeout=1).brokers)

        try:
            wait_until(ready, 60, "the Kafka broker to answer metadata", interval_s=0.2)
            return broker
        except ProcessExited:
            if "Address already in use" not in log_path.read_text():
                raise
        except BaseException:
            stop_process(proc, 30)
            raise
    raise RuntimeError(f"the Kafka broker did not start in {tries} tries (ports taken)")


# --- Redis -------------------------------------------------------------------------------


@dataclass
class RedisServer:
    url: str
    proc: subprocess.Popen[bytes]

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True, socket_timeout=5, socket_connect_timeout=2)


def start_redis(home: Path, tries: int = 3) -> RedisServer:
    """redis-server on a free port; a port taken meanwhile by someone else means a new one."""
    home.mkdir()
    for _ in range(tries):
        port = free_port()
        proc = subprocess.Popen(
            [
                str(install.locate().redis_server),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(home),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = RedisServer(f"redis://127.0.0.1:{port}/0", proc)

        def pong() -> bool:
            if proc.poll() is not None:
                raise ProcessExited(f"redis-server exited with {proc.returncode}")
            return bool(server.client().ping())

        try:
            wait_until(pong, 20, "redis-server to answer PING")
            return server
        except ProcessExited:
            continue
        except BaseException:
            stop_process(proc, 10)
            raise
    raise RuntimeError(f"redis-server did not start in {tries} tries (ports taken?)")


# --- the services ------------------------------------------------------------------------


@dataclass
class ServiceProcess:
    """One service as a subprocess, its stdout (JSON lines) in a file."""

    name: str
    module: str
    env: dict[str, str]
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self) -> None:
        self.starts += 1
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO),
            "HTTP_PORT": str(self.port),
            "SERVICE_NAME": self.name,
            **self.env,
        }
        with open(self.log_path, "ab") as out, open(self.workdir / f"{self.name}.err", "ab") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", self.module], cwd=REPO, env=env, stdout=out, stderr=err)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_healthy(self, timeout_s: float = 30.0) -> None:
        def healthy() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                raise ProcessExited(f"{self.name} exited: {self.stderr()[-2000:]} {self.log_path.read_text()[-2000:]}")
            return http_json("GET", self.url("/health"), timeout_s=1)[0] == 200

        wait_until(healthy, timeout_s, f"{self.name} /health")

    def metrics(self) -> dict[str, Any]:
        status, body = http_json("GET", self.url("/metrics"), timeout_s=2)
        assert status == 200, body
        return body

    def stop(self, timeout_s: float = 20.0) -> int | None:
        return None if self.proc is None else stop_process(self.proc, timeout_s)

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stderr(self) -> str:
        path = self.workdir / f"{self.name}.err"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self, **match: Any) -> list[dict[str, Any]]:
        """Parsed JSON log lines (every stdout line must be one), filtered by field values."""
        if not self.log_path.exists():
            return []
        lines = []
        for raw in self.log_path.read_text().splitlines():
            record = json.loads(raw)
            if all(record.get(k) == v for k, v in match.items()):
                lines.append(record)
        return lines


@dataclass(frozen=True)
class Topics:
    requests: str
    processed: str
    dlq: str
    alerts: str

    def partitions(self) -> dict[str, int]:
        return {self.requests: 6, self.processed: 6, self.dlq: 3, self.alerts: 1}


# Small backoff so DLQ tests run in seconds: retries after 0.5, 1, 2, 2 s; 5 attempts.
BACKOFF = {"BACKOFF_BASE_S": "0.5", "BACKOFF_FACTOR": "2", "BACKOFF_CAP_S": "2", "MAX_ATTEMPTS": "5"}
DOCUMENT_TIMEOUT_S = "1"


@dataclass
class Stack:
    kafka: KafkaBroker
    redis: RedisServer
    topics: Topics
    document: ServiceProcess
    order: ServiceProcess
    workflow: ServiceProcess
    redriver: ServiceProcess

    @property
    def all(self) -> list[ServiceProcess]:
        return [self.document, self.order, self.workflow, self.redriver]

    def post(self, key: str, content: str, version: int, event_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"key": key, "content": content, "version": version}
        if event_id is not None:
            body["event_id"] = event_id
        status, answer = http_json("POST", self.order.url("/documents"), body)
        assert status == 202, (status, answer)
        return answer

    def stop(self) -> dict[str, int | None]:
        """SIGTERM every service; returns their exit codes."""
        return {service.name: service.stop() for service in self.all}

    def restart_document_service(self) -> None:
        self.document.stop()
        self.document.start()
        self.document.wait_healthy()


def start_stack(
    kafka: KafkaBroker,
    redis_server: RedisServer,
    workdir: Path,
    suffix: str,
    workflow_env: dict[str, str] | None = None,
) -> Stack:
    """Create a fresh set of topics and start the four services on them."""
    topics = Topics(f"requested.{suffix}", f"processed.{suffix}", f"dlq.{suffix}", f"alerts.{suffix}")
    kafka.create_topics(topics.partitions())
    document = ServiceProcess(f"document-service-{suffix}", "services.document_service", {}, workdir)
    kafka_env = {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap}
    consumer_env = {
        **kafka_env,
        "REDIS_URL": redis_server.url,
        "DOCUMENT_SERVICE_URL": document.url(""),
        "PROCESSED_TOPIC": topics.processed,
        "DLQ_TOPIC": topics.dlq,
        "DOCUMENT_TIMEOUT_S": DOCUMENT_TIMEOUT_S,
    }
    stack = Stack(
        kafka=kafka,
        redis=redis_server,
        topics=topics,
        document=document,
        order=ServiceProcess(
            f"order-service-{suffix}",
            "services.order_service",
            {**kafka_env, "REQUESTS_TOPIC": topics.requests},
            workdir,
        ),
        workflow=ServiceProcess(
            f"workflow-service-{suffix}",
            "services.workflow_service",
            {
                **consumer_env,
                "REQUESTS_TOPIC": topics.requests,
                "CONSUMER_GROUP": f"workflow-{suffix}",
                **(workflow_env or {}),
            },
            workdir,
        ),
        redriver=ServiceProcess(
            f"redriver-{suffix}",
            "services.redriver",
            {**consumer_env, "ALERTS_TOPIC": topics.alerts, "CONSUMER_GROUP": f"redriver-{suffix}", **BACKOFF},
            workdir,
        ),
    )
    try:
        for service in stack.all:
            service.start()
        for service in stack.all:
            service.wait_healthy()
        for service in (stack.workflow, stack.redriver):
            wait_until(
                lambda s=service: s.metrics()["assigned_partitions"] > 0, 30, f"{service.name} partition assignment"
            )
    except BaseException:
        stack.stop()
        raise
    return stack
