"""Lost writes behind a no-op: a "stale" version that nothing newer ever superseded.

The services apply each event to Redis with a per-key version and report a no-op
(``applied: false``, outcome ``stale`` or ``duplicate``) when Redis already holds a
newer or equal version. A stale verdict is only true if such a version was ever
written: a stale no-op whose version is above every version written to its key can
only mean its write was lost and reported as harmless, say a Redis write error
swallowed as "stale". The delivery check counts such an event handled (a no-op), and
the final state may still look right once a later event overwrote the key, so this
check asks directly.

Written means applied with effect, or reported ``duplicate`` (Redis holds that very
event: its effect happened even if a kill hid the observation of it). Duplicates are
therefore evidence, not judged; a no-op without an outcome is judged as stale.
"""

from __future__ import annotations

import math
import operator
from itertools import compress, repeat

from chaoskit.checks.fate import describe, effect_rows, origin_of, versions_of, window_label
from chaoskit.checks.result import CheckResult, Offender, name_ids, plural
from chaoskit.observe.history import History, Kind
from chaoskit.observe.timeline import Timeline

NAME = "lost_write"
DUPLICATE = "duplicate"


def check_lost_writes(history: History, timeline: Timeline | None = None) -> CheckResult:
    """Judge every stale no-op ``applied`` observation against the versions written to its key."""
    applied = history.select(Kind.APPLIED)
    effect = effect_rows(applied)
    keys = applied.field("key")
    if None in keys:  # the key was recorded on another observation of the event
        keys = [history.key_of(e) if k is None else k for k, e in zip(keys, applied.event_id)]
    versions = versions_of(applied.field("version"))
    outcomes = applied.field("outcome")
    written = list(map(operator.or_, effect, map(operator.eq, outcomes, repeat(DUPLICATE))))
    highest: dict[str, float] = {}
    for key, version in compress(zip(keys, versions), written):
        if key is not None and version is not None:
            highest[key] = max(version, highest.get(key, version))
    stale_rows = list(compress(range(len(applied)), map(operator.not_, written)))
    judged = [(row, keys[row], version) for row in stale_rows if (version := versions[row]) is not None]
    judged = [(row, key, version) for row, key, version in judged if key is not None]
    lost = [(row, key) for row, key, version in judged if version > highest.get(key, -math.inf)]

    origin = origin_of(history, timeline)
    shown = applied.field("version")
    paths = history.for_events({applied.event_id[row] for row, _ in lost})
    offenders = []
    for row, key in lost:
        event_id, at = applied.event_id[row], applied.time[row]
        observations = paths[event_id]
        trace = next((o.trace_id for o in observations if o.trace_id), None)
        best = highest.get(key)
        held = f"the highest version written to {key} is {best:g}" if best is not None else f"nothing written to {key}"
        outcome = outcomes[row] or "a no-op"
        expected = f"version {shown[row]} written to {key}, or an equal or newer one written there"
        observed = f"reported {outcome} at {at - origin:.2f}s but {held}: {describe(observations, origin)}"
        offenders.append(Offender(event_id, trace, expected, observed, window_label(timeline, at, at, origin)))

    unversioned = len(stale_rows) - len(judged)
    skipped = f"; {plural(unversioned, 'stale no-op')} without key or version not judged" if unversioned else ""
    if offenders:
        summary = (
            f"{plural(len(offenders), 'stale no-op')} above every version written to its key: lost writes "
            f"({name_ids(offenders)}); {plural(len(judged), 'stale no-op')} judged on "
            f"{plural(len(highest), 'key')}{skipped}"
        )
    else:
        summary = (
            f"each of {plural(len(judged), 'stale no-op')} is covered by a version at least as new written to its key "
            f"({plural(len(highest), 'key')} written){skipped}"
        )
    return CheckResult(NAME, not offenders, summary, tuple(offenders))
