"""Broker loss: the Kafka broker is killed under traffic and comes back with its log."""

import pytest


@pytest.mark.chaos(
    title="Kafka killed under traffic, restarted with its data",
    hypothesis="Losing the only broker for a few seconds makes producers fail fast (no ack, so "
    "nothing acknowledged is at risk) and consumers wait; after the broker restarts from its log, "
    "every acknowledged event is applied exactly once and the state converges.",
    severity="blocker",
    feature="kafka",
    story="broker-loss",
    provokes="requests-in-fault",
)
def test_broker_killed_and_restarted(experiment, expected_state, retry_policy):
    loss = experiment.faults.broker_loss(mode="kill", data="kept")
    with experiment.recording(), experiment.load.run(users=4, rate=30, duration_s=16, request_timeout_s=12):
        experiment.faults.run_schedule([(4, loss, 5)])
    experiment.verify(expected_state=expected_state, retry=retry_policy, consistency_bound_s=90)
