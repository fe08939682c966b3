"""Rolling back: bad instances out, the stable version serving every partition again.

The same steps serve the automatic rollback of a canary or rolling deploy and the manual
one an operator runs (``rollback()``, ``python -m chaoskit.deploy rollback``): stop the
new version's instances gracefully (they commit what they finished and leave the group,
so their partitions move at once), bring back what the deploy retired, then wait until
the group coordinator shows every partition owned by a stable member. Only then is the
rollback over: that moment is ``finished_at``, the end of the bound the rollback check
measures. Then the alert goes out.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chaoskit.deploy.alerts import AlertNotSent, publish_alert, rollback_alert
from chaoskit.deploy.assignment import Assignment
from chaoskit.deploy.fleet import DEFAULT_COMPONENT, REBALANCE_TIMEOUT_S, Fleet, Member
from chaoskit.deploy.journal import Journal, TimelineLike
from chaoskit.errors import ChaoskitError
from chaoskit.runtime.base import Runtime

DEFAULT_ALERTS_TOPIC = "ops.alerts"


@dataclass(frozen=True)
class RollbackOutcome:
    """What a rollback did and when it was over (epoch seconds)."""

    reason: str
    from_version: str
    to_version: str
    started_at: float
    finished_at: float
    removed: tuple[str, ...]
    restored: tuple[str, ...]
    serving: Assignment | None
    alert_sent: bool
    figures: Mapping[str, Any] = field(default_factory=dict)

    @property
    def took_s(self) -> float:
        return self.finished_at - self.started_at

    @property
    def did_anything(self) -> bool:
        return bool(self.removed or self.restored)


def roll_back(
    fleet: Fleet,
    journal: Journal,
    *,
    reason: str,
    remove: Sequence[Member],
    restore: Sequence[Member],
    keep: Collection[str],
    from_version: str,
    to_version: str,
    figures: Mapping[str, Any] | None = None,
    alert: bool = True,
    alerts_topic: str = DEFAULT_ALERTS_TOPIC,
    restored_already: Sequence[str] = (),
    started_at: float | None = None,
    timeout_s: float = REBALANCE_TIMEOUT_S,
) -> RollbackOutcome:
    """Remove ``remove``, restore ``restore``, wait until only ``keep`` serve; log, mark, alert."""
    started = time.time() if started_at is None else started_at
    for member in remove:
        fleet.retire(member)
    restored = [*restored_already, *(fleet.restore(m).name for m in restore)]
    what = f"rollback: every partition of {fleet.topic} back on {', '.join(sorted(keep))}"
    serving = fleet.wait_served_by(keep, what, timeout_s)
    finished = time.time()
    figures = {**(figures or {}), "rollback_took_s": round(finished - started, 3)}
    removed = [m.name for m in remove]
    journal.record(
        "rollback",
        reason,
        target=fleet.component,
        level="warning",
        at=finished,
        from_version=from_version,
        to_version=to_version,
        removed=removed,
        restored=restored,
        serving=serving.to_dict(),
        figures=figures,
    )
    alert_sent = False
    if alert:
        body = rollback_alert(
            fleet.component,
            reason,
            figures,
            from_version=from_version,
            to_version=to_version,
            instances=removed,
            at=finished,
        )
        try:
            publish_alert(fleet.bootstrap, alerts_topic, body)
            alert_sent = True
            journal.record("alert", body["reason"], target=alerts_topic, level="warning", figures=figures)
        except AlertNotSent as err:
            journal.record("alert-failed", str(err), target=alerts_topic, level="error")
    return RollbackOutcome(
        reason,
        from_version,
        to_version,
        started,
        finished,
        tuple(removed),
        tuple(restored),
        serving,
        alert_sent,
        figures,
    )


def rollback(
    runtime: Runtime,
    *,
    component: str = DEFAULT_COMPONENT,
    reason: str = "manual rollback",
    timeline: TimelineLike | None = None,
    journal: Journal | None = None,
    alert: bool = True,
    alerts_topic: str = DEFAULT_ALERTS_TOPIC,
    timeout_s: float = REBALANCE_TIMEOUT_S,
) -> RollbackOutcome:
    """Manual rollback to the version of the service's own process (the topology's).

    Starts that process if a promotion had stopped it, removes every instance that runs
    another version (or does not answer), and waits until the stable members serve every
    partition. With nothing to roll back it changes nothing, sends no alert, and says so.
    """
    fleet = Fleet(runtime, component)
    journal = journal if journal is not None else Journal(timeline)
    reason = reason if reason.startswith("rollback:") else f"rollback: {reason}"
    started = time.time()
    restored = [component] if fleet.ensure_base() else []
    base_endpoint = runtime.endpoint(component)
    stable_version = fleet.version_of(base_endpoint)
    if stable_version is None:
        raise ChaoskitError(f"{component} does not answer on http://{base_endpoint}/metrics; cannot tell its version")
    members = {m.name: m for m in fleet.members()}
    instances = runtime.instances(component)
    remove = [
        members.get(name) or Member(name, "unreachable", endpoint, runtime.log_path(name))
        for name, endpoint in sorted(instances.items())
        if name not in members or members[name].version != stable_version
    ]
    keep = [name for name, m in members.items() if m.version == stable_version]
    other_versions = sorted({m.version for m in remove})
    if not remove and not restored:
        journal.record(
            "rollback-noop",
            f"nothing to roll back: every member of {component} runs {stable_version}",
            target=component,
        )
        return RollbackOutcome(reason, stable_version, stable_version, started, time.time(), (), (), None, False)
    return roll_back(
        fleet,
        journal,
        reason=reason,
        remove=remove,
        restore=[],
        keep=keep or [component],
        from_version=",".join(other_versions) or stable_version,
        to_version=stable_version,
        figures={"removed_instances": len(remove)},
        alert=alert,
        alerts_topic=alerts_topic,
        restored_already=restored,
        started_at=started,
        timeout_s=timeout_s,
    )
