"""Rolling deploy: replace the members one by one, judging each new one; stop and roll
back everything at the first bad one.

Each step starts one instance of the new version next to the old members (a surge of
one, so capacity never drops), watches it against the old members still running, and
only then retires one old member. The base process goes last. When a new instance is
judged bad, or does not start, the deploy halts: every new instance is stopped, every
retired old member comes back, and the old version serves all partitions again.
"""

from __future__ import annotations

import time

from chaoskit.deploy.canary import abandon
from chaoskit.deploy.decision import Action, Decision
from chaoskit.deploy.fleet import DEFAULT_COMPONENT, REBALANCE_TIMEOUT_S, Fleet, Member
from chaoskit.deploy.journal import Journal, TimelineLike
from chaoskit.deploy.outcome import DeployOutcome
from chaoskit.deploy.policy import DeployPolicy
from chaoskit.deploy.revert import DEFAULT_ALERTS_TOPIC, roll_back
from chaoskit.deploy.stable import stable_members, start_instance
from chaoskit.deploy.version import Version
from chaoskit.deploy.watch import DEFAULT_INTERVAL_S, judge
from chaoskit.runtime.base import Runtime


def rolling_deploy(
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
    """Replace every member of ``component`` by ``version``, one at a time, or roll back."""
    policy = policy or DeployPolicy()
    fleet = Fleet(runtime, component)
    journal = journal if journal is not None else Journal(timeline)
    first = len(journal.entries)
    old, stable_version = stable_members(fleet, version)
    order = [m for m in old if not m.base] + [m for m in old if m.base]
    started = time.time()
    journal.record(
        "start",
        f"rolling {version.name} over {len(order)} member(s) of {stable_version}",
        target=component,
        at=started,
        strategy="rolling",
        version=version.name,
        stable_version=stable_version,
        policy=policy.to_dict(),
        env=version.env(),
        order=[m.name for m in order],
    )
    new: list[Member] = []
    retired: list[Member] = []
    decision: Decision | None = None
    try:
        for step, target in enumerate(order, start=1):
            name = f"{component}#{version.name}-{step}"
            window = journal.open_window(f"rolling {version.name} step {step}", name, version.env(), time.time())
            member = start_instance(fleet, name, version)
            if isinstance(member, Decision):
                decision = member
            else:
                new.append(member)
                remaining = [m for m in old if m not in retired]
                decision = judge(
                    fleet, member, remaining, policy, interval_s=interval_s, rebalance_timeout_s=rebalance_timeout_s
                )
            journal.close_window(window, time.time())
            if decision.action is Action.ROLLBACK:
                decision = Decision(
                    decision.action,
                    f"{decision.reason} [step {step} of {len(order)}: {name}]",
                    {**decision.figures, "step": step, "steps": len(order)},
                )
                break
            fleet.retire(target)
            retired.append(target)
            journal.record(
                "step",
                f"step {step} of {len(order)}: {name} replaced {target.name}",
                target=name,
                figures=decision.figures,
            )
    except BaseException:
        abandon(fleet, journal, new)
        raise
    assert decision is not None, "a fleet has at least one member"
    decided = time.time()
    if decision.action is Action.ROLLBACK:
        rolled = roll_back(
            fleet,
            journal,
            reason=decision.reason,
            remove=new,
            restore=retired,
            keep=[m.name for m in old],
            from_version=version.name,
            to_version=stable_version,
            figures=decision.figures,
            alert=alert,
            alerts_topic=alerts_topic,
            started_at=decided,
            timeout_s=rebalance_timeout_s,
        )
        return DeployOutcome(
            "rolling",
            component,
            version.name,
            stable_version,
            Action.ROLLBACK,
            decision.reason,
            decision.figures,
            started,
            decided,
            rolled.finished_at,
            tuple(new),
            rolled.serving,
            rolled,
            tuple(journal.entries[first:]),
        )
    serving = fleet.wait_served_by(
        [m.name for m in new], f"rolling: every partition on {version.name}", rebalance_timeout_s
    )
    finished = time.time()
    reason = f"promote: all {len(order)} members replaced by {version.name}"
    journal.record(
        "promote",
        reason,
        target=component,
        at=finished,
        version=version.name,
        serving=serving.to_dict(),
        figures=decision.figures,
    )
    return DeployOutcome(
        "rolling",
        component,
        version.name,
        stable_version,
        Action.PROMOTE,
        reason,
        decision.figures,
        started,
        decided,
        finished,
        tuple(new),
        serving,
        None,
        tuple(journal.entries[first:]),
    )
