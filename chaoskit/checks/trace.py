"""Trace continuity: every observation of an event carries the trace it was acknowledged with.

A trace id is how an operator follows one request through the system: from the order
the client placed, through the requests topic, the consumer, the DLQ, the redriver and
the alert an operator is paged with. A hop that drops or replaces it (a redriver that
republishes without the header, a log line written without it) leaves that part of the
story unfindable exactly when it matters, during an incident. So every observation of
an event, on every topic and in every log line, must carry the trace of its ``acked``
observation (the ``produced`` one if the ack carried none). The recorder folds a log
line into the Kafka record of the same step; a folded copy that disagreed on the trace
is kept on the record as ``other_witness``/``other_trace`` and judged here too.

An offender names the hop that lost the trace first: the place and kind of the first
observation without it, and the fault window open then. Events with no trace on their
ack or production cannot be judged; if no event can, the check says so (unknown).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress, repeat

from chaoskit.checks.fate import describe, origin_of, window_label
from chaoskit.checks.result import CheckResult, Offender, name_ids, plural
from chaoskit.observe.history import KINDS, History, Kind, Observation
from chaoskit.observe.recorder import OTHER_TRACE, OTHER_WITNESS
from chaoskit.observe.timeline import Timeline

NAME = "trace"
HOPS_SHOWN = 3


@dataclass(frozen=True)
class _Loss:
    """One observation of an event that does not carry the event's trace."""

    time: float
    where: str
    kind: Kind
    trace_id: str | None

    @property
    def hop(self) -> str:
        return f"{self.where} ({self.kind})"


def check_trace_continuity(history: History, timeline: Timeline | None = None) -> CheckResult:
    """Judge every observation of every event whose acked (or produced) trace is known."""
    expected = _expected_traces(history)
    if not expected:
        events = len(history.event_ids())
        missing = (
            "no events were observed"
            if not events
            else f"none of the {plural(events, 'event')} has a trace id on its acked or produced observation"
        )
        return CheckResult.unknown(NAME, f"{missing}: trace continuity cannot be judged")

    judged_rows = 0
    hops: set[str] = set()
    losses: dict[int, list[_Loss]] = {}  # event number -> its observations without the trace
    for kind in KINDS:
        columns = history.select(kind)
        if not len(columns):
            continue
        wanted = list(map(expected.get, columns.event))
        judged = list(map(operator.is_not, wanted, repeat(None)))
        judged_rows += sum(judged)
        hops.update(compress(columns.where, judged))
        lost = map(operator.and_, judged, map(operator.ne, columns.trace, wanted))
        for row in compress(range(len(columns)), lost):
            loss = _Loss(columns.time[row], columns.where[row], kind, columns.trace_id[row])
            losses.setdefault(columns.event[row], []).append(loss)
        twins, twin_traces = columns.field(OTHER_WITNESS), columns.field(OTHER_TRACE)
        for row in compress(range(len(columns)), map(operator.is_not, twins, repeat(None))):
            event = columns.event[row]
            trace = expected.get(event)
            if trace is not None and twin_traces[row] != history.trace_id(trace):
                loss = _Loss(columns.time[row], twins[row], kind, twin_traces[row])
                losses.setdefault(event, []).append(loss)

    origin = origin_of(history, timeline)
    named = {history.event_id(event): (expected[event], sorted(found, key=_order)) for event, found in losses.items()}
    paths = history.for_events(named)
    offenders = []
    for event_id, (trace, found) in sorted(named.items(), key=lambda item: _order(item[1][1][0])):
        offenders.append(_offender(history, event_id, trace, found, paths[event_id], timeline, origin))

    unjudged = len(history.event_ids()) - len(expected)
    skipped = (
        f"; {plural(unjudged, 'event')} without a trace on its acked or produced observation not judged"
        if unjudged
        else ""
    )
    if offenders:
        first_hops: dict[str, int] = {}
        for found in (found for _, found in named.values()):
            first_hops[found[0].hop] = first_hops.get(found[0].hop, 0) + 1
        where = ", ".join(f"{hop} ×{count}" for hop, count in sorted(first_hops.items(), key=lambda h: -h[1]))
        summary = (
            f"trace lost by {plural(len(offenders), 'event')} of {len(expected)} ({name_ids(offenders)}); "
            f"first lost at {where}{skipped}"
        )
    else:
        summary = (
            f"trace kept across {plural(judged_rows, 'observation')} of {plural(len(expected), 'event')} "
            f"on {plural(len(hops), 'hop')}{skipped}"
        )
    return CheckResult(NAME, not offenders, summary, tuple(offenders))


def _expected_traces(history: History) -> dict[int, int]:
    """Event number -> the trace number it was acked with, else produced with (never "no trace")."""
    expected: dict[int, int] = {}
    for kind in (Kind.PRODUCED, Kind.ACKED):  # the ack's trace overrides the producer's
        columns = history.select(kind)
        traced = list(compress(zip(columns.event, columns.trace), columns.trace))  # trace number 0: none
        expected.update(reversed(traced))  # reversed: an event's first traced row wins
    return expected


def _order(loss: _Loss) -> tuple[float, int]:
    return loss.time, KINDS.index(loss.kind)


def _offender(
    history: History,
    event_id: str,
    trace: int,
    found: Sequence[_Loss],
    path: Sequence[Observation],
    timeline: Timeline | None,
    origin: float,
) -> Offender:
    """The event's offender line: the hop that lost the trace first, what it carried, and where else."""
    first = found[0]
    carried = f"trace {first.trace_id}" if first.trace_id else "no trace"
    hops = list(dict.fromkeys(loss.hop for loss in found))
    also = f"; also at {', '.join(hops[1 : 1 + HOPS_SHOWN])}" if len(hops) > 1 else ""
    more = f" +{len(hops) - 1 - HOPS_SHOWN} more" if len(hops) > 1 + HOPS_SHOWN else ""
    observed = (
        f"lost at {first.hop} at {first.time - origin:.2f}s ({carried}){also}{more}; "
        f"{plural(len(found), 'observation')} without it; path: {describe(path, origin)}"
    )
    expected = f"trace {history.trace_id(trace)} on every observation"
    return Offender(
        event_id, history.trace_id(trace), expected, observed, window_label(timeline, first.time, first.time, origin)
    )
