"""Fault schedules: ``[(at_s, fault, duration_s), ...]`` run by a background thread.

Times are seconds from the schedule's start, on the monotonic clock (real time that no
clock adjustment can bend). The plan is checked before the thread starts: negative times,
foreign or already active faults, and conflicting overlaps (the same fault object twice at
once; two process faults on one component) are ``ConfigError``. Overlaps of different
network faults are fine: they compose. When the schedule stops (its block exits, normally,
by an exception or Ctrl-C), steps not yet started are dropped and every injected fault is
healed. An inject that fails cancels the rest of the schedule.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from chaoskit.errors import ChaoskitError, ConfigError
from chaoskit.faults import params
from chaoskit.faults.fault import Fault, HealError
from chaoskit.faults.signals import deferred_interrupts

if TYPE_CHECKING:
    from chaoskit.faults.bookkeeping import FaultState


class ScheduleError(ChaoskitError):
    """Steps of a schedule failed; ``failures`` lists them. Every injected fault was healed
    unless a heal is among the failures."""

    def __init__(self, failures: list[tuple[str, BaseException]]) -> None:
        self.failures = failures
        listed = "; ".join(f"{what}: {err}" for what, err in failures)
        super().__init__(f"the fault schedule did not run as written, {len(failures)} step(s) failed: {listed}")


@dataclass(frozen=True)
class Step:
    at_s: float
    fault: Fault
    duration_s: float

    @property
    def end_s(self) -> float:
        return self.at_s + self.duration_s

    def __str__(self) -> str:
        return f"{self.fault} at {self.at_s:g}..{self.end_s:g} s"


@dataclass(frozen=True)
class Event:
    at_s: float
    action: Literal["inject", "heal"]
    step: int


def overlaps(a: Step, b: Step) -> bool:
    """Active intervals are [at_s, end_s); a zero-length step still occupies its instant."""
    return a.at_s == b.at_s or (a.at_s < b.end_s and b.at_s < a.end_s)


def parse_steps(raw: Any, state: FaultState) -> list[Step]:
    """Validate a schedule given as ``(at_s, fault, duration_s)`` triples (or ``Step``s)."""
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
        raise ConfigError(f"schedule({raw!r}): a schedule is a list of (at_s, fault, duration_s) steps")
    steps: list[Step] = []
    for i, item in enumerate(raw):
        where = f"schedule[{i}]"
        if isinstance(item, Step):
            item = (item.at_s, item.fault, item.duration_s)
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise ConfigError(
                f"{where}={item!r}: each step must be (at_s, fault, duration_s), "
                f"e.g. (2.0, faults.down('app', 'kafka'), 5.0)"
            )
        at_s, fault, duration_s = item
        at = params.number(where, "at_s", at_s, unit="seconds from the schedule's start")
        duration = params.number(where, "duration_s", duration_s, unit="seconds")
        if not isinstance(fault, Fault):
            raise ConfigError(f"{where}(fault={fault!r}): fault must be a Fault built by faults.<kind>(...)")
        if fault._state is not state:
            raise ConfigError(
                f"{where}(fault={fault}): the fault was built by another Faults object; build it with this one"
            )
        if fault.active:
            raise ConfigError(f"{where}(fault={fault}): the fault is already injected; a schedule needs it healed")
        steps.append(Step(at, fault, duration))
    check_conflicts(steps)
    return steps


def check_conflicts(steps: list[Step]) -> None:
    for i, a in enumerate(steps):
        for j in range(i + 1, len(steps)):
            b = steps[j]
            if not overlaps(a, b):
                continue
            if a.fault is b.fault:
                raise ConfigError(
                    f"schedule[{i}] ({a}) and schedule[{j}] ({b}) use the same fault object at overlapping "
                    f"times; one fault is active once at a time. To stack two, build two faults "
                    f"(each faults.<kind>(...) call makes a new one)."
                )
            shared = sorted(set(a.fault.holds) & set(b.fault.holds))
            if shared:
                raise ConfigError(
                    f"schedule[{i}] ({a}) and schedule[{j}] ({b}) overlap on {', '.join(shared)}; process "
                    f"faults on one component cannot overlap (there is no sensible heal for, say, killing "
                    f"a paused process). Move one so that it starts after the other ends."
                )


def plan_events(steps: list[Step]) -> list[Event]:
    """Injects and heals in the order they run: by time; at one instant, heals of earlier steps
    first (so a link can be handed from one fault to the next), then injects, then heals of
    zero-length steps; ties keep the order of the steps."""

    def key(event: Event) -> tuple[float, int, int]:
        phase = 1 if event.action == "inject" else 0 if steps[event.step].at_s < event.at_s else 2
        return (event.at_s, phase, event.step)

    events = [Event(s.at_s, "inject", i) for i, s in enumerate(steps)]
    events += [Event(s.end_s, "heal", i) for i, s in enumerate(steps)]
    return sorted(events, key=key)


class Schedule:
    """A running (or ready) fault schedule. ``with schedule:`` starts it and stops it on exit."""

    def __init__(self, state: FaultState, steps: list[Step]) -> None:
        self._state = state
        self.steps = steps
        self.events = plan_events(steps)
        #: (seconds from the start when it began, "inject" | "heal", fault) for every step that ran
        self.fired: list[tuple[float, str, Fault]] = []
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: list[int] = []
        self._failures: list[tuple[str, BaseException]] = []
        self._t0 = 0.0

    @property
    def code(self) -> str:
        """The schedule as code that replays it: ``[(at_s, faults.<kind>(...), duration_s), ...]``."""
        lines = [f"    ({step.at_s!r}, {step.fault.code}, {step.duration_s!r})," for step in self.steps]
        return "\n".join(["[", *lines, "]"])

    @property
    def done(self) -> bool:
        """True once every event ran (or the schedule stopped)."""
        return self._thread is not None and not self._thread.is_alive()

    def start(self) -> Schedule:
        if self._thread is not None:
            raise ChaoskitError("this schedule was already started; build a new one with faults.schedule(steps)")
        with self._state.lock:
            self._state.schedules.append(self)
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="chaoskit-schedule", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until every step ran (True) or ``timeout_s`` passed (False)."""
        if self._thread is None:
            raise ChaoskitError("the schedule has not started: use `with faults.schedule(steps):` or start()")
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Drop the steps not yet started, heal every injected one; raise ``ScheduleError`` if any step failed."""
        with deferred_interrupts():
            self._halt.set()
            if self._thread is not None:
                self._thread.join()
            failures = list(self._failures)
            for index in reversed(list(self._live)):
                try:
                    self.steps[index].fault.heal()
                except HealError as err:
                    failures.extend(err.failures)
                else:
                    self._live.remove(index)
            with self._state.lock:
                if self in self._state.schedules:
                    self._state.schedules.remove(self)
            self._failures = []
            if failures:
                raise ScheduleError(failures)

    def _run(self) -> None:
        for event in self.events:
            if self._halt.wait(max(0.0, self._t0 + event.at_s - time.monotonic())):
                return
            step = self.steps[event.step]
            began = time.monotonic() - self._t0
            try:
                if event.action == "inject":
                    step.fault.inject()
                    self._live.append(event.step)
                elif event.step in self._live:
                    step.fault.heal()
                    self._live.remove(event.step)
            except Exception as err:  # reported when the schedule stops
                self._failures.append((f"{event.action} of {step}", err))
                if event.action == "inject":
                    return
            else:
                self.fired.append((began, event.action, step.fault))

    def __enter__(self) -> Schedule:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.stop()
        except ScheduleError as err:
            if exc is None:
                raise
            exc.add_note(str(err))
