"""Watching one new instance until the decision rule says promote or roll back.

The window opens only once the new instance owns a share of the partitions (after the
rebalance), so its rates are measured on events it really handled. The loop needs no
deadline of its own: ``decide`` never holds past ``max(window_s, max_wait_s)``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from chaoskit.deploy.assignment import AssignmentTimeout
from chaoskit.deploy.decision import Action, Decision, decide
from chaoskit.deploy.fleet import REBALANCE_TIMEOUT_S, Fleet, Member
from chaoskit.deploy.metrics import Window
from chaoskit.deploy.policy import DeployPolicy

DEFAULT_INTERVAL_S = 0.5


def judge(
    fleet: Fleet,
    candidate: Member,
    stable: Sequence[Member],
    policy: DeployPolicy,
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
    rebalance_timeout_s: float = REBALANCE_TIMEOUT_S,
) -> Decision:
    """Watch ``candidate`` against ``stable`` under ``policy``; never returns HOLD."""
    try:
        fleet.wait_serving(candidate.name, f"{candidate.name} owning a share of {fleet.topic}", rebalance_timeout_s)
    except AssignmentTimeout as err:
        return Decision(Action.ROLLBACK, f"rollback: {candidate.name} got no partitions ({err})", {})
    window = Window(candidate.endpoint, [m.endpoint for m in stable])
    while True:
        time.sleep(interval_s)  # the sampling period, not a wait for a condition
        canary_stats, stable_stats = window.sample()
        decision = decide(canary_stats, stable_stats, policy)
        if decision.action is not Action.HOLD:
            return decision
