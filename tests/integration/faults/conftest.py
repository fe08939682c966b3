"""One environment for the fault tests: the minimal topology as local processes.

``env`` is started once per session and reset before every test (toxics removed, proxies
enabled, stopped components started). ``faults`` and ``timeline`` shadow the plugin's
fixtures of the same names with the same meaning, bound to ``env`` instead of the
experiment environment, and ``faults`` heals whatever a test left active.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoskit.faults import Faults
from chaoskit.observe.timeline import Timeline
from chaoskit.runtime.process import ProcessRuntime
from chaoskit.topology import load_topology

MINIMAL = Path(__file__).resolve().parents[3] / "fixtures" / "topologies" / "minimal.yml"


@pytest.fixture(scope="session")
def env() -> Iterator[ProcessRuntime]:
    runtime = ProcessRuntime(load_topology(MINIMAL), owner_pid=os.getpid())
    runtime.up()
    try:
        yield runtime
    finally:
        runtime.down()


@pytest.fixture(autouse=True)
def _fresh(env: ProcessRuntime) -> None:
    env.reset()


@pytest.fixture
def timeline() -> Timeline:
    return Timeline()


@pytest.fixture
def faults(env: ProcessRuntime, timeline: Timeline) -> Iterator[Faults]:
    entry = Faults(env, timeline)
    try:
        yield entry
    finally:
        entry.heal_all()
