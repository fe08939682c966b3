"""Environments for the load tests: the minimal topology (Kafka for the Kafka user) for the
session, and the reference system (order-service for the HTTP user) when a test asks.

Each fixture owns what it starts (``owner_pid`` makes a crashed run's leftovers sweepable)
and stops it in its teardown. Names carry a ``load_`` prefix so they never shadow the
chaoskit plugin's fixtures.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoskit.runtime.process import ProcessRuntime
from chaoskit.topology import load_topology

ROOT = Path(__file__).resolve().parents[3]


def _environment(compose: Path) -> Iterator[ProcessRuntime]:
    runtime = ProcessRuntime(load_topology(compose), owner_pid=os.getpid())
    runtime.up()
    try:
        yield runtime
    finally:
        runtime.down()


@pytest.fixture(scope="session")
def load_minimal_env() -> Iterator[ProcessRuntime]:
    yield from _environment(ROOT / "fixtures" / "topologies" / "minimal.yml")


@pytest.fixture(scope="session")
def load_reference_env() -> Iterator[ProcessRuntime]:
    yield from _environment(ROOT / "docker-compose.chaos.yml")
