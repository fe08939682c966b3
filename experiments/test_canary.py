"""Canary deploys of workflow-service under steady traffic.

The stable version keeps serving while a canary of the new version owns a share of the
requests topic's partitions. A bad canary (half its events fail) must be rolled back
automatically, quickly, with every event still applied exactly once (the redriver
re-applies what the canary dead-lettered); a good one must be promoted; and a promoted
version must be reversible by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from chaoskit import (
    DeployPolicy,
    Fleet,
    SteadyTraffic,
    Version,
    bad_version,
    canary_deploy,
    check_delivery,
    check_rollback,
    deployment_alerts,
    history_from_logs,
    rollback,
    time_to_rollback,
    wait_for,
)
from services.verifier import VerifierReport, verify

ROLLBACK_BOUND_S = 30.0  # generous: the machine is shared and noisy
RATE = 20.0
POLICY = DeployPolicy(
    window_s=6, min_events=15, max_error_rate_delta=0.05, max_dlq_rate=0.05, max_health_failures=2, max_wait_s=20
)
SYSTEM_LOGS = ("order-service", "workflow-service", "redriver")


def settled(chaos_env: Any, kafka: Any, namespace: str, timeout_s: float = 30.0) -> VerifierReport:
    """Wait until Redis holds exactly what the log implies for this experiment's keys."""
    redis_url = f"redis://{chaos_env.endpoint('redis')}/0"

    def matches() -> VerifierReport | None:
        report = verify(kafka.bootstrap, redis_url, key_prefix=namespace, timeout_s=10)
        return report if report.ok and report.matching else None

    return wait_for(matches, timeout_s, f"the verifier matching every {namespace}* key", interval_s=0.5)


def keep_flowing(traffic: SteadyTraffic, more: int = 20) -> None:
    """Let a few more events through, so the switch back is crossed by traffic too."""
    target = traffic.acked_count + more
    wait_for(lambda: traffic.acked_count >= target, 20, f"{more} more acked requests")


@pytest.mark.chaos(
    title="A bad canary is rolled back automatically, losing nothing",
    hypothesis="A canary failing half its events is detected within the policy's minimum sample, rolled back "
    "within 30 s of its first bad event, the stable version takes all partitions back, and every acked "
    "request is applied exactly once",
    severity="critical",
    feature="workflow-service",
    story="canary",
    provokes="bad-events",
)
def test_bad_canary_is_rolled_back_automatically(
    chaos_env: Any,
    services: Any,
    kafka: Any,
    timeline: Any,
    chaos_namespace: str,
    record_property: Any,
    provoked: Any,
) -> None:
    stable = [m.name for m in Fleet(chaos_env).members()]
    with SteadyTraffic(chaos_env, chaos_namespace, rate=RATE) as traffic:
        keep_flowing(traffic, 10)
        outcome = canary_deploy(chaos_env, bad_version("v2-bad", fail_rate=0.5), POLICY, timeline=timeline)
        keep_flowing(traffic)
    provoked(**{"bad-events": int(outcome.figures.get("canary_failed", 0))})  # the bad version really failed events
    assert outcome.rolled_back, outcome.summary()
    assert outcome.rollback is not None and outcome.rollback.alert_sent

    settled(chaos_env, kafka, chaos_namespace)
    sent = traffic.record.acked_ids
    history = history_from_logs([*map(chaos_env.log_path, SYSTEM_LOGS), *outcome.new_logs.values()], events=sent)
    took = time_to_rollback(history, outcome.new_instances, outcome.finished_at)
    print(f"\n{outcome.summary()}\ntime from the canary's first bad event to the end of rollback: {took:.2f} s")
    record_property("time_to_rollback_s", None if took is None else round(took, 3))
    result = check_rollback(
        history,
        bad_instances=outcome.new_instances,
        rolled_back_at=outcome.finished_at,
        assignment=Fleet(chaos_env).assignment(),
        stable_members=stable,
        bound_s=ROLLBACK_BOUND_S,
        timeline=timeline,
    )
    print(result.explain())
    assert result.ok, result.explain()

    alerts = deployment_alerts(kafka.read_all("ops.alerts"), since=outcome.started_at)
    assert [a["reason"] for a in alerts] == [outcome.reason]
    assert alerts[0]["reason"].startswith("rollback:") and alerts[0]["figures"]["canary_events"] >= POLICY.min_events


@pytest.mark.chaos(
    title="A good canary is promoted",
    hypothesis="A canary as healthy as the stable version is promoted after the window, the new version then "
    "serves every partition, and no request is lost or applied twice across the switch",
    severity="critical",
    feature="workflow-service",
    story="canary",
)
def test_good_canary_is_promoted(
    chaos_env: Any, services: Any, kafka: Any, timeline: Any, chaos_namespace: str
) -> None:
    with SteadyTraffic(chaos_env, chaos_namespace, rate=RATE) as traffic:
        keep_flowing(traffic, 10)
        outcome = canary_deploy(chaos_env, Version("v2"), POLICY, timeline=timeline)
        keep_flowing(traffic)
    assert outcome.action == "promote", outcome.summary()
    assert outcome.serving is not None and outcome.serving.served_only_by(outcome.new_instances)
    assert {m.version for m in Fleet(chaos_env).members()} == {"v2"}

    settled(chaos_env, kafka, chaos_namespace)
    history = history_from_logs(
        [*map(chaos_env.log_path, SYSTEM_LOGS), *outcome.new_logs.values()], events=traffic.record.acked_ids
    )
    result = check_delivery(history, timeline=timeline)
    print(f"\n{outcome.summary()}\n{result.explain()}")
    assert result.ok, result.explain()


@pytest.mark.chaos(
    title="A promoted version is rolled back by hand",
    hypothesis="An operator's rollback of a promoted version restarts the stable version, removes the new one, "
    "returns every partition to the stable version and alerts operations, losing no request",
    severity="critical",
    feature="workflow-service",
    story="canary",
)
def test_manual_rollback_of_a_promoted_version(
    chaos_env: Any, services: Any, kafka: Any, timeline: Any, chaos_namespace: str
) -> None:
    quick = DeployPolicy(window_s=3, min_events=10, max_wait_s=20)
    with SteadyTraffic(chaos_env, chaos_namespace, rate=RATE) as traffic:
        keep_flowing(traffic, 10)
        promoted = canary_deploy(chaos_env, Version("v2"), quick, timeline=timeline)
        assert promoted.action == "promote", promoted.summary()
        keep_flowing(traffic)
        manual = rollback(chaos_env, reason="manual: operator rolls back v2", timeline=timeline)
        keep_flowing(traffic)
    assert manual.removed == promoted.new_instances and manual.restored == ("workflow-service",)
    assert manual.alert_sent

    settled(chaos_env, kafka, chaos_namespace)
    history = history_from_logs(
        [*map(chaos_env.log_path, SYSTEM_LOGS), *promoted.new_logs.values()], events=traffic.record.acked_ids
    )
    result = check_rollback(
        history,
        bad_instances=manual.removed,
        rolled_back_at=manual.finished_at,
        bad_since=manual.started_at,
        assignment=Fleet(chaos_env).assignment(),
        stable_members=["workflow-service"],
        bound_s=ROLLBACK_BOUND_S,
        timeline=timeline,
    )
    print(f"\n{promoted.summary()}\n{manual.reason}: took {manual.took_s:.2f} s\n{result.explain()}")
    assert result.ok, result.explain()
    alerts = deployment_alerts(kafka.read_all("ops.alerts"), since=manual.started_at)
    assert [a["reason"] for a in alerts] == ["rollback: manual: operator rolls back v2"]
