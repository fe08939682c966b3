"""Did the fault provoke what the hypothesis needs? Without it, a pass proves nothing.

A hypothesis such as "applied once across the rebalance" is tested only if an event was
in fact delivered twice; "the DLQ drains" only if something was dead-lettered. An
experiment declares what its fault must provoke (``@pytest.mark.chaos(provokes=...)``);
this check counts it in the History. Short of it, the outcome is **unknown**: the
experiment is inconclusive, never passed.

What can be declared (each counts distinct events, except the deploy counts):

* a History kind: ``failed``, ``dead-lettered``, ``redriven``, ``alerted``, ... (events
  observed with it);
* ``redelivered``: events the system consumed or applied more than once;
* ``held-back``: events acknowledged during a fault window and applied only after it
  healed (the fault really held work back: a partition, a paused consumer);
* ``requests-in-fault`` and ``failed-requests-in-fault``: load requests sent while a
  fault was injected (traffic really met the fault), and those of them that failed;
  ``verify()`` counts them from the load's records;
* counts an experiment measures itself and passes to the ``provoked(...)`` fixture:
  ``lost-keys`` (keys a state loss really removed), ``bad-events`` (events a bad version
  really failed), ``rollback``, ``rebalance``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from chaoskit.checks.result import CheckResult, plural
from chaoskit.observe.history import History, Kind
from chaoskit.observe.timeline import Timeline

NAME = "provoked"
REDELIVERED, HELD_BACK = "redelivered", "held-back"
DERIVED = (REDELIVERED, HELD_BACK)
IN_FAULT, FAILED_IN_FAULT = "requests-in-fault", "failed-requests-in-fault"
MEASURED = (IN_FAULT, FAILED_IN_FAULT, "lost-keys", "bad-events", "rollback", "rebalance")
PROVOCATIONS: tuple[str, ...] = (*(str(kind) for kind in Kind), *DERIVED, *MEASURED)


def normalize(declared: object, where: str) -> dict[str, int]:
    """``provokes=`` as a mapping name -> minimum count: a name, a sequence of names (at
    least one each) or a mapping. Bad input raises ValueError naming the value and the
    allowed names, so the plugin can refuse it at collection."""
    if isinstance(declared, str):
        wanted: dict[object, object] = {declared: 1}
    elif isinstance(declared, Mapping):
        wanted = dict(declared)
    elif isinstance(declared, Sequence):
        wanted = dict.fromkeys(declared, 1)
    else:
        raise ValueError(f"{where}: provokes={declared!r} must be a name, a list of names or a mapping name -> count")
    out: dict[str, int] = {}
    for name, count in wanted.items():
        if name not in PROVOCATIONS:
            raise ValueError(
                f"{where}: provokes {name!r} is not something chaoskit counts; allowed: {', '.join(PROVOCATIONS)}"
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"{where}: provokes[{name!r}] = {count!r} must be a whole number >= 1")
        out[str(name)] = count
    return out


def provoked_counts(history: History, timeline: Timeline | None = None) -> dict[str, int]:
    """Distinct events per History kind, plus ``redelivered`` and ``held-back``."""
    counts = {str(kind): len(set(history.select(kind).event)) for kind in Kind}
    deliveries = Counter(history.select(Kind.CONSUMED).event)
    applied = Counter(history.select(Kind.APPLIED).event)
    counts[REDELIVERED] = len({e for e, n in deliveries.items() if n > 1} | {e for e, n in applied.items() if n > 1})
    counts[HELD_BACK] = _held_back(history, timeline) if timeline is not None else 0
    return counts


def _held_back(history: History, timeline: Timeline) -> int:
    windows = [(w.injected_at, w.healed_at) for w in timeline.windows() if w.healed_at is not None]
    if not windows:
        return 0
    acked = history.select(Kind.ACKED)
    acked_at: dict[int, float] = {}
    for at, event in zip(acked.time, acked.event):
        acked_at.setdefault(event, at)
    applied = history.select(Kind.APPLIED)
    first_applied: dict[int, float] = {}
    for at, event in zip(applied.time, applied.event):
        first_applied.setdefault(event, at)
    return sum(
        1
        for event, at in acked_at.items()
        if event in first_applied and any(start <= at <= end and first_applied[event] >= end for start, end in windows)
    )


def load_counts(samples: Sequence[tuple[float, float, bool]], timeline: Timeline) -> dict[str, int]:
    """``requests-in-fault`` and ``failed-requests-in-fault`` from the load's (start, latency
    ms, ok) records: a request counts when it was sent while a fault was injected."""
    windows = [(w.injected_at, w.healed_at) for w in timeline.windows()]
    inside = [ok for start, _, ok in samples if any(s <= start and (e is None or start <= e) for s, e in windows)]
    return {IN_FAULT: len(inside), FAILED_IN_FAULT: inside.count(False)}


def check_provoked(
    wanted: Mapping[str, int],
    history: History | None = None,
    timeline: Timeline | None = None,
    counted: Mapping[str, int] | None = None,
) -> CheckResult:
    """Pass when every declared provocation reached its minimum; else unknown, naming what
    was missing. ``counted`` holds counts measured outside the History (deploys)."""
    counts = provoked_counts(history, timeline) if history is not None else {}
    counts.update(counted or {})
    seen = ", ".join(f"{counts.get(name, 0)} {name} (needs >= {need})" for name, need in wanted.items())
    short = {name: need for name, need in wanted.items() if counts.get(name, 0) < need}
    if not short:
        return CheckResult(NAME, True, f"the fault provoked what the hypothesis needs: {seen}")
    unmeasured = [name for name in short if name not in counts]
    why = f" ({plural(len(unmeasured), 'count')} never measured: {', '.join(unmeasured)})" if unmeasured else ""
    return CheckResult.unknown(
        NAME,
        f"the fault did not provoke what the hypothesis needs, so nothing was tested: {seen}{why}",
    )
