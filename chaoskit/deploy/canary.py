"""Canary deploy: one instance of the new version among the stable ones, judged, then
promoted to the whole fleet or rolled back.

The canary joins the stable members' consumer group and, after the rebalance, owns a
share of the partitions (the requests topic has 6), so it handles real traffic while
the stable version handles the rest. Its error and DLQ rates over the window are compared
with the stable version's (``decision.decide``). Promotion starts the rest of the new
version and retires the old members; rollback stops the canary, and the stable members
take its partitions back. Every decision is journaled; a rollback raises an alert.
"""

from __future__ import annotations

import time

from chaoskit.deploy.assignment import Assignment
from chaoskit.deploy.decision import Action, Decision
from chaoskit.deploy.fleet import DEFAULT_COMPONENT, REBALANCE_TIMEOUT_S, Fleet, Member
from chaoskit.deploy.journal import Journal, TimelineLike
from chaoskit.deploy.outcome import DeployOutcome
from chaoskit.deploy.policy import DeployPolicy
from chaoskit.deploy.revert import DEFAULT_ALERTS_TOPIC, RollbackOutcome, roll_back
from chaoskit.deploy.stable import stable_members, start_instance
from chaoskit.deploy.version import Version
from chaoskit.deploy.watch import DEFAULT_INTERVAL_S, judge
from chaoskit.runtime.base import Runtime


def canary_name(component: str, version: Version) -> str:
    return f"{component}#{version.name}-canary"


def canary_deploy(
    runtime: Runtime,
    version: Version,
    policy: DeployPolicy | None = None,
    *,
    component: str = DEFAULT_COMPONENT,
    timeline: TimelineLike | None = None,
    journal: Journal | None = None,
    interval_s: float = DEFAULT_INTERVAL_S,
    alert: bool = True,
    alerts_topic: str = DEFAULT_ALERTS_TOPIC,
    rebalance_timeout_s: float = REBALANCE_TIMEOUT_S,
) -> DeployOutcome:
    """Deploy ``version`` of ``component`` as a canary; returns once promoted or rolled back."""
    policy = policy or DeployPolicy()
    fleet = Fleet(runtime, component)
    journal = journal if journal is not None else Journal(timeline)
    first = len(journal.entries)
    stable, stable_version = stable_members(fleet, version)
    started = time.time()
    name = canary_name(component, version)
    journal.record(
        "start",
        f"canary {version.name} next to {len(stable)} member(s) of {stable_version}",
        target=name,
        at=started,
        strategy="canary",
        version=version.name,
        stable_version=stable_version,
        policy=policy.to_dict(),
        env=version.env(),
    )
    window = journal.open_window(f"canary {version.name}", name, version.env(), started)
    new: list[Member] = []
    try:
        canary = start_instance(fleet, name, version)
        if isinstance(canary, Decision):
            decision = canary
        else:
            new.append(canary)
            decision = judge(
                fleet, canary, stable, policy, interval_s=interval_s, rebalance_timeout_s=rebalance_timeout_s
            )
    except BaseException:
        journal.close_window(window, time.time())
        abandon(fleet, journal, new)
        raise
    decided = time.time()
    if decision.action is Action.PROMOTE:
        for index in range(1, len(stable)):
            new.append(fleet.start(f"{component}#{version.name}-{index}", version))
        for member in stable:
            fleet.retire(member)
        promoted = fleet.wait_served_by(
            [m.name for m in new], f"promotion: every partition on {version.name}", rebalance_timeout_s
        )
        finished = time.time()
        journal.record(
            "promote",
            decision.reason,
            target=component,
            at=finished,
            version=version.name,
            retired=[m.name for m in stable],
            started=[m.name for m in new],
            serving=promoted.to_dict(),
            figures=decision.figures,
        )
        rolled: RollbackOutcome | None = None
        serving: Assignment | None = promoted
    else:
        rolled = roll_back(
            fleet,
            journal,
            reason=decision.reason,
            remove=new,
            restore=[],
            keep=[m.name for m in stable],
            from_version=version.name,
            to_version=stable_version,
            figures=decision.figures,
            alert=alert,
            alerts_topic=alerts_topic,
            started_at=decided,
            timeout_s=rebalance_timeout_s,
        )
        finished, serving = rolled.finished_at, rolled.serving
    journal.close_window(window, finished)
    return DeployOutcome(
        "canary",
        component,
        version.name,
        stable_version,
        decision.action,
        decision.reason,
        decision.figures,
        started,
        decided,
        finished,
        tuple(new),
        serving,
        rolled,
        tuple(journal.entries[first:]),
    )


def abandon(fleet: Fleet, journal: Journal, new: list[Member]) -> None:
    """An interrupted deploy (error, Ctrl-C) removes the instances it started, then re-raises.

    The runtime's reset and down sweep anything this misses.
    """
    live = fleet.runtime.instances(fleet.component)
    for member in new:
        if member.name in live:
            fleet.runtime.remove_instance(member.name, graceful=False)
    journal.record(
        "abandoned", "deploy interrupted; its new instances were removed", target=fleet.component, level="error"
    )
