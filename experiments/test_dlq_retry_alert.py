"""The seed scenario: document-service stops answering, events go to the DLQ, the
redriver retries them after its backoff, and an event that keeps failing raises exactly
one alert for operations."""

import json

import pytest


@pytest.mark.chaos(
    title="document-service hangs: DLQ, then retry after backoff",
    hypothesis="While document-service hangs, workflow-service's calls time out and the events go "
    "to the DLQ with their cause, attempt count and trace id; the redriver retries each after "
    "its backoff and, once document-service answers again, applies them: nothing is lost.",
    severity="critical",
    feature="document-service",
    story="dlq-retry",
    provokes=["dead-lettered", "redriven"],
)
def test_document_service_hangs(experiment, expected_state, retry_policy):
    hang = experiment.faults.pause("document-service")
    with experiment.recording(), experiment.load.run(users=4, rate=20, duration_s=14):
        experiment.faults.run_schedule([(3, hang, 5)])
    experiment.verify(expected_state=expected_state, retry=retry_policy, consistency_bound_s=90)


@pytest.mark.chaos(
    title="document-service unreachable past every retry: one alert per event",
    hypothesis="When document-service stays unreachable longer than the redriver's whole backoff "
    "schedule, every affected event is retried at most MAX_ATTEMPTS times, spaced by the backoff, "
    "then parked in the DLQ with exactly one alert to ops.alerts; nothing is dropped silently.",
    severity="critical",
    feature="document-service",
    story="alert",
    provokes="alerted",
)
def test_repeated_failure_raises_one_alert(experiment, expected_state, retry_policy):
    cut = experiment.faults.isolate("document-service")
    with experiment.recording(), cut:
        with experiment.load.run(users=2, rate=5, duration_s=4):
            pass
        acked = experiment.load.acked_event_ids()
        assert acked, "no event was acknowledged: nothing to follow"

        def every_event_alerted() -> bool:
            alerts = experiment.kafka.read_all(experiment.topics["alerts"])
            return acked <= {json.loads(m.value()).get("event_id") for m in alerts}

        experiment.wait_until(every_event_alerted, timeout_s=90, what="an alert for every acked event")
    experiment.verify(expected_state=expected_state, retry=retry_policy, consistency_bound_s=30)
    assert experiment.history.count("alerted") == len(experiment.load.acked_event_ids())
