"""SLO: error rate and latency percentiles per phase, before, during and after the faults.

Samples are ``(time, latency_ms, ok)``, one per request or one per second. A sample is
``during`` when some fault window is open, ``before`` when it precedes the first
injection, and ``after`` otherwise (recovery, and the gaps between faults). Each phase
has its own thresholds (a fault may degrade the service but not past its budget);
latency percentiles are over successful samples, errors count against the error rate.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from chaoskit.checks.fate import origin_of
from chaoskit.checks.result import CheckResult, Offender
from chaoskit.errors import ConfigError
from chaoskit.observe.timeline import FaultWindow, Timeline

NAME = "slo"
Phase = Literal["before", "during", "after"]
PHASES: tuple[Phase, ...] = ("before", "during", "after")
Sample = tuple[float, float, bool]


@dataclass(frozen=True)
class Slo:
    """Thresholds for one phase: the error rate (0..1) and latency percentile bounds in ms."""

    max_error_rate: float = 0.01
    max_latency_ms: Mapping[float, float] = field(default_factory=lambda: {99.0: 1000.0})

    def __post_init__(self) -> None:
        if not 0 <= self.max_error_rate <= 1:
            raise ConfigError(
                f"Slo.max_error_rate={self.max_error_rate!r} is not allowed; expected a fraction in [0, 1]"
            )
        for percentile, bound in self.max_latency_ms.items():
            if not 0 < percentile <= 100 or bound < 0:
                raise ConfigError(
                    f"Slo.max_latency_ms has {percentile!r}: {bound!r}; "
                    "expected percentile in (0, 100] → bound in ms ≥ 0"
                )


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (the value p% of samples do not exceed)."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def edges(windows: Sequence[FaultWindow]) -> list[float]:
    """The fault windows merged into disjoint spans, flattened: [start, end, start, end...]."""
    flat: list[float] = []
    for window in sorted(windows, key=lambda w: w.injected_at):
        end = math.inf if window.healed_at is None else window.healed_at
        if flat and window.injected_at <= flat[-1]:
            flat[-1] = max(flat[-1], end)
        else:
            flat += [window.injected_at, end]
    return flat


def phase_of(t: float, spans: list[float]) -> Phase:
    """The phase of time ``t`` given ``edges(windows)``: one bisection per sample."""
    position = bisect_right(spans, t)
    return "before" if position == 0 else "during" if position % 2 else "after"


def check_slo(samples: Iterable[Sample], timeline: Timeline, slo: Slo | Mapping[Phase, Slo]) -> CheckResult:
    """Judge each phase against its ``Slo`` (one for all phases, or one per phase name)."""
    per_phase = {p: slo for p in PHASES} if isinstance(slo, Slo) else dict(slo)
    unknown = set(per_phase) - set(PHASES)
    if unknown:
        raise ConfigError(f"check_slo: phases {sorted(unknown)} are not allowed; expected some of {list(PHASES)}")
    latencies: dict[Phase, list[float]] = {p: [] for p in PHASES}
    errors = dict.fromkeys(PHASES, 0)
    windows = timeline.windows()
    spans = edges(windows)
    for t, latency_ms, ok in samples:
        phase = phase_of(t, spans)
        if ok:
            latencies[phase].append(latency_ms)
        else:
            errors[phase] += 1

    origin = origin_of(None, timeline)
    during = " + ".join(w.label(origin) for w in windows) or None
    offenders: list[Offender] = []
    breached: list[Phase] = []
    figures: list[str] = []
    for phase in PHASES:
        total = len(latencies[phase]) + errors[phase]
        if phase not in per_phase or not total:
            continue
        limits = per_phase[phase]
        found = len(offenders)
        values = sorted(latencies[phase])
        rate = errors[phase] / total
        measured = [f"error rate {rate:.2%} (≤ {limits.max_error_rate:.2%})"]
        window = during if phase == "during" else None
        if rate > limits.max_error_rate:
            observed = f"error rate {rate:.2%} ({errors[phase]} of {total} samples failed)"
            expected = f"{phase} faults: error rate ≤ {limits.max_error_rate:.2%}"
            offenders.append(Offender(None, None, expected, observed, window))
        for p, bound in sorted(limits.max_latency_ms.items()):
            if not values:
                continue
            value = percentile(values, p)
            measured.append(f"p{p:g} {value:.0f}ms (≤ {bound:g}ms)")
            if value > bound:
                observed = f"p{p:g} = {value:.0f}ms over {len(values)} successful samples"
                offenders.append(Offender(None, None, f"{phase} faults: p{p:g} ≤ {bound:g}ms", observed, window))
        figures.append(f"{phase}: {total} samples, " + ", ".join(measured))
        if len(offenders) > found:
            breached.append(phase)

    judged = "; ".join(figures) or "no samples"
    if offenders:
        summary = f"SLO breached {' and '.join(breached)} the faults — {judged}"
    else:
        summary = f"SLO held in every judged phase — {judged}"
    return CheckResult(NAME, not offenders, summary, tuple(offenders))
