"""Ordering: per entity key, applied versions never go backwards.

Walking each key's effects in applied-time order, every applied version must be at
least the highest version applied to that key before it. A lower one means a stale
write won (an old event overwrote a newer one), which is exactly what the per-key
version rule of the workflow service exists to prevent. No-ops (``applied: false``)
change nothing and are not judged here.
"""

from __future__ import annotations

from itertools import compress

from chaoskit.checks.fate import describe, effect_rows, origin_of, versions_of, window_label
from chaoskit.checks.result import CheckResult, Offender, name_ids, plural
from chaoskit.observe.history import History, Kind
from chaoskit.observe.timeline import Timeline

NAME = "ordering"


def check_ordering(history: History, timeline: Timeline | None = None) -> CheckResult:
    applied = history.select(Kind.APPLIED)
    effect = effect_rows(applied)
    rows = compress(zip(range(len(applied)), applied.field("key"), versions_of(applied.field("version"))), effect)
    highest: dict[str, float] = {}
    highest_row: dict[str, int] = {}
    backwards: list[tuple[int, str, int]] = []  # (row, key, row that applied the higher version)
    unversioned = 0
    for row, key, version in rows:
        if key is None:
            key = history.key_of(applied.event_id[row])
        if key is None or version is None:
            unversioned += 1
            continue
        best = highest.get(key)
        if best is None or version >= best:
            highest[key] = version
            highest_row[key] = row
        else:
            backwards.append((row, key, highest_row[key]))

    origin = origin_of(history, timeline)
    versions = applied.field("version")
    paths = history.for_events({applied.event_id[row] for row, _, _ in backwards})
    offenders = []
    for row, key, best in backwards:
        event_id, at = applied.event_id[row], applied.time[row]
        observations = paths[event_id]
        trace = next((o.trace_id for o in observations if o.trace_id), None)
        newer = f"applied by {applied.event_id[best]} at {applied.time[best] - origin:.2f}s"
        expected = f"version ≥ {versions[best]} on key {key} ({newer})"
        observed = f"applied version {versions[row]} at {at - origin:.2f}s: {describe(observations, origin)}"
        offenders.append(Offender(event_id, trace, expected, observed, window_label(timeline, at, at, origin)))

    effects = sum(effect)
    judged = f"{plural(effects - unversioned, 'effect')} on {plural(len(highest), 'key')}"
    skipped = f"; {plural(unversioned, 'effect')} without key or version not judged" if unversioned else ""
    if offenders:
        went = plural(len(offenders), "applied version")
        summary = f"{went} went backwards ({name_ids(offenders)}) among {judged}{skipped}"
    else:
        summary = f"applied versions never went backwards: {judged}{skipped}"
    return CheckResult(NAME, not offenders, summary, tuple(offenders))
