"""Printing a schedule as code, replaying that code, and exploring schedules from a seed,
without servers: ``explore`` is driven with a stand-in for running a schedule."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaoskit.checks import CheckResult, Offender
from chaoskit.exploration import DrawnSchedule, ScheduleFailure, explore, fault_schedules, replay_code, schedule_code
from chaoskit.faults import Faults
from chaoskit.observe.timeline import Timeline
from chaoskit.topology import load_topology

ROOT = Path(__file__).resolve().parents[3]
TOPOLOGY = load_topology(ROOT / "docker-compose.chaos.yml")
FAULTS = Faults(SimpleNamespace(topology=TOPOLOGY), Timeline())  # type: ignore[arg-type]
KILL_PRONE = dict(
    kinds=["latency", "down", "pause", "kill"], links=["workflow-service->redis"], components=["workflow-service"]
)


class Capture:
    """``faults`` for replayed code: builds faults with the real ``Faults`` (and so its checks)
    and validates the schedule with the engine, but runs nothing."""

    def __init__(self, faults: Faults) -> None:
        self._faults = faults
        self.steps: list | None = None

    def __getattr__(self, name: str):
        return getattr(self._faults, name)

    def run_schedule(self, steps) -> None:
        self.steps = [(s.at_s, s.fault, s.duration_s) for s in self._faults.schedule(steps).steps]


def same(a, b) -> bool:
    return [(at, f.code, d) for at, f, d in a] == [(at, f.code, d) for at, f, d in b]


@given(st.data())
def test_replay_code_rebuilds_and_runs_the_same_schedule(data) -> None:
    steps = data.draw(fault_schedules(FAULTS))
    faults = Capture(FAULTS)
    exec(compile(replay_code(steps), "<replay>", "exec"), {"faults": faults})
    assert faults.steps is not None and same(faults.steps, steps)


@given(st.data())
def test_a_drawn_schedule_prints_as_the_list_that_builds_it(data) -> None:
    steps = data.draw(fault_schedules(FAULTS))
    assert same(eval(repr(steps), {"faults": FAULTS}), steps)


def test_the_code_reads_one_step_a_line() -> None:
    steps = DrawnSchedule([(0, FAULTS.kill("workflow-service"), 1), (2, FAULTS.down("workflow-service", "redis"), 3)])
    assert schedule_code(steps) == (
        "[\n    (0, faults.kill('workflow-service'), 1),\n    (2, faults.down('workflow-service', 'redis'), 3),\n]"
    )
    assert replay_code(steps) == f"faults.run_schedule({schedule_code(steps)})"
    assert repr(steps) == "[(0, faults.kill('workflow-service'), 1), (2, faults.down('workflow-service', 'redis'), 3)]"


def drawn(seed: int, examples: int = 8) -> list[str]:
    seen: list[str] = []
    explore(
        fault_schedules(FAULTS),
        lambda steps: seen.append(repr(steps)),
        seed=seed,
        hypothesis_settings=settings(max_examples=examples),
    )
    return seen


def test_the_same_seed_draws_the_same_schedules_and_another_seed_others() -> None:
    assert drawn(7) == drawn(7)
    assert drawn(7) != drawn(8)
    assert drawn(7)[0] == "[]", "Hypothesis tries the simplest schedule first: none, a baseline"


def test_a_failure_is_shrunk_to_the_minimal_schedule_and_reported_with_its_code() -> None:
    tried: list[DrawnSchedule] = []

    def run(steps: DrawnSchedule) -> None:
        tried.append(steps)
        if any(fault.name == "kill" for _, fault, _ in steps):
            raise AssertionError(f"events lost; replay:\n{replay_code(steps)}")

    with pytest.raises(AssertionError) as info:
        explore(fault_schedules(FAULTS, **KILL_PRONE), run, seed=3, hypothesis_settings=settings(max_examples=50))
    minimal = "[\n    (0, faults.kill('workflow-service'), 1),\n]"
    assert str(info.value) == f"events lost; replay:\nfaults.run_schedule({minimal})"
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "fault_schedule(\n    steps=[(0, faults.kill('workflow-service'), 1)],\n)" in notes, notes
    assert repr(tried[-1]) == "[(0, faults.kill('workflow-service'), 1)]", "the last run replays the minimal one"


def test_a_schedule_failure_explains_the_failed_checks_and_ends_with_the_code() -> None:
    handled = "applied once, or parked in the DLQ with an alert"
    lost = Offender("e1", "t1", handled, "acked@1.00s; never applied", '"kill" [1.0s–2.0s]')
    results = [
        CheckResult("consistency", True, "state converged"),
        CheckResult("delivery", False, "lost 1 of 9 acked events (e1)", (lost,)),
    ]
    code = replay_code([(0, FAULTS.kill("workflow-service"), 1)])
    failure = ScheduleFailure(code, results, SimpleNamespace(seed=42))  # type: ignore[arg-type]
    text = str(failure)
    assert text.startswith(
        "under this fault schedule 1 of 2 checks failed:\nFAILED delivery: lost 1 of 9 acked events (e1)"
    )
    assert "e1 (trace t1): expected applied once" in text and "PASSED" not in text
    assert "--chaos-seed=42" in text and text.endswith(code)
    assert isinstance(failure, AssertionError) and failure.results == results
