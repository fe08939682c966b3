"""Random fault schedules: Hypothesis draws schedules over every fault kind and every target of
the topology (seeded by --chaos-seed), and the reference system must handle each one."""

import pytest
from hypothesis import settings

from chaoskit import Method, explore_schedules, fault_schedules


@pytest.mark.chaos(
    title="Random fault schedules: nothing lost, state converges",
    hypothesis="Whatever schedule of faults Hypothesis draws (latency, bandwidth, resets, hangs, "
    "cut links, paused or killed services, a lost broker, up to three at once), every acked "
    "event is applied exactly once or parked with an alert, retries keep their backoff, and "
    "Redis converges to the verifier's state. A failing schedule is shrunk to a minimal one "
    "and printed as the code that replays it.",
    severity="critical",
    feature="reference system",
    story="random-schedules",
    budget_s=1200,
)
def test_random_fault_schedules(experiment, expected_state, retry_policy, tmp_path):
    explore_schedules(
        experiment,
        fault_schedules(experiment.faults, max_steps=3, horizon_s=8, max_duration_s=5),
        workdir=tmp_path,
        expected_state=expected_state,
        # settle_s outlasts a killed consumer's partitions moving on (the 10 s session
        # timeout) plus the redriver's whole backoff, with room for the backlog
        method=Method(load={"users": 4, "rate": 20}, retry=retry_policy, settle_s=90),
        # the first example is the empty schedule (a baseline), then three drawn ones
        hypothesis_settings=settings(settings.get_profile("chaos"), max_examples=4),
    )
