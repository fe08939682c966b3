"""Time series an experiment's report plots next to the load: how many events were
parked in the DLQ, and how much of what was acknowledged had been applied, second by
second. Both come from the recorded history, so they show what the system did, not what
it reported about itself."""

from __future__ import annotations

import math
from collections.abc import Iterable

from chaoskit.observe.history import History, Kind


def _first_times(history: History, kind: Kind) -> dict[str, float]:
    first: dict[str, float] = {}
    for obs in history:
        if obs.kind == kind and obs.event_id not in first:
            first[obs.event_id] = obs.time
    return first


def _seconds(start: float, end: float) -> Iterable[float]:
    return (float(t) for t in range(math.floor(start), math.ceil(end) + 1))


def dlq_sizes(history: History) -> list[tuple[float, int]]:
    """Per second: events dead-lettered and not yet applied or alerted (parked for retry)."""
    span = history.span()
    if span is None:
        return []
    parked = _first_times(history, Kind.DEAD_LETTERED)
    resolved = _first_times(history, Kind.APPLIED)
    for eid, t in _first_times(history, Kind.ALERTED).items():
        resolved.setdefault(eid, t)
    return [
        (t, sum(1 for eid, since in parked.items() if since <= t and resolved.get(eid, math.inf) > t))
        for t in _seconds(*span)
    ]


def convergence(history: History) -> list[tuple[float, float]]:
    """Per second: the fraction of acknowledged events already applied."""
    span = history.span()
    acked = _first_times(history, Kind.ACKED)
    if span is None or not acked:
        return []
    applied = _first_times(history, Kind.APPLIED)
    return [(t, sum(1 for eid in acked if applied.get(eid, math.inf) <= t) / len(acked)) for t in _seconds(*span)]
