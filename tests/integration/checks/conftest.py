"""Environments for proving the checks on real components: the reference system, the same
system whose workflow-service is the broken commit-first double (fixtures/broken), and the
same system whose redriver is the broken trace-dropping double (fixtures/broken).

Each runs as local processes (the process runtime), started once and stopped at the end.
``experiment_on(runtime)`` builds what the plugin's ``experiment`` fixture would for that
environment (the plugin's fixtures are bound to the one topology of the run), and
``expected_state_of(experiment)`` is the state verifier's expected state for its keys, as the
experiments' ``expected_state`` fixture builds it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_py

from chaoskit.experiment import Experiment, KafkaClients, Load, Services, namespace_for
from chaoskit.faults import Faults
from chaoskit.observe.timeline import Timeline
from chaoskit.runtime.process import ProcessRuntime
from chaoskit.topology import load_topology
from fixtures.broken.scratch import scratch_topology

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "docker-compose.chaos.yml"
BROKEN = ROOT / "fixtures" / "broken" / "topology.yml"
TRACE_DROPPING_REDRIVER = ROOT / "fixtures" / "broken" / "redriver_drops_trace.py"
SEED = 20260816
State = dict[str, dict[str, Any]]


def _environment(topology: Path) -> Iterator[ProcessRuntime]:
    runtime = ProcessRuntime(load_topology(topology), owner_pid=os.getpid())
    runtime.up()
    try:
        yield runtime
    finally:
        runtime.down()


@pytest.fixture(scope="session")
def broken_system() -> Iterator[ProcessRuntime]:
    """The reference system with workflow-service committing before it applies."""
    yield from _environment(BROKEN)


@pytest.fixture(scope="session")
def trace_dropping_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessRuntime]:
    """The reference system with a redriver that drops the trace id on every redrive and alert.

    Its topology is the reference one with the redriver's command alone replaced, written
    out at test time: one planted bug by construction, and no second copy of the
    reference topology to keep in step.
    """
    topology = scratch_topology(
        tmp_path_factory.mktemp("trace-dropping"),
        {"redriver": ["{python}", str(TRACE_DROPPING_REDRIVER)]},
        "chaoskit-broken-trace",
    )
    yield from _environment(topology)


@pytest.fixture(scope="module")
def reference_system() -> Iterator[ProcessRuntime]:
    yield from _environment(REFERENCE)


@pytest.fixture
def experiment_on(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Experiment]]:
    """``experiment_on(runtime, seed=SEED)``: a fresh experiment in that environment (``seed``
    plays the run's --chaos-seed); its recording stops, its faults heal,
    its load stops and its Redis client closes when the test ends."""
    made: list[Experiment] = []

    def make(runtime: ProcessRuntime, seed: int = SEED) -> Experiment:
        host, port = runtime.endpoint("redis").split(":")
        namespace = namespace_for(request.node.nodeid)
        timeline = Timeline()
        experiment = Experiment(
            name=request.node.name,
            runtime=runtime,
            services=Services(runtime),
            faults=Faults(runtime, timeline),
            timeline=timeline,
            load=Load(runtime, namespace, tmp_path / f"load-{len(made)}", seed),
            kafka=KafkaClients(runtime.endpoint("kafka")),
            namespace=namespace,
            seed=seed,
            redis=redis_py.Redis(
                host=host, port=int(port), socket_timeout=5, socket_connect_timeout=2, decode_responses=True
            ),
        )
        made.append(experiment)
        return experiment

    yield make
    for experiment in made:
        experiment.load.stop()
        if experiment.recording_active:
            experiment.stop_recording()
        experiment.faults.heal_all()
        experiment.redis.close()


@pytest.fixture
def expected_state_of() -> Callable[[Experiment], Callable[[], State]]:
    """``expected_state_of(experiment)``: the verifier's expected state for the experiment's
    keys, rebuilt from the requests topic (what the experiments' ``expected_state`` is)."""
    from services.verifier import expected_state, read_event_log

    def of(experiment: Experiment) -> Callable[[], State]:
        roles = experiment.topics

        def build() -> State:
            events, alerted, _ = read_event_log(experiment.kafka.bootstrap, roles["requests"], roles["alerts"])
            state: State = {}
            for key, doc in expected_state(events, alerted, key_prefix=experiment.namespace).items():
                # several events may request the same top version: then any of them may win
                only = next(iter(doc.candidates.items())) if len(doc.candidates) == 1 else None
                state[key] = {"version": doc.version, **({"event_id": only[0], "content": only[1]} if only else {})}
            return state

        return build

    return of
