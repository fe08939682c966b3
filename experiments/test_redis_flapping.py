"""Redis through a flapping link: workflow-service's connection to Redis drops again and again."""

import pytest


@pytest.mark.chaos(
    title="workflow-service's Redis link flaps",
    hypothesis="A link to Redis that goes down for a second every other second makes some writes "
    "fail; those events go to the DLQ and the redriver (whose own link is fine) applies them after "
    "its backoff. The final state matches the verifier; versions never go backwards.",
    severity="normal",
    feature="workflow-service->redis",
    story="flapping",
    provokes=["dead-lettered", "redriven"],
)
def test_redis_link_flaps(experiment, expected_state, retry_policy):
    flaps = [(at, experiment.faults.down("workflow-service", "redis"), 1.0) for at in (3, 5, 7, 9, 11)]
    with experiment.recording(), experiment.load.run(users=4, rate=30, duration_s=15):
        experiment.faults.run_schedule(flaps)
    experiment.verify(expected_state=expected_state, retry=retry_policy, consistency_bound_s=90)
