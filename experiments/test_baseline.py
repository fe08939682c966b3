"""The steady state, before any chaos: load goes in, every event is applied, the
verifier agrees with Redis, nothing lands in the DLQ. Every other experiment assumes this."""

import pytest

from chaoskit import Slo


@pytest.mark.chaos(
    title="Steady state: every requested document is applied",
    hypothesis="Under steady load with no faults, every acknowledged event is applied exactly once, "
    "the DLQ stays empty and Redis converges to the verifier's expected state.",
    severity="blocker",
    feature="reference system",
    story="baseline",
)
def test_baseline(experiment, expected_state, retry_policy):
    with experiment.recording(), experiment.load.run(users=5, rate=50, duration_s=10):
        pass
    results = experiment.verify(
        expected_state=expected_state,
        retry=retry_policy,
        slo=Slo(max_error_rate=0.0, max_latency_ms={99.0: 2000.0}),
        consistency_bound_s=30,
    )
    by_name = {r.name: r for r in results}
    assert experiment.history.count("dead-lettered") == 0, by_name["dlq"].explain()
