"""Statistics before, during and after each fault window of a load run.

A window is ``(name, start_epoch, end_epoch)``, or a window recorded by the fault
timeline (anything with ``name``, ``injected_at`` and ``healed_at``); an end of None, a
fault never healed, lasts to the end of the run. A request belongs to a window's phases
by its whole span, as ``chaoskit.observe.phases`` defines them for the SLO check too:

- *during*: the span overlaps the window (a request sent just before a broker pause that
  hangs into it felt the fault, so it counts here);
- *before*: it ended before the window started;
- *after*: it started after the window ended.

So each window partitions every request into exactly one of its three phases. With
several windows, *before* and *after* are kept clean: they only take requests that
overlap no other window and lie between this window and its neighbours, so they stay
the baseline and the recovery of this one fault.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from chaoskit.errors import ConfigError
from chaoskit.load.records import RequestRecord, summarize
from chaoskit.observe.phases import Phase, overlaps


@dataclass(frozen=True)
class Window:
    name: str
    start: float
    end: float

    def overlaps(self, record: RequestRecord) -> bool:
        return overlaps(record.start_time, record.end_time, self.start, self.end)


@dataclass(frozen=True)
class PhaseStats:
    window: str
    phase: Phase
    start: float
    end: float
    requests: int
    failures: int
    p50: float | None
    p95: float | None
    p99: float | None

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @property
    def rps(self) -> float:
        span = self.end - self.start
        return self.requests / span if span > 0 else 0.0


class RecordedWindow(Protocol):
    """What ``chaoskit.observe.timeline.FaultWindow`` offers (not imported: no coupling)."""

    @property
    def name(self) -> str: ...
    @property
    def injected_at(self) -> float: ...
    @property
    def healed_at(self) -> float | None: ...


WindowLike = Window | tuple[str, float, float | None] | RecordedWindow


def as_windows(windows: Iterable[WindowLike], run_end: float) -> list[Window]:
    """Validate and sort windows; an open end (None) becomes the end of the run."""
    result = []
    for index, item in enumerate(windows):
        if isinstance(item, Window):
            window = item
        elif isinstance(item, tuple):
            name, start, end = item
            window = Window(name, start, run_end if end is None else end)
        else:
            healed = item.healed_at
            window = Window(item.name, item.injected_at, run_end if healed is None else healed)
        if not window.start <= window.end:
            raise ConfigError(
                f"fault window {index} ({window.name!r}) ends before it starts: "
                f"start={window.start!r} end={window.end!r}"
            )
        result.append(window)
    return sorted(result, key=lambda w: (w.start, w.end))


def phases(
    records: Sequence[RequestRecord], windows: Iterable[WindowLike], run_start: float, run_end: float
) -> list[PhaseStats]:
    """Before/during/after statistics for each window, in timeline order."""
    ordered = as_windows(windows, run_end)
    result: list[PhaseStats] = []
    for window in ordered:
        others = [w for w in ordered if w is not window]
        lower = max([run_start, *(w.end for w in others if w.end < window.start)])
        upper = min([run_end, *(w.start for w in others if w.start > window.end)])
        clean = [r for r in records if not any(w.overlaps(r) for w in others)]
        buckets: dict[Phase, tuple[float, float, list[RequestRecord]]] = {
            "before": (lower, window.start, [r for r in clean if r.end_time < window.start and r.start_time >= lower]),
            "during": (window.start, window.end, [r for r in records if window.overlaps(r)]),
            "after": (window.end, upper, [r for r in clean if r.start_time > window.end and r.start_time < upper]),
        }
        for phase, (start, end, members) in buckets.items():
            summary = summarize(members)
            result.append(
                PhaseStats(
                    window=window.name,
                    phase=phase,
                    start=start,
                    end=end,
                    requests=summary.requests,
                    failures=summary.failures,
                    p50=summary.p50,
                    p95=summary.p95,
                    p99=summary.p99,
                )
            )
    return result
