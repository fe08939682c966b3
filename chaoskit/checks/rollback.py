"""Rollback: a bad version was rolled back in time, the stable version serves everything
again, and no event was lost or applied twice across the switch.

Three verdicts in one, because a rollback is only good if all three hold:

- **in time**: from the bad version's first bad event (its first ``failed`` or
  ``dead-lettered`` observation, from its own log) to the end of the rollback (the
  moment the group coordinator showed every partition back on stable members) is
  within the bound; the measured time is the headline figure either way;
- **stable serves all**: in the group's assignment read after the rollback, every
  partition is owned by exactly one stable member;
- **nothing lost, nothing doubled**: every acked event was applied or dead-lettered,
  and no event was applied (with an effect) more than once.

A pure function of the History, the assignment and the rollback's end time, so it can
be tested on recorded figures.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection
from itertools import compress
from typing import Protocol

from chaoskit.checks.fate import describe, effect_rows, event_window, origin_of, window_label
from chaoskit.checks.result import CheckResult, Offender, name_ids
from chaoskit.errors import ConfigError
from chaoskit.observe.history import History, Kind
from chaoskit.observe.timeline import Timeline

NAME = "rollback"


class GroupAssignment(Protocol):
    """Who owns which partition of a consumer group, as the check needs it (what
    ``chaoskit.deploy.assignment.Assignment`` offers; declared here so the check stays a
    pure function of data, below the code that reads it from Kafka)."""

    group: str
    topic: str
    state: str

    @property
    def stable(self) -> bool: ...

    def owners(self) -> dict[int, list[str]]: ...


def first_bad_event(history: History, instances: Collection[str]) -> tuple[float, str, str | None] | None:
    """(time, event id, trace id) of the first failed or dead-lettered event seen at ``instances``."""
    first: tuple[float, str, str | None] | None = None
    for kind in (Kind.FAILED, Kind.DEAD_LETTERED):
        columns = history.select(kind)
        for row, where in enumerate(columns.where):
            if where in instances:
                if first is None or columns.time[row] < first[0]:
                    first = (columns.time[row], columns.event_id[row], columns.trace_id[row])
                break  # columns are in time order: the first match is this kind's earliest
    return first


def check_rollback(
    history: History,
    *,
    bad_instances: Collection[str],
    rolled_back_at: float,
    assignment: GroupAssignment,
    stable_members: Collection[str],
    bound_s: float,
    bad_since: float | None = None,
    events: Collection[str] | None = None,
    timeline: Timeline | None = None,
) -> CheckResult:
    """Judge a rollback of ``bad_instances`` that ended at ``rolled_back_at`` (epoch seconds).

    ``bad_since`` overrides when the version turned bad (e.g. the moment it crashed, which
    leaves no failed event); by default it is its first bad event in ``history``.
    ``events`` limits the loss and double-apply verdicts to these event ids (the
    experiment's own); by default every acked event in ``history`` counts.
    """
    if isinstance(bound_s, bool) or not isinstance(bound_s, (int, float)) or not math.isfinite(bound_s) or bound_s <= 0:
        raise ConfigError(f"check_rollback bound_s={bound_s!r} is not allowed; expected seconds > 0")
    if not bad_instances:
        raise ConfigError("check_rollback needs the names of the rolled-back instances (bad_instances); got none")
    origin = origin_of(history, timeline)
    offenders: list[Offender] = []
    names = ", ".join(sorted(bad_instances))

    # -- in time ------------------------------------------------------------------------
    first = first_bad_event(history, bad_instances)
    since = bad_since if bad_since is not None else (first[0] if first else None)
    if since is None:
        took_text = "no bad event to measure from"
        offenders.append(
            Offender(
                None,
                None,
                f"a failed or dead-lettered event logged by {names} (the bad version)",
                "none in the history; pass bad_since= for a version that failed otherwise (e.g. crashed)",
            )
        )
    else:
        took = rolled_back_at - since
        took_text = f"rolled back {took:.2f} s after {'its first bad event' if bad_since is None else 'it turned bad'}"
        if took > bound_s:
            event_id, trace_id = (first[1], first[2]) if first and bad_since is None else (None, None)
            offenders.append(
                Offender(
                    event_id,
                    trace_id,
                    f"rolled back within {bound_s:g} s of the first bad event",
                    f"the rollback ended {took:.2f} s after it",
                    window_label(timeline, since, rolled_back_at, origin),
                )
            )

    # -- stable serves all --------------------------------------------------------------
    stable = set(stable_members)
    stable_names = ", ".join(sorted(stable))
    owners = assignment.owners()
    misplaced = 0
    for partition, owned_by in sorted(owners.items()):
        if len(owned_by) == 1 and owned_by[0] in stable:
            continue
        misplaced += 1
        observed = "unassigned" if not owned_by else f"assigned to {', '.join(owned_by)}"
        expected = f"partition {partition} of {assignment.topic} owned by one stable member ({stable_names})"
        offenders.append(Offender(None, None, expected, f"{observed} (group state {assignment.state})"))
    if not assignment.stable:
        settled = f"group {assignment.group} settled (STABLE)"
        offenders.append(Offender(None, None, settled, f"state {assignment.state}"))
    serving_text = (
        f"{len(owners) - misplaced}/{len(owners)} partitions on stable members "
        f"({', '.join(sorted({o[0] for o in owners.values() if len(o) == 1 and o[0] in stable}))})"
    )

    # -- nothing lost, nothing doubled --------------------------------------------------
    acked = set(history.select(Kind.ACKED).event_id)
    if events is not None:
        acked &= set(events)
    applied = history.select(Kind.APPLIED)
    effect_ids = [e for e in compress(applied.event_id, effect_rows(applied)) if e in acked]
    effects = Counter(effect_ids)
    dead_lettered = set(history.select(Kind.DEAD_LETTERED).event_id) & acked
    lost = acked - set(effects) - dead_lettered
    twice = sorted(e for e, n in effects.items() if n > 1)
    order = {e: i for i, e in enumerate(history.select(Kind.ACKED).event_id)}
    suspects = sorted(lost, key=lambda e: order.get(e, 0)) + twice
    paths = history.for_events(suspects)
    for event_id in suspects:
        path = paths[event_id]
        trace_id = next((o.trace_id for o in path if o.trace_id), None)
        if event_id in lost:
            observed = f"{describe(path, origin)}; never applied nor dead-lettered"
            offenders.append(
                Offender(event_id, trace_id, "applied or dead-lettered", observed, event_window(timeline, path, origin))
            )
        else:
            offenders.append(
                Offender(
                    event_id,
                    trace_id,
                    "applied once",
                    f"applied {effects[event_id]} times: {describe(path, origin)}",
                    event_window(timeline, path, origin),
                )
            )
    only_dlq = len(dead_lettered - set(effects))
    events_text = (
        f"{len(acked)} acked events: {len(effects)} applied, {only_dlq} only dead-lettered, "
        f"{len(lost)} lost{f' ({name_ids([o for o in offenders if o.event_id in lost])})' if lost else ''}, "
        f"{len(twice)} applied twice{f' ({name_ids([o for o in offenders if o.event_id in twice])})' if twice else ''}"
    )
    bound_text = f"bound {bound_s:g} s"
    summary = f"{names}: {took_text} ({bound_text}); {serving_text}; {events_text}"
    return CheckResult(NAME, not offenders, summary, tuple(offenders))


def time_to_rollback(history: History, bad_instances: Collection[str], rolled_back_at: float) -> float | None:
    """The headline figure alone: seconds from the first bad event to the end of the rollback."""
    first = first_bad_event(history, bad_instances)
    return None if first is None else rolled_back_at - first[0]
