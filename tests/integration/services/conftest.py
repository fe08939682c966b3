"""Session fixtures for the services' integration tests: Kafka, Redis and the services.

Each fixture owns what it starts: its own temporary directory and free ports, deadlines
on every wait, and a teardown that stops every process and removes the directory.
Fixture names carry a `svc_` prefix so they never shadow the chaoskit plugin's
`kafka`/`redis`/`services` fixtures.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from svc_harness import (
    KafkaBroker,
    RedisServer,
    Stack,
    start_kafka,
    start_redis,
    start_stack,
    stop_process,
)

from chaoskit import install


@pytest.fixture(scope="session")
def svc_workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="chaoskit-services-it-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def svc_kafka(svc_workdir: Path) -> Iterator[KafkaBroker]:
    broker = start_kafka(str(install.locate().java), svc_workdir / "kafka")
    try:
        yield broker
    finally:
        stop_process(broker.proc, 30)


@pytest.fixture(scope="session")
def svc_redis(svc_workdir: Path) -> Iterator[RedisServer]:
    server = start_redis(svc_workdir / "redis")
    try:
        yield server
    finally:
        stop_process(server.proc, 10)


@pytest.fixture(scope="session")
def svc_stack(svc_kafka: KafkaBroker, svc_redis: RedisServer, svc_workdir: Path) -> Iterator[Stack]:
    stack = start_stack(svc_kafka, svc_redis, svc_workdir, "main")
    try:
        yield stack
    finally:
        stack.stop()
