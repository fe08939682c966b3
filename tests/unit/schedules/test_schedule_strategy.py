"""The fault-schedule strategy without servers: what it draws, what it refuses, how it shrinks.

Faults are built against the reference topology on a runtime stub (building a fault touches
nothing); the engine's own validation (``faults.schedule(steps)``) is the judge of whether
a drawn schedule is one it accepts.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from chaoskit.errors import ConfigError
from chaoskit.exploration import KINDS, DrawnSchedule, _without_conflicts, fault_schedules
from chaoskit.faults import Faults, TargetError
from chaoskit.observe.timeline import Timeline
from chaoskit.topology import load_topology

ROOT = Path(__file__).resolve().parents[3]
TOPOLOGY = load_topology(ROOT / "docker-compose.chaos.yml")
FAULTS = Faults(SimpleNamespace(topology=TOPOLOGY), Timeline())  # type: ignore[arg-type]
SEARCH = settings(database=None, derandomize=True, max_examples=1000)


def shrunk(condition, **options) -> str:
    """The minimal schedule satisfying ``condition``, as Hypothesis shrinks it (printed as code)."""
    return repr(find(fault_schedules(FAULTS, **options), condition, settings=SEARCH))


def has(kind: str, target: str | None = None):
    return lambda steps: any(f.name == kind and target in (None, f.target) for _, f, _ in steps)


# -- what a drawn schedule is ----------------------------------------------------------------
@given(st.data())
def test_every_drawn_schedule_is_accepted_by_the_faults_engine(data) -> None:
    steps = data.draw(fault_schedules(FAULTS))
    assert isinstance(steps, DrawnSchedule) and isinstance(steps, list)
    FAULTS.schedule(steps)  # the engine's checks: times, foreign faults, conflicting overlaps


@given(st.data())
def test_process_faults_on_one_component_never_overlap(data) -> None:
    steps = data.draw(fault_schedules(FAULTS, kinds=["pause", "kill"], components=["workflow-service"], max_steps=4))
    spans = sorted((at_s, at_s + duration_s) for at_s, _, duration_s in steps)
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans)), spans
    FAULTS.schedule(steps)


@given(st.data())
def test_steps_stay_within_their_bounds_kinds_and_targets(data) -> None:
    links = ["workflow-service->redis", ("order-service", "kafka")]
    options = dict(kinds=["kill", "latency", "down"], links=links, components=["redriver"])
    options.update(max_steps=3, horizon_s=5, max_duration_s=2)
    steps = data.draw(fault_schedules(FAULTS, **options))
    assert len(steps) <= 3
    for at_s, fault, duration_s in steps:
        assert isinstance(at_s, int) and isinstance(duration_s, int)
        assert 1 <= duration_s <= 2
        # only a step moved past a conflicting one starts after the horizon
        assert 0 <= at_s <= 5 + 2 * 2
        assert fault.name in {"kill", "latency", "down"}
        allowed = {"redriver"} if fault.name == "kill" else {"workflow-service->redis", "order-service->kafka"}
        assert fault.target in allowed


def test_a_step_that_would_overlap_a_process_fault_on_its_component_starts_when_that_one_ends() -> None:
    pause = FAULTS.pause("workflow-service")
    kill = FAULTS.kill("workflow-service")
    again = FAULTS.kill("workflow-service")
    latency = FAULTS.latency("workflow-service", "redis", ms=100)
    other = FAULTS.kill("redriver")
    moved = _without_conflicts([(0, pause, 5), (2, kill, 1), (3, latency, 1), (1, other, 1), (0, again, 2)])
    assert moved == [(0, pause, 5), (5, kill, 1), (3, latency, 1), (1, other, 1), (6, again, 2)]
    FAULTS.schedule(moved)


# -- shrinking: toward immediately, mildest, shortest, fewest ---------------------------------
def test_a_schedule_needing_a_kill_shrinks_to_one_immediate_short_kill() -> None:
    assert shrunk(has("kill", "workflow-service")) == "[(0, faults.kill('workflow-service'), 1)]"


def test_shrinking_lowers_severity_to_the_mildest_kind_that_still_qualifies() -> None:
    at_least_pause = lambda steps: any(KINDS.index(f.name) >= KINDS.index("pause") for _, f, _ in steps)  # noqa: E731
    assert shrunk(at_least_pause, components=["workflow-service"]) == "[(0, faults.pause('workflow-service'), 1)]"


def test_shrinking_lowers_parameters_and_times_to_the_least_that_qualifies() -> None:
    def slow_and_late(steps) -> bool:
        return any(f.name == "latency" and f.params["ms"] >= 500 and at_s >= 3 for at_s, f, _ in steps)

    assert shrunk(slow_and_late, links=["workflow-service->redis"]) == (
        "[(3, faults.latency('workflow-service', 'redis', ms=500, jitter=0, direction='downstream', toxicity=1.0), 1)]"
    )


def test_shrinking_keeps_only_the_steps_that_matter() -> None:
    options = dict(kinds=["kill", "down"], links=["workflow-service->redis"], components=["workflow-service"])
    both = lambda steps: has("kill")(steps) and has("down")(steps)  # noqa: E731
    assert shrunk(both, **options) == (
        "[(0, faults.down('workflow-service', 'redis'), 1), (0, faults.kill('workflow-service'), 1)]"
    )


# -- bad input is refused before anything is drawn --------------------------------------------
@pytest.mark.parametrize(
    ("options", "error", "needles"),
    [
        (
            {"kinds": ["kill", "explode"]},
            ConfigError,
            ["kinds=['kill', 'explode']", "latency, bandwidth", "mildest to harshest"],
        ),
        ({"kinds": []}, ConfigError, ["non-empty list"]),
        ({"links": ["workflow-service->postgres"]}, TargetError, ["postgres", "the topology"]),
        ({"components": ["toxiproxy"]}, TargetError, ["Toxiproxy server"]),
        ({"components": ["billing"]}, TargetError, ["unknown component 'billing'"]),
        ({"kinds": ["kill"], "components": []}, ConfigError, ["kill acts on a component", "name at least one"]),
        ({"max_steps": 0}, ConfigError, ["max_steps=0", "must be >= 1", "steps per schedule"]),
        ({"horizon_s": -1}, ConfigError, ["horizon_s=-1", ">= 0"]),
        ({"max_duration_s": 1.5}, ConfigError, ["max_duration_s=1.5", "whole"]),
    ],
)
def test_bad_options_are_refused_naming_the_field_and_what_is_allowed(options, error, needles) -> None:
    with pytest.raises(error) as info:
        fault_schedules(FAULTS, **options)
    for needle in needles:
        assert needle in str(info.value), str(info.value)
