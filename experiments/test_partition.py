"""A partition of one link: workflow-service is cut from Kafka while order-service keeps producing."""

import pytest


@pytest.mark.chaos(
    title="workflow-service partitioned from Kafka",
    hypothesis="When the consumer loses Kafka but producers do not, events pile up durably in the "
    "topic; after the partition heals the consumer catches up and applies them, and the state "
    "converges: no event acknowledged during the partition is lost. (Whether an event is also "
    "redelivered depends on where the cut lands, so this experiment does not claim to test "
    "idempotent apply: it is inconclusive unless events really were held back by the cut.)",
    severity="critical",
    feature="workflow-service->kafka",
    story="partition",
    provokes={"held-back": 1},
)
def test_workflow_service_partitioned_from_kafka(experiment, expected_state, retry_policy):
    partition = experiment.faults.partition([("workflow-service", "kafka")])
    with experiment.recording(), experiment.load.run(users=4, rate=30, duration_s=16):
        experiment.faults.run_schedule([(4, partition, 8)])
    experiment.verify(expected_state=expected_state, retry=retry_policy, consistency_bound_s=90)
