"""SLO: error rate and latency percentiles per phase, before, during and after the faults.

Samples are ``(time, latency_ms, ok)``, one per request. A sample's phase is the one
``chaoskit.observe.phases`` gives its span ``[time, time + latency]``, as in the load's
phase table: ``during`` when it met some fault window, ``before`` when it ended before
the first injection, ``after`` otherwise (recovery, and the gaps between faults). Each
phase has its own thresholds (a fault may degrade the service but not past its budget);
latency percentiles are over successful samples, errors count against the error rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from chaoskit.checks.fate import origin_of
from chaoskit.checks.result import CheckResult, Offender
from chaoskit.errors import ConfigError
from chaoskit.observe.phases import PHASES, Phase, edges, percentile, phase_of
from chaoskit.observe.timeline import Timeline

NAME = "slo"
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
        for rank, bound in self.max_latency_ms.items():
            if not 0 < rank <= 100 or bound < 0:
                raise ConfigError(
                    f"Slo.max_latency_ms has {rank!r}: {bound!r}; expected percentile in (0, 100] → bound in ms ≥ 0"
                )


def check_slo(samples: Iterable[Sample], timeline: Timeline, slo: Slo | Mapping[Phase, Slo]) -> CheckResult:
    """Judge each phase against its ``Slo`` (one for all phases, or one per phase name)."""
    per_phase = {p: slo for p in PHASES} if isinstance(slo, Slo) else dict(slo)
    unknown = set(per_phase) - set(PHASES)
    if unknown:
        raise ConfigError(f"check_slo: phases {sorted(unknown)} are not allowed; expected some of {list(PHASES)}")
    latencies: dict[Phase, list[float]] = {p: [] for p in PHASES}
    errors = dict.fromkeys(PHASES, 0)
    windows = timeline.windows()
    spans = edges((w.injected_at, w.healed_at) for w in windows)
    for t, latency_ms, ok in samples:
        phase = phase_of(t, t + latency_ms / 1000.0, spans)
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
            value = percentile(values, p / 100)
            assert value is not None  # values is not empty
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
