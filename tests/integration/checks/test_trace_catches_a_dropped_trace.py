"""check_trace_continuity on real components: a redriver that drops the trace id on every
redrive is caught, and the check names exactly the redriven events and the hop that lost
their trace; the real redriver, under the very same fault, keeps every trace (and no check fails)."""

from __future__ import annotations

import pytest

from chaoskit.exploration import Method, ScheduleFailure, run_drawn_schedule
from chaoskit.observe.history import Kind

pytestmark = pytest.mark.integration
METHOD = Method(load={"users": 4, "rate": 20, "content_bytes": 16}, settle_s=30)


def test_a_redriver_that_drops_the_trace_fails_the_trace_check_naming_the_events_and_the_hop(
    trace_dropping_system, experiment_on, expected_state_of, tmp_path
) -> None:
    experiment = experiment_on(trace_dropping_system)
    # workflow-service cannot reach document-service for 3 s: what it takes then fails, is
    # parked in the DLQ, and the redriver (whose own link stays up) redrives it
    steps = [(1, experiment.faults.down("workflow-service", "document-service"), 3)]
    with pytest.raises(ScheduleFailure) as info:
        run_drawn_schedule(
            experiment, steps, workdir=tmp_path, expected_state=expected_state_of(experiment), method=METHOD
        )
    failure = info.value
    history = failure.example.history
    trace = next(r for r in failure.results if r.name == "trace")
    assert trace.outcome == "fail", trace.explain()

    redriven = set(history.select(Kind.REDRIVEN).event_id)
    named = {o.event_id for o in trace.offenders}
    assert redriven, "the fault parked events for the redriver"
    assert named == redriven, "exactly the redriven events lost their trace"
    acked = history.select(Kind.ACKED)
    acked_trace = dict(zip(acked.event_id, acked.trace_id))
    for offender in trace.offenders:
        assert offender.trace_id == acked_trace[offender.event_id]
        assert offender.observed.startswith("lost at redriver (redriven) at "), offender.line()
    assert trace.summary.startswith(f"trace lost by {len(named)} event")
    assert f"first lost at redriver (redriven) ×{len(named)}" in trace.summary

    text = str(failure)
    assert "FAILED trace: " in text
    assert all(o.event_id in text for o in trace.offenders[:50]), "the failure message names the events"


def test_the_real_redriver_keeps_the_trace_under_the_same_fault(
    reference_system, experiment_on, expected_state_of, tmp_path
) -> None:
    experiment = experiment_on(reference_system)
    steps = [(1, experiment.faults.down("workflow-service", "document-service"), 3)]
    results = run_drawn_schedule(
        experiment, steps, workdir=tmp_path, expected_state=expected_state_of(experiment), method=METHOD
    )
    by_name = {r.name: r for r in results}
    assert all(r.ok for r in results), "\n".join(r.explain() for r in results)
    assert by_name["trace"].summary.startswith("trace kept across ")
    assert set(experiment.history.select(Kind.REDRIVEN).event_id), "the fault parked events for the redriver"
    assert by_name["lost_write"].ok
