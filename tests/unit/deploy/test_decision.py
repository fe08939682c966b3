"""The decision rule on recorded figures: promote, hold and roll back at the boundaries."""

from __future__ import annotations

import pytest

from chaoskit.deploy.decision import Action, WindowStats, decide
from chaoskit.deploy.policy import DeployPolicy

POLICY = DeployPolicy(
    window_s=10, min_events=20, max_error_rate_delta=0.05, max_dlq_rate=0.10, max_health_failures=1, max_wait_s=30
)
HEALTHY_STABLE = WindowStats(events=200, failed=2, dead_lettered=2, elapsed_s=10)  # 1 % errors


def canary(
    events: int = 40, failed: int = 0, dead_lettered: int = 0, health: int = 0, elapsed: float = 10.0
) -> WindowStats:
    return WindowStats(events, failed, dead_lettered, health, elapsed)


def test_a_clean_canary_is_promoted_once_the_window_has_passed() -> None:
    decision = decide(canary(), HEALTHY_STABLE, POLICY)
    assert decision.action is Action.PROMOTE
    assert decision.reason.startswith("promote: canary error rate 0.0% vs stable 1.0%")
    assert decision.figures["canary_events"] == 40
    assert decision.figures["stable_error_rate"] == 0.01


def test_a_clean_canary_is_held_until_the_window_has_passed() -> None:
    decision = decide(canary(elapsed=9.99), HEALTHY_STABLE, POLICY)
    assert decision.action is Action.HOLD
    assert "watched 10.0 s of 10 s" in decision.reason


def test_too_few_events_hold_and_then_roll_back_at_max_wait() -> None:
    held = decide(canary(events=19, elapsed=29.9), HEALTHY_STABLE, POLICY)
    assert held.action is Action.HOLD and "19 of 20 events" in held.reason
    given_up = decide(canary(events=19, elapsed=30.0), HEALTHY_STABLE, POLICY)
    assert given_up.action is Action.ROLLBACK
    assert "only 19 events in 30.0 s" in given_up.reason and "not enough evidence" in given_up.reason


def test_error_rate_delta_equal_to_the_limit_passes_and_above_it_rolls_back() -> None:
    # stable 1 %, canary 6 % -> delta exactly 5 points
    at_limit = decide(canary(events=100, failed=6), HEALTHY_STABLE, POLICY)
    assert at_limit.action is Action.PROMOTE
    above = decide(canary(events=100, failed=7), HEALTHY_STABLE, POLICY)
    assert above.action is Action.ROLLBACK
    assert above.reason == "rollback: canary error rate 7.0% vs stable 1.0% over 100 events (+6.0% > max +5.0%)"
    assert above.figures["error_rate_delta"] == 0.06


def test_a_bad_canary_rolls_back_before_the_window_ends_once_it_has_min_events() -> None:
    early = decide(canary(events=20, failed=10, dead_lettered=10, elapsed=2.0), HEALTHY_STABLE, POLICY)
    assert early.action is Action.ROLLBACK
    not_yet = decide(canary(events=19, failed=19, dead_lettered=19, elapsed=2.0), HEALTHY_STABLE, POLICY)
    assert not_yet.action is Action.HOLD


def test_dlq_rate_equal_to_the_limit_passes_and_above_it_rolls_back() -> None:
    stable = WindowStats(events=100, failed=10, dead_lettered=10, elapsed_s=10)  # stable as bad as the canary
    assert decide(canary(events=100, failed=10, dead_lettered=10), stable, POLICY).action is Action.PROMOTE
    above = decide(canary(events=100, failed=11, dead_lettered=11), stable, POLICY)
    assert above.action is Action.ROLLBACK
    assert above.reason == "rollback: canary DLQ rate 11.0% over 100 events (> max 10.0%)"


def test_health_failures_roll_back_at_once_even_without_events() -> None:
    assert decide(canary(events=0, health=1, elapsed=1), HEALTHY_STABLE, POLICY).action is Action.HOLD
    decision = decide(canary(events=0, health=2, elapsed=1), HEALTHY_STABLE, POLICY)
    assert decision.action is Action.ROLLBACK
    assert decision.reason == "rollback: canary failed 2 health checks (max 1)"


def test_rates_of_an_idle_side_are_zero() -> None:
    idle = WindowStats()
    assert idle.error_rate == 0.0 and idle.dlq_rate == 0.0
    assert decide(canary(), idle, POLICY).action is Action.PROMOTE


@pytest.mark.parametrize(
    ("failed", "expected"),
    [(0, Action.PROMOTE), (2, Action.PROMOTE), (3, Action.ROLLBACK)],
)
def test_a_strict_policy_with_no_tolerance(failed: int, expected: Action) -> None:
    strict = DeployPolicy(
        window_s=1, min_events=1, max_error_rate_delta=0.0, max_dlq_rate=1.0, max_health_failures=0, max_wait_s=1
    )
    stable = WindowStats(events=50, failed=1, elapsed_s=1)  # 2 %
    assert decide(canary(events=100, failed=failed, elapsed=1), stable, strict).action is expected
