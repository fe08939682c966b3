"""DLQ: it holds exactly the failed events, each with cause, attempt count and trace id."""

from checks_stories import Story, fault

from chaoskit.checks import check_dlq
from chaoskit.observe.history import Kind

TIMEOUT = "timeout document-service->redis"


def test_failed_events_parked_with_cause_pass():
    story = Story().delivered(1, "e1")
    story.acked(2, "e2").failed(2.2, "e2", 1).failed(3.0, "e2", 2, where="redriver")
    story.add(4.0, "e2", Kind.APPLIED, "redriver", key="k1", version=1)

    result = check_dlq(story.history)

    assert result.ok, result.explain()
    assert (
        result.summary == "the DLQ holds exactly the 1 failed event (2 entries), each with error, attempts and trace id"
    )


def test_entry_without_cause_is_named_with_its_window():
    story = Story().acked(1, "e-nocause").add(1.5, "e-nocause", Kind.FAILED, attempt=1, error="boom")
    story.add(1.6, "e-nocause", Kind.DEAD_LETTERED, "documents.dlq", attempts=1)

    result = check_dlq(story.history, timeline=fault(TIMEOUT, 1.0, 2.0))

    assert not result.ok
    assert "DLQ contract broken by 1 event (e-nocause)" in result.summary
    [offender] = result.offenders
    assert (offender.event_id, offender.trace_id) == ("e-nocause", "t-e-nocause")
    assert "DLQ entry at 1.60s has no error (cause)" in offender.observed
    assert offender.fault_window == '"timeout document-service->redis" [1.0s–2.0s]'


def test_entry_without_attempts_or_trace_or_with_a_foreign_trace():
    story = Story().acked(1, "e1").add(1.5, "e1", Kind.FAILED, attempt=1, error="boom")
    story.add(1.6, "e1", Kind.DEAD_LETTERED, "documents.dlq", trace=None, error="boom")
    story.acked(2, "e2").add(2.5, "e2", Kind.FAILED, attempt=1, error="boom")
    story.add(2.6, "e2", Kind.DEAD_LETTERED, "documents.dlq", trace="t-other", error="boom", attempts=3)

    result = check_dlq(story.history)

    first, second = result.offenders
    assert first.event_id == "e1" and first.trace_id == "t-e1"
    assert "has no valid attempt count (attempts=None); has no trace id" in first.observed
    assert second.event_id == "e2"
    assert "claims 3 attempts but 1 failures were observed" in second.observed
    assert "carries trace t-other, not the event's trace t-e2" in second.observed


def test_failure_never_parked_is_named():
    story = Story().acked(1, "e-unparked").add(1.5, "e-unparked", Kind.FAILED, attempt=1, error="boom")
    result = check_dlq(story.history, timeline=fault(TIMEOUT, 1.4, 3.0))
    [offender] = result.offenders
    assert offender.event_id == "e-unparked"
    assert offender.expected == "parked in the DLQ with its error, attempt count and trace id"
    assert offender.observed.endswith("never dead-lettered")
    assert offender.fault_window == '"timeout document-service->redis" [1.4s–3.0s]'


def test_unrelated_entry_for_an_event_that_never_failed():
    story = Story().delivered(1, "e-fine")
    story.add(1.5, "e-fine", Kind.DEAD_LETTERED, "documents.dlq", error="boom", attempts=1)
    [offender] = check_dlq(story.history).offenders
    assert offender.event_id == "e-fine"
    assert offender.expected == "no DLQ entry (the event never failed)"
    assert "for an event with no failed processing" in offender.observed
