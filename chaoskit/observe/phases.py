"""Before, during and after a fault: one definition for the load's phase table (the
report) and the SLO check (the verdict), so the two never disagree about a request.

A request belongs to a phase by its whole span ``[start, start + latency]``: it is
*during* a fault when the span overlaps the fault's window (a request sent just before a
broker pause that hangs into it felt the fault), *before* when it ended before the window
opened, *after* when it started after the window closed. Percentiles are nearest-rank
over the ascending latencies, the same function everywhere.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import Literal

Phase = Literal["before", "during", "after"]
PHASES: tuple[Phase, ...] = ("before", "during", "after")


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence (``fraction`` in 0..1): the value
    that ``fraction`` of the values do not exceed; None for no values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def overlaps(start: float, end: float, window_start: float, window_end: float | None) -> bool:
    """Whether a request's span met a fault window (an unhealed window never closes)."""
    return start <= (math.inf if window_end is None else window_end) and end >= window_start


def edges(windows: Iterable[tuple[float, float | None]]) -> list[float]:
    """Fault windows ``(start, end or None)`` merged into disjoint spans, flattened:
    ``[start, end, start, end, ...]``."""
    flat: list[float] = []
    for start, end in sorted(windows):
        stop = math.inf if end is None else end
        if flat and start <= flat[-1]:
            flat[-1] = max(flat[-1], stop)
        else:
            flat += [start, stop]
    return flat


def phase_of(start: float, end: float, spans: list[float]) -> Phase:
    """The phase of a request spanning ``[start, end]``, given ``edges(windows)``: during
    when it overlaps a merged window, before when it ended before the first one opened,
    after otherwise (recovery, and the gaps between faults)."""
    first = bisect_right(spans, start)  # spans[first - 1] <= start < spans[first]
    if first % 2 or (first < len(spans) and spans[first] <= end):
        return "during"  # starts inside a window, or a window opens before it ends
    return "before" if first == 0 else "after"
