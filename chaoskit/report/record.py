"""The plain record of one experiment that the report is drawn from.

It is deliberately a dataclass of built-in types (no live clients, no History object):
the experiment fixture fills it at the end of a run from whatever it measured, and the
report code can be unit-tested on hand-written records without any server.

All times are unix epoch seconds (``time.time()``), the clock the services' JSON logs,
the History and the timeline already use, so they line up on one axis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, NamedTuple


class CheckOutcome(NamedTuple):
    """One verdict: the check's name, whether it held, its one-line summary with figures,
    the explanation (offending events, expected vs observed fate) when it did not, and
    whether it decided at all (an unknown is neither a pass nor a fail)."""

    name: str
    ok: bool
    summary: str
    explanation: str = ""
    decided: bool = True


@dataclass
class ExperimentRecord:
    """What happened during one experiment.

    ``timeline_windows``: one dict per fault window,
    ``{"name": "latency", "target": "workflow-service->kafka", "params": {...},
    "injected_at": t, "healed_at": t | None}`` (``None``: still injected at the end).

    ``seconds``: Locust's per-second statistics,
    ``{"time", "requests", "failures", "rps", "p50", "p95", "p99", ...}`` (latencies in ms;
    None where a second had no successful request), e.g. ``asdict(SecondStats)``.

    ``phases``: Locust statistics per phase (``"baseline"``, ``"fault"``, ``"recovery"``...),
    each a flat dict of figures.

    ``checks``: ``(name, ok, summary, explanation)`` per check, in the order they ran.

    ``meta``: the ``chaos`` marker's keyword arguments (``Experiment.meta``); a marker
    that names a feature or story wins over the fault targets and kinds the report would
    otherwise label the experiment with.
    """

    name: str
    started_at: float
    ended_at: float
    timeline_windows: list[dict[str, Any]] = field(default_factory=list)
    seconds: list[dict[str, Any]] = field(default_factory=list)
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: list[CheckOutcome | tuple[str, bool, str, str] | tuple[str, bool, str, str, bool]] = field(
        default_factory=list
    )
    history_path: Path | None = None
    offenders_csv_rows: list[dict[str, Any]] = field(default_factory=list)
    service_logs: dict[str, Path] = field(default_factory=dict)
    dlq_sizes: list[tuple[float, int]] = field(default_factory=list)
    convergence: list[tuple[float, float]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def check_outcomes(self) -> list[CheckOutcome]:
        """``checks`` as CheckOutcome, whether given as tuples or already typed."""
        return [CheckOutcome(*check) for check in self.checks]

    def fault_targets(self) -> list[str]:
        """The distinct components/links faulted, in order of first injection."""
        return list(dict.fromkeys(str(w["target"]) for w in self.timeline_windows))

    def fault_kinds(self) -> list[str]:
        """The distinct fault kinds injected, in order of first injection."""
        return list(dict.fromkeys(str(w["name"]) for w in self.timeline_windows))

    @classmethod
    def from_run(
        cls,
        name: str,
        started_at: float,
        ended_at: float,
        *,
        timeline: Any = None,
        results: Iterable[Any] = (),
        seconds: Iterable[Any] = (),
        phases: Iterable[Any] = (),
        history_path: Path | None = None,
        service_logs: Mapping[str, Path] | None = None,
        dlq_sizes: Iterable[tuple[float, int]] = (),
        convergence: Iterable[tuple[float, float]] = (),
        meta: Mapping[str, Any] | None = None,
    ) -> ExperimentRecord:
        """A record from the objects an experiment holds, so the fixture needs one call:
        ``timeline`` (``.windows()`` of FaultWindow), ``results`` (CheckResults: name, ok,
        summary, ``explain()``, offenders), ``seconds`` (SecondStats or dicts) and
        ``phases`` (PhaseStats, keyed ``"<window> <phase>"``, or dicts with a ``phase``)."""
        results = list(results)
        return cls(
            name=name,
            started_at=started_at,
            ended_at=ended_at,
            timeline_windows=[_plain(w) for w in timeline.windows()] if timeline is not None else [],
            seconds=[_plain(s) for s in seconds],
            phases={_phase_key(p): p for p in map(_plain, phases)},
            checks=[CheckOutcome(r.name, r.ok, r.summary, r.explain(), r.decided) for r in results],
            history_path=history_path,
            offenders_csv_rows=[{"check": r.name, **_plain(o)} for r in results for o in r.offenders],
            service_logs=dict(service_logs or {}),
            dlq_sizes=list(dlq_sizes),
            convergence=list(convergence),
            meta=dict(meta or {}),
        )


def _plain(item: Any) -> dict[str, Any]:
    if is_dataclass(item) and not isinstance(item, type):
        return asdict(item)
    return dict(item)


def _phase_key(stats: Mapping[str, Any]) -> str:
    return " ".join(str(stats[k]) for k in ("window", "phase") if stats.get(k) is not None) or "run"
