"""A partition of one link: workflow-service is cut from Kafka while order-service keeps producing."""

import pytest


@pytest.mark.chaos(
    title="workflow-service partitioned from Kafka",
    hypothesis="When the consumer loses Kafka but producers do not, events pile up durably in the "
    "topic; after the partition heals the consumer catches up, applies each once, and the state "
    "converges. No event is lost and none is applied twice across the rebalance.",
    severity="critical",
    feature="workflow-service->kafka",
    story="partition",
)
def test_workflow_service_partitioned_from_kafka(experiment, expected_state, retry_policy):
    partition = experiment.faults.partition([("workflow-service", "kafka")])
    with experiment.recording(), experiment.load.run(users=4, rate=30, duration_s=16):
        experiment.faults.run_schedule([(4, partition, 8)])
    experiment.verify(expected_state=expected_state, retry=retry_policy, consistency_bound_s=90)
