"""Rolling deploys of workflow-service over two stable members, under steady traffic.

A rolling deploy replaces the members one at a time and judges each new one before it
retires an old one. It must halt at the first bad instance and roll back everything it
had replaced so far: the old version serves every partition again, with every request
applied exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaoskit import (
    DeployPolicy,
    Fleet,
    SteadyTraffic,
    Version,
    bad_version,
    check_rollback,
    history_from_logs,
    rolling_deploy,
    time_to_rollback,
    wait_for,
)
from services.verifier import verify

ROLLBACK_BOUND_S = 30.0  # generous: the machine is shared and noisy; a crash also waits out the session timeout
RATE = 20.0
POLICY = DeployPolicy(
    window_s=5, min_events=10, max_error_rate_delta=0.05, max_dlq_rate=0.05, max_health_failures=2, max_wait_s=20
)
SECOND = "workflow-service#stable-2"
STABLE = ("workflow-service", SECOND)


@pytest.fixture
def two_stable_members(chaos_env: Any, services: Any) -> Iterator[list[Path]]:
    """The stable version on two members (the service's own process and one instance); their logs."""
    chaos_env.add_instance("workflow-service", SECOND)
    logs = [chaos_env.log_path("workflow-service"), chaos_env.log_path(SECOND)]
    Fleet(chaos_env).wait_served_by(STABLE, "both stable members serving")
    yield logs
    chaos_env.reset()  # the extra member does not outlive the experiment


def settled(chaos_env: Any, kafka: Any, namespace: str, timeout_s: float = 30.0) -> None:
    redis_url = f"redis://{chaos_env.endpoint('redis')}/0"
    wait_for(
        lambda: (r := verify(kafka.bootstrap, redis_url, key_prefix=namespace, timeout_s=10)).ok and r.matching,
        timeout_s,
        f"the verifier matching every {namespace}* key",
        interval_s=0.5,
    )


def keep_flowing(traffic: SteadyTraffic, more: int = 20) -> None:
    target = traffic.acked_count + more
    wait_for(lambda: traffic.acked_count >= target, 20, f"{more} more acked requests")


def history(chaos_env: Any, stable_logs: list[Path], new_logs: dict[str, Path], events: set[str]) -> Any:
    system = [chaos_env.log_path("order-service"), chaos_env.log_path("redriver")]
    return history_from_logs([*system, *stable_logs, *new_logs.values()], events=events)


@pytest.mark.chaos(
    title="A rolling deploy halts at a bad instance and rolls back",
    hypothesis="The first new instance of a version failing half its events is judged bad before any old member "
    "is retired; the deploy halts, the new instance is removed, both stable members serve every partition "
    "and no request is lost or applied twice",
    severity="critical",
    feature="workflow-service",
    story="rolling",
    provokes="bad-events",
)
def test_rolling_deploy_halts_at_a_bad_instance(
    chaos_env: Any,
    two_stable_members: list[Path],
    kafka: Any,
    timeline: Any,
    chaos_namespace: str,
    record_property: Any,
    provoked: Any,
) -> None:
    with SteadyTraffic(chaos_env, chaos_namespace, rate=RATE) as traffic:
        keep_flowing(traffic, 10)
        outcome = rolling_deploy(chaos_env, bad_version("v2-bad", fail_rate=0.5), POLICY, timeline=timeline)
        keep_flowing(traffic)
    provoked(**{"bad-events": int(outcome.figures.get("canary_failed", 0))})  # the bad version really failed events
    assert outcome.rolled_back, outcome.summary()
    assert outcome.figures["step"] == 1 and outcome.new_instances == ("workflow-service#v2-bad-1",)
    assert outcome.rollback is not None and outcome.rollback.restored == () and outcome.rollback.alert_sent

    settled(chaos_env, kafka, chaos_namespace)
    events = history(chaos_env, two_stable_members, outcome.new_logs, traffic.record.acked_ids)
    took = time_to_rollback(events, outcome.new_instances, outcome.finished_at)
    record_property("time_to_rollback_s", None if took is None else round(took, 3))
    result = check_rollback(
        events,
        bad_instances=outcome.new_instances,
        rolled_back_at=outcome.finished_at,
        assignment=Fleet(chaos_env).assignment(),
        stable_members=STABLE,
        bound_s=ROLLBACK_BOUND_S,
        timeline=timeline,
    )
    print(f"\n{outcome.summary()}\n{result.explain()}")
    assert result.ok, result.explain()


@pytest.mark.chaos(
    title="A rolling deploy halts when its second instance crashes, undoing the first step",
    hypothesis="After a good first step, the second new instance crashes; the deploy halts on its failed health "
    "checks, removes both new instances, brings back the retired stable member, and the stable version "
    "serves every partition again with no request lost or applied twice",
    severity="critical",
    feature="workflow-service",
    story="rolling",
)
def test_rolling_deploy_halts_at_a_crashing_instance_and_undoes_earlier_steps(
    chaos_env: Any,
    two_stable_members: list[Path],
    kafka: Any,
    timeline: Any,
    chaos_namespace: str,
) -> None:
    second_new = "workflow-service#v2-2"
    crashed_at: list[float] = []
    errors: list[BaseException] = []

    def crash_once_serving() -> None:
        try:
            fleet = Fleet(chaos_env)
            wait_for(lambda: fleet.assignment().partitions_of(second_new), 45, f"{second_new} serving")
            crashed_at.append(time.time())
            chaos_env.kill(second_new)
        except BaseException as err:  # reported by the test, not lost in the thread
            errors.append(err)

    crasher = threading.Thread(target=crash_once_serving, name="crasher", daemon=True)
    with SteadyTraffic(chaos_env, chaos_namespace, rate=RATE) as traffic:
        keep_flowing(traffic, 10)
        crasher.start()
        outcome = rolling_deploy(chaos_env, Version("v2"), POLICY, timeline=timeline)
        crasher.join(timeout=50)
        keep_flowing(traffic)
    assert not errors and crashed_at, f"the crash was not staged: {errors}"
    assert outcome.rolled_back, outcome.summary()
    assert outcome.figures["step"] == 2 and "health checks" in outcome.reason
    assert outcome.rollback is not None and outcome.rollback.restored == (SECOND,)
    assert {m.name: m.version for m in Fleet(chaos_env).members()} == {"workflow-service": "stable", SECOND: "stable"}

    settled(chaos_env, kafka, chaos_namespace)
    events = history(chaos_env, two_stable_members, outcome.new_logs, traffic.record.acked_ids)
    result = check_rollback(
        events,
        bad_instances=outcome.new_instances,
        rolled_back_at=outcome.finished_at,
        bad_since=crashed_at[0],
        assignment=Fleet(chaos_env).assignment(),
        stable_members=STABLE,
        bound_s=ROLLBACK_BOUND_S,
        timeline=timeline,
    )
    print(f"\n{outcome.summary()}\n{result.explain()}")
    assert result.ok, result.explain()
