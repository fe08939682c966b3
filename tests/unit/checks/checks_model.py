"""A correct model of the reference system, as a Hypothesis strategy of histories.

Each drawn event is produced, acked and consumed; its attempts fail a drawn number of
times, each failure parked in the DLQ (the redriver re-parks with attempts + 1) and
retried after at least its backoff; the last allowed failure raises one alert instead.
A success is applied if its version is newer than the key's stored one, else it is a
stale no-op, exactly as the workflow service's per-key version rule decides. So every
history drawn here must pass every check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checks_stories import T0
from hypothesis import strategies as st

from chaoskit.checks.retry import backoff_s
from chaoskit.observe.history import History, Kind, Observation
from chaoskit.observe.timeline import Timeline

BASE_S, FACTOR, CAP_S, MAX_ATTEMPTS, TOLERANCE_S = 0.2, 2.0, 1.0, 3, 0.05
ERROR = "document-service: 503"


@dataclass(frozen=True)
class Plan:
    """What happens to one event: its key, when it is produced, how often it fails."""

    key: int
    gap_s: float
    failures: int  # MAX_ATTEMPTS means every attempt fails
    extra_waits_s: tuple[float, ...]  # waited beyond the backoff before each retry


@dataclass
class Model:
    observations: list[Observation]
    final_state: dict[str, dict[str, Any]]
    samples: list[tuple[float, float, bool]]
    timeline: Timeline
    end: float

    def history(self) -> History:
        return History(self.observations)


plans = st.lists(
    st.builds(
        Plan,
        key=st.integers(0, 3),
        gap_s=st.floats(0.0, 0.5),
        failures=st.integers(0, MAX_ATTEMPTS),
        extra_waits_s=st.tuples(*[st.floats(0.0, 0.3)] * MAX_ATTEMPTS),
    ),
    min_size=1,
    max_size=25,
)


def build(drawn: list[Plan], fault_at: float) -> Model:
    observations: list[Observation] = []
    samples: list[tuple[float, float, bool]] = []
    successes: list[tuple[float, int, str, int]] = []  # (time, order, key, version)
    versions: dict[str, int] = {}
    t = T0
    for n, plan in enumerate(drawn):
        event, trace, key = f"e{n}", f"t{n}", f"k{plan.key}"
        version = versions[key] = versions.get(key, 0) + 1
        t += plan.gap_s

        def see(at: float, kind: Kind, where: str, **detail: Any) -> None:
            observations.append(Observation(at, event, trace, kind, where, detail))

        see(t, Kind.PRODUCED, "load", key=key, version=version)
        see(t + 0.005, Kind.ACKED, "documents.requested", key=key, version=version, partition=0, offset=n)
        see(t + 0.01, Kind.CONSUMED, "workflow-service")
        at, where = t + 0.02, "workflow-service"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            see(at, Kind.ATTEMPTED, where, attempt=attempt, key=key, version=version)
            if attempt > plan.failures:
                successes.append((at + 0.01, n, key, version))
                samples.append((t, (at + 0.01 - t) * 1000, True))
                break
            failed_at = at + 0.01
            see(failed_at, Kind.FAILED, where, attempt=attempt, error=ERROR, failed_at=failed_at)
            if attempt == MAX_ATTEMPTS:
                reason = f"attempts exhausted: {ERROR}"
                see(failed_at + 0.002, Kind.ALERTED, "ops.alerts", reason=reason, attempts=attempt)
                samples.append((t, (failed_at - t) * 1000, False))
                break
            see(failed_at + 0.001, Kind.DEAD_LETTERED, "documents.dlq", error=ERROR, attempts=attempt, key=key)
            at = failed_at + backoff_s(attempt, BASE_S, FACTOR, CAP_S) + plan.extra_waits_s[attempt - 1]
            where = "redriver"
            see(at - 0.001, Kind.REDRIVEN, where, attempt=attempt + 1)

    final: dict[str, dict[str, Any]] = {}
    stored: dict[str, int] = {}
    for at, n, key, version in sorted(successes):
        effect = version > stored.get(key, 0)
        if effect:
            stored[key] = version
            final[key] = {"version": str(version), "content": f"c{n}", "event_id": f"e{n}", "trace_id": f"t{n}"}
        detail = {"key": key, "version": version, **({} if effect else {"applied": False, "outcome": "stale"})}
        observations.append(Observation(at, f"e{n}", f"t{n}", Kind.APPLIED, "workflow-service", detail))
        observations.append(Observation(at + 0.001, f"e{n}", f"t{n}", Kind.COMMITTED, "workflow-service", {}))

    end = max(o.time for o in observations)
    timeline = Timeline(origin=T0)
    link = "workflow-service->document-service"
    window = timeline.record_inject(f"down {link}", link, {}, at=T0 + fault_at)
    timeline.record_heal(window, at=T0 + fault_at + 1.0)
    return Model(observations, final, samples, timeline, end)


models = st.builds(build, plans, st.floats(0.0, 5.0))
