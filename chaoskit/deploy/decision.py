"""The decision rule: promote, hold or roll back a new version, from figures alone.

It is a pure function of what was measured over the window (per-instance ``/metrics``
deltas and health probes), so it can be unit-tested on recorded figures and its
boundaries are exact: a rate *equal* to its limit passes, only a rate above it rolls
back. A bad canary rolls back as soon as it has handled ``min_events`` (no need to wait
out the window while it loses events); a good one is promoted only once the whole
window has passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from chaoskit.deploy.policy import DeployPolicy


class Action(StrEnum):
    PROMOTE = "promote"
    HOLD = "hold"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class WindowStats:
    """What one side (the canary, or all stable instances together) did in the window.

    ``events`` is how many events it consumed; ``failed`` how many failed processing;
    ``dead_lettered`` how many it sent to the DLQ; ``health_failures`` how many of its
    /health probes failed; ``elapsed_s`` how long the window has run.
    """

    events: int = 0
    failed: int = 0
    dead_lettered: int = 0
    health_failures: int = 0
    elapsed_s: float = 0.0

    @property
    def error_rate(self) -> float:
        return self.failed / self.events if self.events else 0.0

    @property
    def dlq_rate(self) -> float:
        return self.dead_lettered / self.events if self.events else 0.0


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    figures: dict[str, float | int] = field(default_factory=dict)


def figures_of(canary: WindowStats, stable: WindowStats) -> dict[str, float | int]:
    """The numbers every decision carries (logged, put on the timeline, sent with alerts)."""
    return {
        "elapsed_s": round(canary.elapsed_s, 3),
        "canary_events": canary.events,
        "canary_failed": canary.failed,
        "canary_dead_lettered": canary.dead_lettered,
        "canary_error_rate": round(canary.error_rate, 4),
        "canary_dlq_rate": round(canary.dlq_rate, 4),
        "canary_health_failures": canary.health_failures,
        "stable_events": stable.events,
        "stable_error_rate": round(stable.error_rate, 4),
        "error_rate_delta": round(canary.error_rate - stable.error_rate, 4),
    }


def decide(canary: WindowStats, stable: WindowStats, policy: DeployPolicy) -> Decision:
    """Judge the canary against the stable version under ``policy``."""
    figures = figures_of(canary, stable)
    delta = canary.error_rate - stable.error_rate
    judged = canary.events >= policy.min_events
    if canary.health_failures > policy.max_health_failures:
        return Decision(
            Action.ROLLBACK,
            f"rollback: canary failed {canary.health_failures} health checks (max {policy.max_health_failures})",
            figures,
        )
    if judged and delta > policy.max_error_rate_delta:
        return Decision(
            Action.ROLLBACK,
            f"rollback: canary error rate {_pct(canary.error_rate)} vs stable {_pct(stable.error_rate)} over "
            f"{canary.events} events (+{_pct(delta)} > max +{_pct(policy.max_error_rate_delta)})",
            figures,
        )
    if judged and canary.dlq_rate > policy.max_dlq_rate:
        return Decision(
            Action.ROLLBACK,
            f"rollback: canary DLQ rate {_pct(canary.dlq_rate)} over {canary.events} events "
            f"(> max {_pct(policy.max_dlq_rate)})",
            figures,
        )
    if not judged:
        if canary.elapsed_s >= policy.max_wait_s:
            return Decision(
                Action.ROLLBACK,
                f"rollback: canary handled only {canary.events} events in {canary.elapsed_s:.1f} s "
                f"(min {policy.min_events} by {policy.max_wait_s:g} s); not enough evidence to promote",
                figures,
            )
        return Decision(Action.HOLD, f"hold: {canary.events} of {policy.min_events} events needed", figures)
    if canary.elapsed_s < policy.window_s:
        return Decision(Action.HOLD, f"hold: watched {canary.elapsed_s:.1f} s of {policy.window_s:g} s", figures)
    return Decision(
        Action.PROMOTE,
        f"promote: canary error rate {_pct(canary.error_rate)} vs stable {_pct(stable.error_rate)}, "
        f"DLQ rate {_pct(canary.dlq_rate)} over {canary.events} events in {canary.elapsed_s:.1f} s",
        figures,
    )


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"
