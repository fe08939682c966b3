"""Latency on one link: workflow-service's calls to document-service slow down."""

import pytest

from chaoskit import Slo


@pytest.mark.chaos(
    title="document-service answers workflow-service 800 ms late",
    hypothesis="A slow downstream (800±200 ms, under the 2 s call timeout) delays processing but "
    "loses nothing: every event is applied once, nothing is dead-lettered, and producers keep "
    "their latency because the work is asynchronous.",
    severity="critical",
    feature="workflow-service->document-service",
    story="latency",
    provokes={"held-back": 1},
)
def test_latency_on_document_service(experiment, expected_state, retry_policy):
    slow = experiment.faults.latency("workflow-service", "document-service", ms=800, jitter=200)
    with experiment.recording(), experiment.load.run(users=5, rate=40, duration_s=16):
        experiment.faults.run_schedule([(4, slow, 8)])
    experiment.verify(
        expected_state=expected_state,
        retry=retry_policy,
        slo=Slo(max_error_rate=0.0, max_latency_ms={99.0: 2000.0}),
        consistency_bound_s=60,
    )
    assert experiment.history.count("dead-lettered") == 0
