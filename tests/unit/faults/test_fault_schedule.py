"""Schedules without servers: validation, the order of injects and heals, the thread, stopping.

Timings are only checked for order (never as thresholds): this machine may be slow.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaoskit.errors import ConfigError
from chaoskit.faults import Fault, Faults, ScheduleError
from chaoskit.faults.schedule import Step, overlaps, plan_events
from chaoskit.observe.timeline import Timeline
from chaoskit.runtime.health import wait_for
from chaoskit.topology import load_topology

MINIMAL = Path(__file__).resolve().parents[3] / "fixtures" / "topologies" / "minimal.yml"


class Mark(Fault):
    """A fault whose inject and heal append to a shared log (and can be told to fail)."""

    def __init__(self, faults: Faults, label: str, log: list, holds=(), fails=False):
        super().__init__(faults._state, "mark", label, {})
        self.label, self.log, self.holds, self.fails = label, log, tuple(holds), fails

    @property
    def code(self):
        return f"Mark({self.label!r})"

    def _apply(self):
        if self.fails:
            raise RuntimeError(f"{self.label} cannot be injected")
        self.log.append(("inject", self.label))
        self._on_heal("unmark", lambda: self.log.append(("heal", self.label)))


@pytest.fixture
def faults() -> Faults:
    return Faults(SimpleNamespace(topology=load_topology(MINIMAL)), Timeline())  # type: ignore[arg-type]


def refused(faults, steps, *needles):
    with pytest.raises(ConfigError) as info:
        faults.schedule(steps)
    for needle in needles:
        assert needle in str(info.value), str(info.value)


# -- validation ------------------------------------------------------------------------------
def test_negative_times_and_durations_are_refused(faults):
    fault = faults.down("producer", "redis")
    refused(faults, [(-1, fault, 1)], "schedule[0](at_s=-1)", "at_s must be >= 0", "seconds")
    refused(faults, [(0, fault, 1), (2, faults.down("producer", "kafka"), -0.5)], "schedule[1](duration_s=-0.5)")
    refused(faults, [(0, fault, "5s")], "schedule[0](duration_s='5s')", "got a str")


def test_steps_must_be_triples_of_faults_from_this_entry(faults):
    refused(faults, [(0, faults.down("producer", "redis"))], "schedule[0]=", "(at_s, fault, duration_s)")
    refused(faults, [(0, "down", 1)], "schedule[0](fault='down')", "faults.<kind>(...)")
    other = Faults(faults.runtime)
    refused(faults, [(0, other.down("producer", "redis"), 1)], "another Faults object")
    refused(faults, "down", "a list of (at_s, fault, duration_s)")


def test_the_same_fault_twice_at_once_is_refused_but_back_to_back_is_fine(faults):
    fault = faults.latency("producer", "redis", ms=10)
    refused(
        faults, [(0, fault, 5), (4, fault, 1)], "schedule[0]", "schedule[1]", "same fault object", "build two faults"
    )
    faults.schedule([(0, fault, 5), (5, fault, 1)])


def test_process_faults_on_one_component_cannot_overlap(faults):
    refused(
        faults,
        [(0, faults.kill("kafka"), 5), (3, faults.broker_loss(mode="pause"), 5)],
        "overlap on kafka",
        "process faults on one component",
    )
    faults.schedule([(0, faults.kill("kafka"), 5), (5, faults.broker_loss(mode="pause"), 5)])
    faults.schedule([(0, faults.kill("kafka"), 5), (1, faults.broker_loss(mode="cut"), 5)])


def test_network_faults_on_one_link_may_overlap(faults):
    faults.schedule(
        [
            (0, faults.down("producer", "kafka"), 5),
            (1, faults.partition([("producer", "kafka"), ("consumer", "kafka")]), 5),
            (2, faults.latency("producer", "kafka", ms=100), 1),
            (2, faults.latency("producer", "kafka", ms=100), 1),
        ]
    )


# -- ordering --------------------------------------------------------------------------------
def test_events_run_by_time_with_heals_before_injects_at_one_instant(faults):
    a, b, c = (faults.down("producer", "redis") for _ in range(3))
    steps = [Step(2, a, 3), Step(0, b, 2), Step(2, c, 0)]
    assert [(e.at_s, e.action, e.step) for e in plan_events(steps)] == [
        (0, "inject", 1),
        (2, "heal", 1),  # b ends where a starts: the link is handed over
        (2, "inject", 0),
        (2, "inject", 2),
        (2, "heal", 2),  # a zero-length step heals right after its own inject
        (5, "heal", 0),
    ]


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 10)), max_size=12))
def test_every_step_is_injected_before_it_is_healed_and_time_never_goes_back(spans):
    marker = SimpleNamespace()
    steps = [Step(at, marker, duration) for at, duration in spans]  # type: ignore[arg-type]
    events = plan_events(steps)
    assert len(events) == 2 * len(steps)
    assert [e.at_s for e in events] == sorted(e.at_s for e in events)
    seen = {(e.step, e.action): i for i, e in enumerate(events)}
    for index in range(len(steps)):
        assert seen[(index, "inject")] < seen[(index, "heal")]


def test_overlap_is_half_open_and_a_zero_length_step_occupies_its_instant():
    f = SimpleNamespace()
    assert overlaps(Step(0, f, 5), Step(4, f, 1))
    assert not overlaps(Step(0, f, 5), Step(5, f, 1))
    assert overlaps(Step(3, f, 0), Step(3, f, 0))
    assert overlaps(Step(3, f, 0), Step(1, f, 5))
    assert not overlaps(Step(6, f, 0), Step(1, f, 5))


# -- the thread ------------------------------------------------------------------------------
def test_a_schedule_runs_its_steps_in_order_and_heals_them(faults):
    log: list = []
    first, second = Mark(faults, "first", log), Mark(faults, "second", log)
    faults.run_schedule([(0.2, second, 0.2), (0.0, first, 0.3)])
    assert log == [("inject", "first"), ("inject", "second"), ("heal", "first"), ("heal", "second")]
    assert faults.active == []
    windows = faults.timeline.windows()
    assert [w.target for w in windows] == ["first", "second"]
    assert all(w.healed_at is not None for w in windows)


def test_leaving_the_block_early_drops_later_steps_and_heals_the_active_ones(faults):
    log: list = []
    running = Mark(faults, "running", log)
    with faults.schedule([(0, running, 60), (30, Mark(faults, "later", log), 1)]) as schedule:
        wait_for(lambda: schedule.fired, 10, "the first step")
    assert log == [("inject", "running"), ("heal", "running")]
    assert faults.active == [] and schedule.done


def test_heal_all_stops_a_running_schedule(faults):
    log: list = []
    schedule = faults.schedule([(0, Mark(faults, "long", log), 60)]).start()
    wait_for(lambda: schedule.fired, 10, "the first step")
    assert not schedule.done
    faults.heal_all()
    assert log[-1] == ("heal", "long") and schedule.done


def test_a_failing_inject_cancels_the_rest_and_is_raised_at_the_end(faults):
    log: list = []
    steps = [
        (0, Mark(faults, "ok", log), 0.5),
        (0.1, Mark(faults, "bad", log, fails=True), 1),
        (0.2, Mark(faults, "never", log), 1),
    ]
    with pytest.raises(ScheduleError, match="bad cannot be injected"):
        faults.run_schedule(steps)
    assert log == [("inject", "ok"), ("heal", "ok")]
    assert faults.active == []


def test_an_exception_in_the_block_heals_and_propagates(faults):
    log: list = []
    with pytest.raises(ValueError), faults.schedule([(0, Mark(faults, "x", log), 60)]) as schedule:
        wait_for(lambda: schedule.fired, 10, "the first step")
        raise ValueError("experiment failed")
    assert ("heal", "x") in log and faults.active == []
