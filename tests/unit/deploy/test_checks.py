"""The rollback and recovery checks on recorded histories and reports (no servers)."""

from __future__ import annotations

import pytest

from chaoskit.checks.recovery import check_recovery
from chaoskit.checks.rollback import check_rollback, time_to_rollback
from chaoskit.deploy.assignment import Assignment
from chaoskit.errors import ConfigError
from chaoskit.observe.history import History, Observation

CANARY = "workflow-service#v2-bad-canary"
STABLE = "workflow-service"
T0 = 1_000.0
ALL_ON_STABLE = Assignment("workflow-service", "documents.requested", 6, "STABLE", ((STABLE, (0, 1, 2, 3, 4, 5)),))


def obs(t: float, event: str, kind: str, where: str, **detail: object) -> Observation:
    return Observation(T0 + t, event, f"trace-{event}", kind, where, detail)


def switch_history() -> History:
    """e1 applied by stable; e2 failed at the canary, dead-lettered, then redriven and applied."""
    return History(
        [
            obs(0.0, "e1", "acked", "order-service"),
            obs(0.1, "e1", "applied", STABLE, key="k1", version=1),
            obs(1.0, "e2", "acked", "order-service"),
            obs(1.2, "e2", "failed", CANARY, attempt=1, error="injected failure (FAIL_RATE)"),
            obs(1.5, "e2", "dead-lettered", CANARY, attempts=1),
            obs(3.0, "e2", "applied", "redriver", key="k2", version=1),
        ]
    )


def judge(history: History, assignment: Assignment = ALL_ON_STABLE, rolled_back_at: float = T0 + 5.2, **kw: object):
    return check_rollback(
        history,
        bad_instances=[CANARY],
        rolled_back_at=rolled_back_at,
        assignment=assignment,
        stable_members=[STABLE],
        bound_s=30.0,
        **kw,  # type: ignore[arg-type]
    )


def test_a_clean_rollback_states_its_figures() -> None:
    result = judge(switch_history())
    assert result.ok, result.explain()
    assert result.summary == (
        f"{CANARY}: rolled back 4.00 s after its first bad event (bound 30 s); 6/6 partitions on stable members "
        f"({STABLE}); 2 acked events: 2 applied, 0 only dead-lettered, 0 lost, 0 applied twice"
    )
    assert time_to_rollback(switch_history(), [CANARY], T0 + 5.2) == pytest.approx(4.0)


def test_a_slow_rollback_fails_with_the_measured_time() -> None:
    result = judge(switch_history(), rolled_back_at=T0 + 40.0)
    assert not result.ok
    assert "rolled back 38.80 s after its first bad event" in result.summary
    assert result.offenders[0].event_id == "e2"
    assert result.offenders[0].observed == "the rollback ended 38.80 s after it"


def test_partitions_left_on_the_canary_or_unassigned_are_offenders() -> None:
    split = Assignment("workflow-service", "documents.requested", 6, "STABLE", ((STABLE, (3, 4)), (CANARY, (0, 1, 2))))
    result = judge(switch_history(), assignment=split)
    assert not result.ok
    observed = [o.observed for o in result.offenders]
    assert observed.count("assigned to workflow-service#v2-bad-canary (group state STABLE)") == 3
    assert "unassigned (group state STABLE)" in observed
    assert "2/6 partitions on stable members" in result.summary


def test_lost_and_doubled_events_are_named_with_their_paths() -> None:
    history = switch_history()
    history.append(T0 + 2.0, "e3", "trace-e3", "acked", "order-service")
    history.append(T0 + 2.1, "e3", "trace-e3", "consumed", CANARY)
    history.append(T0 + 0.2, "e1", "trace-e1", "applied", "redriver", {"key": "k1", "version": 1})
    result = judge(history)
    assert not result.ok
    by_event = {o.event_id: o for o in result.offenders}
    assert by_event["e3"].expected == "applied or dead-lettered"
    assert "consumed@" in by_event["e3"].observed and "never applied nor dead-lettered" in by_event["e3"].observed
    assert by_event["e1"].observed.startswith("applied 2 times")
    assert "1 lost (e3)" in result.summary and "1 applied twice (e1)" in result.summary


def test_a_no_op_apply_is_not_a_second_effect_and_events_can_be_limited() -> None:
    history = switch_history()
    history.append(T0 + 3.5, "e2", "trace-e2", "applied", "documents.processed", {"applied": False})
    history.append(T0 + 4.0, "other", "trace-o", "acked", "order-service")  # another experiment's event
    result = judge(history, events={"e1", "e2"})
    assert result.ok, result.explain()


def test_a_crash_has_no_bad_event_so_the_bound_starts_at_bad_since() -> None:
    history = History([obs(0.0, "e1", "acked", "order-service"), obs(0.1, "e1", "applied", STABLE)])
    assert not judge(history).ok
    result = judge(history, bad_since=T0 + 1.0)
    assert result.ok, result.explain()
    assert "rolled back 4.20 s after it turned bad" in result.summary


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ConfigError, match="bound_s=0 is not allowed"):
        check_rollback(
            History(),
            bad_instances=[CANARY],
            rolled_back_at=T0,
            assignment=ALL_ON_STABLE,
            stable_members=[STABLE],
            bound_s=0,
        )
    with pytest.raises(ConfigError, match="needs the names of the rolled-back instances"):
        check_rollback(
            History(), bad_instances=[], rolled_back_at=T0, assignment=ALL_ON_STABLE, stable_members=[STABLE], bound_s=1
        )


RECOVERY = {
    "restored_docs": 40,
    "requests": {"read": 25, "applied": 10},
    "dlq": {"read": 0, "applied": 0},
    "took_s": 0.5,
}


def test_recovery_matches() -> None:
    verdict = {
        "ok": True,
        "matching": [f"k{i}" for i in range(50)],
        "missing": [],
        "stale": [],
        "unexpected": [],
        "events_read": 60,
    }
    result = check_recovery(verdict, RECOVERY, converged_after_s=1.5)
    assert result.ok
    assert result.summary == (
        "after recovery (restored 40 docs, replayed 25 requests (10 applied) and 0 DLQ records (0 applied) in 0.50 s, "
        "converged 1.50 s after recovery) the verifier finds 50 keys match, 0 missing, 0 stale, 0 unexpected "
        "(from 60 requested events)"
    )


def test_recovery_names_missing_stale_and_unexpected_keys() -> None:
    verdict = {
        "ok": False,
        "matching": ["a"],
        "events_read": 4,
        "missing": [{"key": "b", "expected_version": 2, "expected_event_ids": ["eb"]}],
        "stale": [
            {
                "key": "c",
                "expected_version": 3,
                "expected_event_ids": ["ec"],
                "actual_version": 1,
                "actual_event_id": "ec1",
            }
        ],
        "unexpected": [
            {
                "key": "d",
                "actual_version": 1,
                "actual_event_id": "ed",
                "reason": "no accepted requested event for this key",
            }
        ],
    }
    result = check_recovery(verdict, RECOVERY)
    assert not result.ok
    lines = [o.line() for o in result.offenders]
    assert (
        lines[0]
        == "eb (trace none): expected doc:b at version 2 (event eb); observed missing after recovery: absent; outside any fault window"
    )
    assert "observed an older version after recovery: version 1 by ec1" in lines[1]
    assert "expected no doc:d; observed no accepted requested event for this key: version 1 by ed" in lines[2]


def test_recovery_of_nothing_proves_nothing() -> None:
    verdict = {"ok": True, "matching": [], "missing": [], "stale": [], "unexpected": [], "events_read": 0}
    result = check_recovery(verdict, RECOVERY)
    assert not result.ok and result.offenders[0].observed == "the verifier matched no key"
