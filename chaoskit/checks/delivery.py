"""Delivery: every event the broker acknowledged ends handled, exactly once.

Handled means one of: applied (one ``applied`` observation with a visible effect), a
no-op the service reported (``applied: false``, a duplicate or a stale version; whether
that was right is the consistency check's question), or parked in the DLQ with an
alert raised for operations. An acked event with none of these is lost; an event with
two effects was applied twice. Given the final state, each key's last applied version
must still be there: an effect that vanished (say, Redis lost it) is lost too.
"""

from __future__ import annotations

import operator
from collections import Counter
from itertools import compress

from chaoskit.checks.fate import describe, effect_rows, event_window, origin_of, version_of, window_label
from chaoskit.checks.result import CheckResult, Offender, name_ids, plural
from chaoskit.observe.history import Columns, History, Kind, is_effect
from chaoskit.observe.redis_state import State
from chaoskit.observe.timeline import Timeline

NAME = "delivery"
HANDLED = "applied once, or parked in the DLQ with an alert"


def check_delivery(history: History, final_state: State | None = None, timeline: Timeline | None = None) -> CheckResult:
    """Judge the fate of every acked event; ``final_state`` maps entity key → Redis doc fields."""
    acked = history.select(Kind.ACKED)
    applied = history.select(Kind.APPLIED)
    acked_set = set(acked.event)
    effect = effect_rows(applied)
    effect_events = list(compress(applied.event, effect))
    effects = set(effect_events)
    noops = set(compress(applied.event, map(operator.not_, effect))) - effects
    parked = set(history.select(Kind.DEAD_LETTERED).event)
    alerted = set(history.select(Kind.ALERTED).event)

    unhandled_set = acked_set - effects - noops - (parked & alerted)
    times = Counter(effect_events) if len(effects) < len(effect_events) else Counter()
    name = history.event_id
    unhandled = [name(n) for n in dict.fromkeys(acked.event) if n in unhandled_set] if unhandled_set else []
    twice = {name(n): count for n, count in times.items() if count > 1}
    parked_ids = {name(n) for n in parked & unhandled_set}
    vanished = _vanished_effects(history, applied, effect, final_state) if final_state is not None else {}
    suspects = unhandled + sorted(twice) + sorted(set(vanished) - set(unhandled) - twice.keys())
    unhandled_ids = set(unhandled)
    paths = history.for_events(suspects)
    origin = origin_of(history, timeline)
    span = history.span()
    offenders: list[Offender] = []
    for event_id in suspects:
        observations = paths[event_id]
        trace = next((o.trace_id for o in observations if o.trace_id), None)
        path = describe(observations, origin)
        window = event_window(timeline, observations, origin)
        if event_id in unhandled_ids and observations and span is not None:
            # a lost event was waiting for its fate until the record ended: a fault that
            # struck after its last observation (a kill between commit and apply) counts
            window = window_label(timeline, observations[0].time, span[1], origin)
        if event_id in unhandled_ids:
            why = "parked in the DLQ but no alert" if event_id in parked_ids else "never applied"
            offenders.append(Offender(event_id, trace, HANDLED, f"{path}; {why}", window))
        elif event_id in twice:
            at = [o.time for o in observations if o.kind is Kind.APPLIED and is_effect(o.detail)]
            when = ", ".join(f"{t - origin:.2f}s" for t in at)
            observed = f"applied with effect {twice[event_id]} times (at {when}): {path}"
            offenders.append(Offender(event_id, trace, "applied once", observed, window))
        else:
            expected, observed = vanished[event_id]
            offenders.append(Offender(event_id, trace, expected, f"{observed}; path: {path}", window))

    lost = [o for o in offenders if o.event_id in unhandled_ids]
    doubled = [o for o in offenders if o.event_id in twice]
    gone = [o for o in offenders if o.event_id in vanished.keys() - unhandled_ids - twice.keys()]
    parts = [
        f"lost {len(lost)} of {len(acked_set)} acked events" + (f" ({name_ids(lost)})" if lost else ""),
        f"{len(doubled)} applied twice" + (f" ({name_ids(doubled)})" if doubled else ""),
    ]
    if final_state is not None:
        missing = f"{plural(len(gone), 'effect')} missing from the final state"
        parts.append(missing + (f" ({name_ids(gone)})" if gone else ""))
    tally = (
        f"{len(acked_set) - len(unhandled)} of {len(acked_set)} acked events handled: "
        f"{len(acked_set & effects)} applied, {len(acked_set & noops)} no-op (duplicate or stale), "
        f"{len((acked_set & parked & alerted) - effects - noops)} parked with an alert"
    )
    if final_state is not None and not gone:
        tally += f"; the final state holds every applied version ({plural(len(final_state), 'key')})"
    unacked = len(effects - acked_set)
    if unacked:
        tally += f"; {plural(unacked, 'applied event')} never seen acked (recorder started late?)"
    summary = "; ".join(parts) + " — " + tally if offenders else tally + "; none lost, none applied twice"
    return CheckResult(NAME, not offenders, summary, tuple(offenders))


def _vanished_effects(
    history: History, applied: Columns, effect: list[bool], final_state: State
) -> dict[str, tuple[str, str]]:
    """Per key, the event of the last effect if the final state lacks its version.

    The last write per key must survive; whether versions ever went backwards on the
    way is the ordering check's question, so it is not reported twice.
    """
    keys = applied.field("key")
    if None in keys:  # the key was recorded on another observation of the event
        keys = [history.key_of(e) if k is None else k for k, e in zip(keys, applied.event_id)]
    last = dict(zip(compress(keys, effect), compress(range(len(keys)), effect)))  # key -> row; later rows win
    last.pop(None, None)
    versions = applied.field("version")
    vanished: dict[str, tuple[str, str]] = {}
    for key, row in last.items():
        shown = versions[row]
        version = version_of(shown)
        if version is None:
            continue
        doc = final_state.get(str(key))
        held = version_of(doc.get("version")) if doc else None
        if held is None or held < version:
            expected = f"doc:{key} at version ≥ {shown} (this event's effect, the last on its key)"
            held_text = f"at version {doc.get('version')}" if doc else "missing from the final state"
            observed = f"doc:{key} {held_text}"
            vanished[history.event_id(applied.event[row])] = (expected, observed)
    return vanished
