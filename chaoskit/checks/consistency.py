"""Consistency: after the faults heal, the state converges to the expected state in time.

The expected state comes from the state verifier (rebuilt from the event log); the
observed state is read from Redis. ``check_convergence`` judges a sequence of timed
snapshots (pure, unit-testable); ``check_consistency`` takes those snapshots by polling
a live reader and then judges them the same way. Both report the measured convergence
time, and on failure name every key that still differs, with the event that should
have written it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from chaoskit.checks.result import CheckResult, Offender, name_ids, plural
from chaoskit.errors import ConfigError
from chaoskit.observe.redis_state import State
from chaoskit.observe.timeline import Timeline

NAME = "consistency"
FIELDS = ("version", "content", "event_id")


def differences(expected: State, observed: State, fields: Sequence[str] = FIELDS) -> dict[str, tuple[str, str]]:
    """Per differing key, (expected, observed) as text; values compare as strings (Redis)."""
    diffs: dict[str, tuple[str, str]] = {}
    for key, doc in expected.items():
        actual = observed.get(key)
        wanted = {f: str(doc[f]) for f in fields if f in doc}
        if actual is None:
            diffs[key] = (_show(key, wanted), f"doc:{key} missing")
            continue
        got = {f: str(actual[f]) if f in actual else "<absent>" for f in wanted}
        if got != wanted:
            diffs[key] = (_show(key, wanted), _show(key, got))
    for key in observed.keys() - expected.keys():
        diffs[key] = (f"no doc:{key}", _show(key, {f: str(observed[key][f]) for f in fields if f in observed[key]}))
    return diffs


def check_convergence(
    expected_state: State,
    snapshots: Sequence[tuple[float, State]],
    bound_s: float,
    since: float,
    timeline: Timeline | None = None,
    fields: Sequence[str] = FIELDS,
) -> CheckResult:
    """Converged if a snapshot taken within ``bound_s`` of ``since`` (the heal) equals the expected state."""
    after = _after_faults(timeline, since)
    within = [(t, state) for t, state in snapshots if t - since <= bound_s]
    for taken_at, state in within:
        if not differences(expected_state, state, fields):
            took = max(0.0, taken_at - since)
            summary = (
                f"state converged to the expected {plural(len(expected_state), 'key')} in {took:.2f}s "
                f"(bound {bound_s:g}s{after})"
            )
            return CheckResult(NAME, True, summary, ())
    if not within:
        first = f"the first at {snapshots[0][0] - since:.2f}s" if snapshots else "none at all"
        return CheckResult(NAME, False, f"no state snapshot within the bound of {bound_s:g}s{after} ({first})", ())
    taken_at, last = within[-1]
    offenders = []
    for key, (expected, observed) in sorted(differences(expected_state, last, fields).items()):
        doc = expected_state.get(key) or last.get(key) or {}
        event_id = str(doc["event_id"]) if doc.get("event_id") is not None else None
        trace_id = str(doc["trace_id"]) if doc.get("trace_id") is not None else None
        offenders.append(Offender(event_id, trace_id, expected, f"{observed} at {taken_at - since:.2f}s", None))
    late = next((t for t, state in snapshots[len(within) :] if not differences(expected_state, state, fields)), None)
    outcome = f"converged only at {late - since:.2f}s" if late is not None else "never converged"
    summary = (
        f"state did not converge within {bound_s:g}s{after} ({outcome}): {len(offenders)} of "
        f"{len(expected_state)} keys differ in the last snapshot in bound, at {taken_at - since:.2f}s "
        f"({name_ids(offenders) or 'unexpected keys only'}); {plural(len(snapshots), 'snapshot')} taken"
    )
    return CheckResult(NAME, False, summary, tuple(offenders))


def check_consistency(
    expected_state: State,
    observe_state: Callable[[], State],
    bound_s: float,
    poll_s: float,
    since: float | None = None,
    timeline: Timeline | None = None,
    fields: Sequence[str] = FIELDS,
) -> CheckResult:
    """Poll ``observe_state`` every ``poll_s`` until it matches or ``bound_s`` has passed.

    ``since`` is when the clock starts (the heal, unix seconds); it defaults to now.
    """
    if bound_s <= 0 or poll_s <= 0:
        raise ConfigError(f"check_consistency: bound_s={bound_s!r} and poll_s={poll_s!r} must both be seconds > 0")
    start = time.time() if since is None else since
    snapshots: list[tuple[float, State]] = []
    while True:
        snapshots.append((time.time(), observe_state()))
        if not differences(expected_state, snapshots[-1][1], fields) or time.time() - start > bound_s:
            break
        time.sleep(poll_s)
    return check_convergence(expected_state, snapshots, bound_s, start, timeline, fields)


def _show(key: str, fields: Mapping[str, str]) -> str:
    return f"doc:{key} " + " ".join(f"{f}={v}" for f, v in fields.items())


def _after_faults(timeline: Timeline | None, since: float) -> str:
    """``, measured from the heal of "x" [12.3s–17.9s]`` when a fault healed by ``since``."""
    if timeline is None or timeline.origin is None:
        return ""
    healed = [w for w in timeline.windows() if w.healed_at is not None and w.healed_at <= since + 1e-9]
    if not healed:
        return ""
    last = max(healed, key=lambda w: w.healed_at or 0.0)
    return f", measured from the heal of {last.label(timeline.origin)}"
