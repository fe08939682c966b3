"""Judging one experiment: the checks run over what the recorder saw.

The checks themselves are pure functions (``chaoskit/checks``); this module gathers
their inputs from an experiment (the history scoped to its key namespace, the final
Redis state, the timeline, what load saw acknowledged and how busy the load process was)
and runs the ones that apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from chaoskit.checks import (
    CheckResult,
    LoadFigures,
    Offender,
    Slo,
    check_delivery,
    check_dlq,
    check_load,
    check_lost_writes,
    check_ordering,
    check_retry,
    check_slo,
    check_trace_continuity,
)
from chaoskit.checks.fate import origin_of, window_label
from chaoskit.checks.result import name_ids
from chaoskit.checks.retry import RetryPolicy
from chaoskit.observe.history import History, Kind
from chaoskit.observe.phases import Phase
from chaoskit.observe.timeline import Timeline

if TYPE_CHECKING:
    pass

State = Mapping[str, Mapping[str, Any]]


def scope(history: History, namespace: str) -> History:
    """The observations of events whose entity key starts with ``namespace``."""
    keep = {eid for eid in history.event_ids() if (history.key_of(eid) or "").startswith(namespace)}
    return History(o for o in history if o.event_id in keep)


class AckedRequest(NamedTuple):
    """What the load generator knows of an acknowledged event: its trace and when it was
    sent and acknowledged (unix seconds)."""

    trace_id: str | None
    sent_at: float
    acked_at: float


def check_acks(
    history: History, acked_by_load: Mapping[str, AckedRequest], timeline: Timeline | None = None
) -> CheckResult:
    """Every event the load generator saw acknowledged is in the requests topic: an ack
    the system gave for an event it did not keep is a lost event at the door. An offender
    names its trace and the fault window open while it was in flight (sent to acked)."""
    in_kafka = {history.event_id(n) for n in set(history.select(Kind.ACKED).event)}
    missing = sorted(acked_by_load.keys() - in_kafka, key=lambda eid: acked_by_load[eid].sent_at)
    if not missing:
        return CheckResult(
            "acks",
            True,
            f"all {len(acked_by_load)} events acknowledged to the load generator are in the requests topic",
        )
    origin = origin_of(history, timeline)
    offenders = tuple(
        Offender(
            eid,
            acked_by_load[eid].trace_id,
            "in the requests topic (acknowledged to the client)",
            f"acknowledged at {acked_by_load[eid].acked_at - origin:.2f}s but not in the topic",
            window_label(timeline, acked_by_load[eid].sent_at, acked_by_load[eid].acked_at, origin),
        )
        for eid in missing
    )
    return CheckResult(
        "acks",
        False,
        f"{len(missing)} of {len(acked_by_load)} events acknowledged to the client never reached the requests topic: "
        f"{name_ids(offenders)}",
        offenders,
    )


def judge(
    history: History,
    *,
    final_state: Callable[[], State],
    timeline: Timeline,
    consistency: CheckResult | None = None,
    acked_by_load: Mapping[str, AckedRequest] | None = None,
    samples: Sequence[tuple[float, float, bool]] | None = None,
    retry: RetryPolicy | None = None,
    slo: Slo | Mapping[Phase, Slo] | None = None,
    load_runs: Sequence[LoadFigures] | None = None,
) -> list[CheckResult]:
    """Run every check whose inputs are given. ``consistency`` is the convergence result,
    computed while the recorder was still running; ``load_runs`` are the finished load
    runs. The load check comes first: whether the load generator was the bottleneck is
    what a reader must know before trusting the figures that follow, and a failure
    message then starts with it."""
    results: list[CheckResult] = [check_load(load_runs)] if load_runs is not None else []
    if consistency is not None:
        results.append(consistency)
    state = final_state()
    if acked_by_load is not None:
        results.append(check_acks(history, acked_by_load, timeline))
    results.append(check_delivery(history, state, timeline))
    results.append(check_dlq(history, timeline))
    if retry is not None:
        results.append(
            check_retry(
                history,
                retry.base_s,
                retry.factor,
                retry.cap_s,
                retry.max_attempts,
                tolerance_s=retry.tolerance_s,
                timeline=timeline,
            )
        )
    results.append(check_ordering(history, timeline))
    results.append(check_lost_writes(history, timeline))
    results.append(check_trace_continuity(history, timeline))
    if slo is not None and samples is not None:
        results.append(check_slo(samples, timeline, slo))
    return results
