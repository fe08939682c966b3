"""How the checks tell an event's story: its observed path and the fault windows it met.

Shared by every check so all explanations read the same way: times are seconds since
the experiment's origin, an event's path reads ``acked@1.02s → consumed@13.20s
(workflow-service) → failed@13.41s (attempt 1, error: timeout)``, and a fault window
reads ``"down workflow-service->kafka" [12.3s–17.9s]``.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Sequence
from typing import Any

from chaoskit.observe.history import Columns, History, Kind, Observation, is_effect
from chaoskit.observe.timeline import Timeline

MAX_STEPS = 12


def origin_of(history: History | None, timeline: Timeline | None) -> float:
    """The experiment's start: the timeline's origin, else the first observation, else 0."""
    if timeline is not None and timeline.origin is not None:
        return timeline.origin
    span = history.span() if history is not None else None
    return span[0] if span else 0.0


def effect_rows(applied: Columns) -> list[bool]:
    """Per ``applied`` observation, whether it changed state (``is_effect``), column-wise."""
    return list(map(operator.is_not, applied.field("applied"), itertools.repeat(False)))


def versions_of(values: Iterable[Any]) -> list[float | None]:
    """``version_of`` over a column, with a fast path for the usual integer versions."""
    return [v if type(v) is int else version_of(v) for v in values]


def version_of(value: Any) -> float | None:
    """A comparable version number from an int, float or numeric string; None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def step(observation: Observation, origin: float) -> str:
    """One observation as ``kind@t`` plus what matters about it."""
    detail = observation.detail
    text = f"{observation.kind}@{observation.time - origin:.2f}s"
    notes: list[str] = []
    if observation.kind in (Kind.CONSUMED, Kind.REDRIVEN, Kind.APPLIED, Kind.ALERTED, Kind.COMMITTED):
        notes.append(observation.where)
    if "attempt" in detail:
        notes.append(f"attempt {detail['attempt']}")
    if "attempts" in detail:
        notes.append(f"attempts {detail['attempts']}")
    if observation.kind is Kind.APPLIED:
        if "version" in detail:
            notes.append(f"v{detail['version']}")
        if not is_effect(detail):
            notes.append(f"no-op: {detail['outcome']}" if "outcome" in detail else "no-op")
    if detail.get("error"):
        notes.append(f"error: {detail['error']}")
    return text + (f" ({', '.join(notes)})" if notes else "")


def describe(observations: Sequence[Observation], origin: float) -> str:
    """An event's observed path; long paths keep their start and their end."""
    if not observations:
        return "never observed"
    steps = [step(o, origin) for o in observations]
    if len(steps) > MAX_STEPS:
        hidden = len(steps) - MAX_STEPS
        steps = [*steps[:4], f"… {hidden} more …", *steps[-(MAX_STEPS - 4) :]]
    return " → ".join(steps)


def window_label(timeline: Timeline | None, start: float, end: float, origin: float) -> str | None:
    """The fault windows open at any moment of [start, end], or None if there were none."""
    if timeline is None:
        return None
    labels = [w.label(origin) for w in timeline.windows() if w.overlaps(start, end)]
    return " + ".join(labels) or None


def event_window(timeline: Timeline | None, observations: Sequence[Observation], origin: float) -> str | None:
    """The fault windows an event met between its first and its last observation."""
    if not observations:
        return None
    return window_label(timeline, observations[0].time, observations[-1].time, origin)
