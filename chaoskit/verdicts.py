"""Judging one experiment: the checks run over what the recorder saw.

The checks themselves are pure functions (``chaoskit/checks``); this module gathers
their inputs from an experiment (the history scoped to its key namespace, the final
Redis state, the timeline, what load saw acknowledged and how busy the load process was)
and runs the ones that apply.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
from chaoskit.checks.consistency import check_convergence, differences
from chaoskit.checks.fate import origin_of, window_label
from chaoskit.checks.result import name_ids
from chaoskit.errors import ConfigError
from chaoskit.observe.history import History, Kind
from chaoskit.observe.phases import Phase
from chaoskit.observe.records import Record, Topics, UnparseableRecord, observation_from_record
from chaoskit.observe.timeline import Timeline
from chaoskit.runtime.health import DeadlineExceeded, wait_for

if TYPE_CHECKING:
    from chaoskit.experiment import Experiment

State = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class RetryPolicy:
    """The redriver's backoff as configured, which the retry check holds it to."""

    base_s: float
    factor: float
    cap_s: float
    max_attempts: int
    tolerance_s: float = 0.25

    @classmethod
    def from_env(cls, env: Mapping[str, str], tolerance_s: float = 0.25) -> RetryPolicy:
        """From a service's ``BACKOFF_BASE_S``, ``BACKOFF_FACTOR``, ``BACKOFF_CAP_S``, ``MAX_ATTEMPTS``."""
        try:
            return cls(
                base_s=float(env["BACKOFF_BASE_S"]),
                factor=float(env["BACKOFF_FACTOR"]),
                cap_s=float(env["BACKOFF_CAP_S"]),
                max_attempts=int(env["MAX_ATTEMPTS"]),
                tolerance_s=tolerance_s,
            )
        except KeyError as err:
            raise ConfigError(f"retry policy: the service's environment has no {err.args[0]}") from None
        except ValueError as err:
            raise ConfigError(f"retry policy: {err}") from None


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


def settle(experiment: Experiment, expected_state: Callable[[], State], bound_s: float) -> CheckResult:
    """Wait (at most ``bound_s``) until every event of the experiment is decided and its state
    matches the verifier's, and return the consistency verdict over the snapshots taken meanwhile.

    Call it after the load and the faults, with the recorder still running (before
    ``experiment.stop_recording()`` or ``verify()``): the record is complete only once the
    system has settled. Matching state alone is not settled: an older
    version parked in the DLQ is still to be redriven (and applied as a no-op) after a newer
    one already shows. ``expected_state`` is read again at every poll, narrowed to the
    experiment's keys, because an event alerted meanwhile leaves it.
    """
    since = time.time()
    snapshots: list[tuple[float, State]] = []
    expected: dict[str, Mapping[str, Any]] = {}

    def settled() -> bool:
        nonlocal expected
        expected = {key: doc for key, doc in expected_state().items() if key.startswith(experiment.namespace)}
        snapshots.append((time.time(), experiment.final_state()))
        return not differences(expected, snapshots[-1][1]) and not _undecided(experiment)

    # past the bound, the verdict says what did not converge; the other checks name the undecided events
    with contextlib.suppress(DeadlineExceeded):
        wait_for(settled, bound_s, "the events decided and the state converged", interval_s=0.5)
    return check_convergence(expected, snapshots, bound_s, since, experiment.timeline)


def _undecided(experiment: Experiment) -> set[str]:
    """Events of the experiment in the requests topic with neither a processed record (applied
    or a no-op) nor an alert yet. Reads the topics from their start: experiment-sized."""
    roles = experiment.topics
    topics = Topics(requests=roles["requests"], processed=roles["processed"], dlq=roles["dlq"], alerts=roles["alerts"])

    def observed(topic: str) -> list[Any]:
        found = []
        for message in experiment.kafka.read_all(topic):
            try:
                found.append(observation_from_record(Record.from_message(message), topics))
            except UnparseableRecord:
                continue  # not a record of this system's contract; the recorder counts those
        return found

    mine = experiment.namespace
    requested = {o.event_id for o in observed(topics.requests) if str(o.detail.get("key", "")).startswith(mine)}
    if not requested:
        return set()
    decided = {o.event_id for topic in (topics.processed, topics.alerts) for o in observed(topic)}
    return requested - decided
