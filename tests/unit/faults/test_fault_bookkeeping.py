"""Composition bookkeeping without servers: cut counts, undo steps, holds, Ctrl-C deferral.

``Steps`` is a Fault whose changes are entries in a list, so what inject and heal do
(and in which order) can be read off directly.
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import SimpleNamespace

import pytest

from chaoskit.errors import ChaoskitError, ConfigError
from chaoskit.faults import Fault, HealError
from chaoskit.faults.bookkeeping import CutCounts, FaultState
from chaoskit.observe.timeline import Timeline
from chaoskit.topology import load_topology

MINIMAL = Path(__file__).resolve().parents[3] / "fixtures" / "topologies" / "minimal.yml"


class Steps(Fault):
    """Applies steps "a", "b", ... by appending to ``log``; can fail at a step or on an undo."""

    def __init__(self, state, name="steps", steps=("a", "b"), fail_at=None, holds=(), on_step=None, log=None):
        super().__init__(state, name, "test", {"steps": list(steps)})
        self.steps, self.fail_at, self.holds, self.on_step = steps, fail_at, tuple(holds), on_step
        self.log: list[tuple[str, str]] = [] if log is None else log
        self.broken_undo: set[str] = set()

    @property
    def code(self):
        return f"Steps({self.steps!r})"

    def _apply(self):
        for step in self.steps:
            self._on_heal(f"undo {step}", lambda step=step: self._undo_step(step))
            if step == self.fail_at:
                raise RuntimeError(f"step {step} failed")
            self.log.append(("do", step))
            if self.on_step:
                self.on_step(step)

    def _undo_step(self, step):
        if step in self.broken_undo:
            raise RuntimeError(f"undo {step} failed")
        self.log.append(("undo", step))


@pytest.fixture
def timeline() -> Timeline:
    return Timeline()


@pytest.fixture
def state(timeline) -> FaultState:
    return FaultState(SimpleNamespace(topology=load_topology(MINIMAL)), timeline)  # type: ignore[arg-type]


# -- cut counts ----------------------------------------------------------------------------
def test_a_proxy_is_disabled_by_the_first_cut_and_enabled_by_the_last_heal():
    calls: list[str] = []
    counts = CutCounts()
    counts.cut("p", lambda: calls.append("disable"))
    counts.cut("p", lambda: calls.append("disable"))
    assert calls == ["disable"] and counts.count("p") == 2
    counts.uncut("p", lambda: calls.append("enable"))
    assert calls == ["disable"] and counts.count("p") == 1
    counts.uncut("p", lambda: calls.append("enable"))
    assert calls == ["disable", "enable"] and counts.count("p") == 0


def test_a_failed_toxiproxy_call_leaves_the_count_telling_the_truth():
    counts = CutCounts()

    def fail() -> None:
        raise RuntimeError("toxiproxy down")

    with pytest.raises(RuntimeError):
        counts.cut("p", fail)
    assert counts.count("p") == 0
    counts.cut("p", lambda: None)
    with pytest.raises(RuntimeError):
        counts.uncut("p", fail)
    assert counts.count("p") == 1, "a proxy that could not be enabled is still counted as cut"
    with pytest.raises(ChaoskitError, match="not cut"):
        CutCounts().uncut("q", lambda: None)


# -- inject, heal, undo ----------------------------------------------------------------------
def test_heal_undoes_in_reverse_and_the_timeline_gets_both_ends(state, timeline):
    fault = Steps(state)
    with fault:
        assert fault.active
        assert fault.log == [("do", "a"), ("do", "b")]
    assert fault.log[2:] == [("undo", "b"), ("undo", "a")]
    assert not fault.active
    (window,) = timeline.windows()
    assert (window.name, window.target, window.params) == ("steps", "test", {"steps": ["a", "b"]})
    assert window.injected_at <= window.healed_at


def test_a_failed_inject_undoes_what_it_did_and_records_nothing(state, timeline):
    fault = Steps(state, steps=("a", "b", "c"), fail_at="c")
    with pytest.raises(RuntimeError, match="step c failed"):
        fault.inject()
    assert fault.log == [("do", "a"), ("do", "b"), ("undo", "c"), ("undo", "b"), ("undo", "a")]
    assert not fault.active and timeline.windows() == []


def test_a_failed_heal_step_does_not_stop_the_others_and_is_retried(state, timeline):
    fault = Steps(state, steps=("a", "b", "c"))
    fault.inject()
    fault.broken_undo = {"b"}
    with pytest.raises(HealError) as info:
        fault.heal()
    assert [what for what, _ in info.value.failures] == ["steps(test, steps=['a', 'b', 'c']): undo b"]
    assert "every other step was done" in str(info.value)
    assert fault.log[3:] == [("undo", "c"), ("undo", "a")]
    assert fault.active and timeline.windows()[0].healed_at is None
    fault.broken_undo = set()
    fault.heal()
    assert fault.log[-1] == ("undo", "b") and not fault.active
    assert timeline.windows()[0].healed_at is not None


def test_an_exception_in_the_block_still_heals_and_keeps_its_own_type(state):
    fault = Steps(state)
    with pytest.raises(ValueError, match="in the block"), fault:
        raise ValueError("in the block")
    assert not fault.active and fault.log[-1] == ("undo", "a")


def test_a_heal_failure_after_an_exception_is_a_note_on_that_exception(state):
    fault = Steps(state)
    with pytest.raises(ValueError) as info, fault:
        fault.broken_undo = {"a"}
        raise ValueError("in the block")
    assert any("undo a failed" in note for note in info.value.__notes__)


def test_injecting_an_active_fault_again_is_refused(state):
    fault = Steps(state)
    with fault, pytest.raises(ChaoskitError, match="already injected"):
        fault.inject()


def test_process_faults_on_one_component_cannot_overlap(state):
    first = Steps(state, name="kill", holds=("kafka",))
    second = Steps(state, name="pause", holds=("kafka",))
    with first:
        with pytest.raises(ConfigError, match="kafka is already held by kill"):
            second.inject()
        assert second.log == [], "a refused fault touches nothing"
    with second:
        pass


def test_heal_all_heals_newest_first_and_reports_every_failure(state):
    from chaoskit.faults import Faults

    faults = Faults(state.runtime, state.timeline)
    log: list[tuple[str, str]] = []
    made = [Steps(faults._state, name=n, steps=(n,), log=log) for n in ("one", "two", "three")]
    for fault in made:
        fault.inject()
    made[1].broken_undo = {"two"}
    with pytest.raises(HealError, match="undo two failed"):
        faults.heal_all()
    assert [step for action, step in log if action == "undo"] == ["three", "one"]
    assert faults.active == [made[1]]


# -- Ctrl-C ----------------------------------------------------------------------------------
def test_ctrl_c_during_an_inject_waits_until_the_inject_is_complete(state):
    fault = Steps(state, steps=("a", "b"), on_step=lambda step: step == "a" and signal.raise_signal(signal.SIGINT))
    with pytest.raises(KeyboardInterrupt):
        fault.inject()
    assert fault.log == [("do", "a"), ("do", "b")], "the interrupt was held until both steps were done"
    assert fault.active
    fault.heal()
    assert not fault.active


def test_ctrl_c_while_entering_a_block_heals_the_fault(state):
    fault = Steps(state, steps=("a", "b"), on_step=lambda step: step == "a" and signal.raise_signal(signal.SIGINT))
    with pytest.raises(KeyboardInterrupt), fault:
        pytest.fail("the block must not run")
    assert not fault.active and fault.log[-2:] == [("undo", "b"), ("undo", "a")]


def test_ctrl_c_in_the_block_heals(state):
    fault = Steps(state)
    with pytest.raises(KeyboardInterrupt), fault:
        signal.raise_signal(signal.SIGINT)
    assert not fault.active and fault.log[-2:] == [("undo", "b"), ("undo", "a")]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_sigterm_turned_into_an_interrupt_is_held_back_too(state):
    def as_interrupt(signum, frame):
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, as_interrupt)
    try:
        fault = Steps(state, steps=("a", "b"), on_step=lambda step: step == "a" and signal.raise_signal(signal.SIGTERM))
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            fault.inject()
        assert fault.log == [("do", "a"), ("do", "b")] and fault.active
        assert signal.getsignal(signal.SIGTERM) is as_interrupt
        fault.heal()
    finally:
        signal.signal(signal.SIGTERM, previous)
