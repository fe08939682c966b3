"""DLQ: the dead-letter queue holds exactly the events whose processing failed.

Every event with a ``failed`` observation must be parked (``dead-lettered``), and every
DLQ entry must belong to an event that failed and carry what operations need to act on
it: the cause (``error``), the attempt count (a positive integer, no more than the
failures observed) and the event's own trace id. An entry for an event that never
failed is unrelated and breaks the check too.
"""

from __future__ import annotations

from collections import Counter
from itertools import compress
from typing import Any

from chaoskit.checks.fate import describe, event_window, origin_of, window_label
from chaoskit.checks.result import CheckResult, Offender, name_ids, plural
from chaoskit.observe.history import NO_TRACE, History, Kind
from chaoskit.observe.timeline import Timeline

NAME = "dlq"
ENTRY = "a failed event, with error, attempts and its trace id"
PARKED = "parked in the DLQ with its error, attempt count and trace id"


def check_dlq(history: History, timeline: Timeline | None = None) -> CheckResult:
    failed = history.select(Kind.FAILED)
    parked = history.select(Kind.DEAD_LETTERED)
    failures = Counter(failed.event)
    parked_set = set(parked.event)
    traces = _own_traces(history, parked_set)
    problems: dict[int, list[tuple[float | None, str, str]]] = {}  # event number -> (entry time, expected, observed)
    entries = zip(parked.time, parked.event, parked.trace, parked.field("error"), parked.field("attempts"))
    for at, event, trace, error, attempts in entries:
        faults = _entry_faults(history, error, attempts, trace, traces[event], failures[event])
        if faults:
            expected = ENTRY if failures[event] else "no DLQ entry (the event never failed)"
            problems.setdefault(event, []).append((at, expected, "; ".join(faults)))
    for event in failures.keys() - parked_set:
        problems[event] = [(None, PARKED, "never dead-lettered")]
    named = {history.event_id(n): found for n, found in problems.items()}

    paths = history.for_events(named)
    origin = origin_of(history, timeline)
    offenders = []
    for event_id, found in sorted(named.items(), key=lambda item: paths[item[0]][0].time if paths[item[0]] else 0.0):
        observations = paths[event_id]
        path = describe(observations, origin)
        trace_id = next((o.trace_id for o in observations if o.trace_id and o.kind is not Kind.DEAD_LETTERED), None)
        for entered, expected, fault in found:
            if entered is None:
                window = event_window(timeline, observations, origin)
                offenders.append(Offender(event_id, trace_id, expected, f"{path}; {fault}", window))
            else:
                observed = f"DLQ entry at {entered - origin:.2f}s {fault}; path: {path}"
                window = window_label(timeline, entered, entered, origin)
                offenders.append(Offender(event_id, trace_id, expected, observed, window))

    count = len(parked.time)
    if offenders:
        summary = (
            f"DLQ contract broken by {plural(len(problems), 'event')} ({name_ids(offenders)}); "
            f"{plural(len(failures), 'event')} failed, {plural(len(parked_set), 'event')} in the DLQ "
            f"({plural(count, 'entry', 'entries')})"
        )
    else:
        summary = (
            f"the DLQ holds exactly the {plural(len(failures), 'failed event')} ({plural(count, 'entry', 'entries')}), "
            "each with error, attempts and trace id"
        )
    return CheckResult(NAME, not offenders, summary, tuple(offenders))


def _own_traces(history: History, events: set[int]) -> dict[int, int]:
    """Each event's own trace number: the one it was acked with, else its first one."""
    acked = history.select(Kind.ACKED)
    traces: dict[int, int] = {}
    for event, trace in compress(zip(acked.event, acked.trace), map(events.__contains__, acked.event)):
        traces.setdefault(event, trace)
    traces.update((event, history.first_trace(event)) for event in events - traces.keys())
    return traces


def _entry_faults(
    history: History, error: Any, attempts: Any, entry_trace: int, trace: int, failures: int
) -> list[str]:
    """What is wrong with one DLQ entry, as short phrases (empty if nothing)."""
    faults: list[str] = []
    if not failures:
        faults.append("for an event with no failed processing")
    if not str(error or "").strip():
        faults.append("has no error (cause)")
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
        faults.append(f"has no valid attempt count (attempts={attempts!r})")
    elif failures and attempts > failures:
        faults.append(f"claims {attempts} attempts but {failures} failures were observed")
    if entry_trace == NO_TRACE:
        faults.append("has no trace id")
    elif trace != NO_TRACE and entry_trace != trace:
        faults.append(f"carries trace {history.trace_id(entry_trace)}, not the event's trace {history.trace_id(trace)}")
    return faults
