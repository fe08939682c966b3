"""Trace continuity: every observation of an event carries the trace it was acked with."""

from checks_stories import T0, Story, fault

from chaoskit.checks import check_trace_continuity
from chaoskit.observe.history import History, Kind
from chaoskit.observe.recorder import OTHER_TRACE, OTHER_WITNESS

OUTAGE = "down redriver->document-service"


def redriven(story: Story, t: float, event: str, trace: str | None = "") -> Story:
    """A failure parked, redriven by the redriver and applied there, every step with ``trace``."""
    story.failed(t, event, 1)
    story.add(t + 1, event, Kind.CONSUMED, "redriver", trace=trace)
    story.add(t + 1.1, event, Kind.REDRIVEN, "redriver", trace=trace, attempt=2)
    return story.add(t + 1.2, event, Kind.APPLIED, "documents.processed", trace=trace, key="k1", version=1)


def test_a_trace_kept_on_every_hop_passes_and_says_what_was_verified():
    story = Story().delivered(1, "e1")
    redriven(story.acked(2, "e2"), 2.2, "e2")

    result = check_trace_continuity(story.history)

    assert result.ok, result.explain()
    assert result.summary == "trace kept across 14 observations of 2 events on 6 hops"


def test_a_redriver_that_drops_the_trace_is_named_as_the_hop_that_lost_it():
    story = Story().delivered(1, "e1")
    redriven(story.acked(2, "e2"), 2.2, "e2", trace=None)

    result = check_trace_continuity(story.history, timeline=fault(OUTAGE, 3.0, 4.0))

    assert not result.ok
    assert result.summary == "trace lost by 1 event of 2 (e2); first lost at redriver (consumed) ×1"
    [offender] = result.offenders
    assert (offender.event_id, offender.trace_id) == ("e2", "t-e2")
    assert offender.expected == "trace t-e2 on every observation"
    assert offender.observed.startswith(
        "lost at redriver (consumed) at 3.20s (no trace); also at redriver (redriven), "
        "documents.processed (applied); 3 observations without it; path: produced@2.00s → acked@"
    )
    assert offender.fault_window == '"down redriver->document-service" [3.0s–4.0s]'


def test_another_trace_is_an_offender_too_and_names_what_it_carried():
    story = Story().acked(1, "e1").add(1.5, "e1", Kind.ALERTED, "ops.alerts", trace="t-stranger", attempts=4)

    [offender] = check_trace_continuity(story.history).offenders

    assert offender.observed.startswith("lost at ops.alerts (alerted) at 0.50s (trace t-stranger); 1 observation")
    assert offender.fault_window is None


def test_the_acked_trace_is_the_one_expected_and_produced_is_the_fallback():
    story = Story()
    story.add(1, "e1", Kind.PRODUCED, "load", trace="t-client")
    story.add(1.1, "e1", Kind.ACKED, "documents.requested", trace="t-broker")
    story.add(1.2, "e1", Kind.APPLIED, "workflow-service", trace="t-broker")
    story.add(2, "e2", Kind.PRODUCED, "load")  # e2's ack lost its trace: the producer's is expected
    story.add(2.1, "e2", Kind.ACKED, "documents.requested", trace=None)

    first, second = check_trace_continuity(story.history).offenders

    assert (first.event_id, first.trace_id) == ("e1", "t-broker")
    assert first.observed.startswith("lost at load (produced) at 0.00s (trace t-client)")
    assert (second.event_id, second.trace_id) == ("e2", "t-e2")
    assert second.observed.startswith("lost at documents.requested (acked) at 1.10s (no trace)")


def test_a_log_line_folded_into_its_kafka_record_still_counts():
    story = Story().acked(1, "e1")
    story.add(1.5, "e1", Kind.ALERTED, "ops.alerts", attempts=4, **{OTHER_WITNESS: "redriver"})
    story.acked(2, "e2").add(2.5, "e2", Kind.ALERTED, "ops.alerts", **{OTHER_WITNESS: "redriver", OTHER_TRACE: "t-e2"})

    result = check_trace_continuity(story.history)

    [offender] = result.offenders
    assert offender.event_id == "e1"
    assert offender.observed.startswith("lost at redriver (alerted) at 0.50s (no trace)")


def test_events_without_any_trace_are_not_judged_and_said_so():
    story = Story().delivered(1, "e1")
    story.add(2, "e-untraced", Kind.ACKED, "documents.requested", trace=None)
    story.add(2.5, "e-late", Kind.APPLIED, "workflow-service", trace="t-late")  # recorder started late

    result = check_trace_continuity(story.history)

    assert result.ok
    assert result.summary == (
        "trace kept across 6 observations of 1 event on 3 hops; "
        "2 events without a trace on its acked or produced observation not judged"
    )


def test_no_trace_anywhere_cannot_be_judged():
    story = Story().add(1, "e1", Kind.ACKED, "documents.requested", trace=None)
    story.add(1.5, "e1", Kind.APPLIED, trace=None)

    result = check_trace_continuity(story.history)

    assert not result.ok and result.outcome == "unknown"
    assert result.summary == (
        "none of the 1 event has a trace id on its acked or produced observation: trace continuity cannot be judged"
    )


def test_an_empty_history_cannot_be_judged():
    result = check_trace_continuity(History())
    assert result.outcome == "unknown"
    assert result.summary == "no events were observed: trace continuity cannot be judged"


def test_an_untraced_log_line_hidden_behind_its_kafka_record_is_caught_through_the_recorder():
    from chaoskit.observe.history import Observation
    from chaoskit.observe.recorder import reconcile

    story = Story().acked(1, "e1")
    kafka = [o for o in story.history] + [Observation(T0 + 2.0, "e1", "t-e1", Kind.ALERTED, "ops.alerts", {})]
    logs = [Observation(T0 + 2.1, "e1", None, Kind.ALERTED, "redriver", {"attempts": 4})]
    merged, _ = reconcile(kafka, logs)

    [offender] = check_trace_continuity(History(merged)).offenders

    assert offender.event_id == "e1"
    assert "lost at redriver (alerted)" in offender.observed
