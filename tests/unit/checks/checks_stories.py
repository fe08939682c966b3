"""Hand-written histories for the checks' unit tests: one line per thing that happened.

Times are seconds since T0 (the experiment's start), so a test reads like the story of
the experiment; every event gets trace ``t-<event>`` unless a test says otherwise.
"""

from __future__ import annotations

from typing import Any

from chaoskit.observe.history import History, Kind
from chaoskit.observe.timeline import Timeline

T0 = 1_800_000_000.0
WORKFLOW = "workflow-service"
ERROR = "document-service: 503"


class Story:
    def __init__(self) -> None:
        self.history = History()

    def add(
        self, t: float, event: str, kind: Kind, where: str = WORKFLOW, trace: str | None = "", **detail: Any
    ) -> Story:
        self.history.append(T0 + t, event, f"t-{event}" if trace == "" else trace, kind, where, detail)
        return self

    def acked(self, t: float, event: str, key: str = "k1", version: int = 1) -> Story:
        self.add(t, event, Kind.PRODUCED, "load", key=key, version=version)
        return self.add(t + 0.01, event, Kind.ACKED, "documents.requested", key=key, version=version)

    def applied(self, t: float, event: str, key: str = "k1", version: int = 1, attempt: int = 1) -> Story:
        self.add(t, event, Kind.ATTEMPTED, attempt=attempt, key=key, version=version)
        self.add(t + 0.05, event, Kind.APPLIED, key=key, version=version, attempt=attempt)
        return self.add(t + 0.06, event, Kind.COMMITTED)

    def delivered(self, t: float, event: str, key: str = "k1", version: int = 1) -> Story:
        """The healthy path: acked, consumed, applied on the first attempt."""
        self.acked(t, event, key, version)
        self.add(t + 0.1, event, Kind.CONSUMED)
        return self.applied(t + 0.11, event, key, version)

    def failed(self, t: float, event: str, attempt: int, error: str = ERROR, where: str = WORKFLOW) -> Story:
        """Attempt ``attempt`` starts at t, fails at t + 0.1 and is parked at t + 0.11."""
        self.add(t, event, Kind.ATTEMPTED, where, attempt=attempt)
        self.add(t + 0.1, event, Kind.FAILED, where, attempt=attempt, error=error)
        return self.add(t + 0.11, event, Kind.DEAD_LETTERED, "documents.dlq", error=error, attempts=attempt)

    def alerted(self, t: float, event: str, attempts: int) -> Story:
        return self.add(t, event, Kind.ALERTED, "ops.alerts", reason="attempts exhausted", attempts=attempts)


def fault(name: str, start: float, end: float | None, target: str = "workflow-service->document-service") -> Timeline:
    """A timeline with one fault window [start, end) in seconds since T0."""
    timeline = Timeline(origin=T0)
    window = timeline.record_inject(name, target, {}, at=T0 + start)
    if end is not None:
        timeline.record_heal(window, at=T0 + end)
    return timeline
