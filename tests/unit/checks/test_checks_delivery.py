"""Delivery: every acked event ends applied once, a no-op, or parked with an alert."""

from checks_stories import T0, Story, fault

from chaoskit.checks import check_delivery
from chaoskit.observe.history import Kind
from chaoskit.observe.timeline import Timeline

DOWN = "down workflow-service->kafka"


def test_every_event_handled_passes_and_states_its_figures():
    story = Story().delivered(1, "e1").delivered(2, "e2", key="k2")
    story.acked(3, "e3").add(3.1, "e3", Kind.CONSUMED)
    story.failed(3.2, "e3", 1).failed(4.0, "e3", 2, where="redriver").alerted(4.2, "e3", 2)
    story.acked(5, "e4", version=0).add(5.2, "e4", Kind.APPLIED, key="k1", version=0, applied=False)

    result = check_delivery(story.history)

    assert result.ok, result.explain()
    assert (
        "4 of 4 acked events handled: 2 applied, 1 no-op (duplicate or stale), 1 parked with an alert" in result.summary
    )
    assert result.offenders == ()
    assert result.explain().startswith("PASSED delivery:")


def test_lost_event_is_named_with_trace_path_and_fault_window():
    story = Story().delivered(1, "e1")
    story.acked(12.0, "e-lost").add(13.2, "e-lost", Kind.CONSUMED)
    story.delivered(20, "e3")
    timeline = fault(DOWN, 12.3, 17.9)

    result = check_delivery(story.history, timeline=timeline)

    assert not result.ok
    assert "lost 1 of 3 acked events (e-lost)" in result.summary
    [offender] = result.offenders
    assert (offender.event_id, offender.trace_id) == ("e-lost", "t-e-lost")
    assert offender.expected == "applied once, or parked in the DLQ with an alert"
    assert "acked@12.01s" in offender.observed and "consumed@13.20s" in offender.observed
    assert offender.observed.endswith("never applied")
    assert offender.fault_window == '"down workflow-service->kafka" [12.3s–17.9s]'
    text = result.explain()
    assert "e-lost (trace t-e-lost): expected applied once, or parked in the DLQ with an alert" in text
    assert 'fell in fault window "down workflow-service->kafka" [12.3s–17.9s]' in text


def test_lost_event_outside_any_fault_says_so():
    story = Story().acked(1, "e-lost")
    result = check_delivery(story.history, timeline=fault(DOWN, 12.3, 17.9))
    assert "outside any fault window" in result.explain()


def test_duplicate_effect_is_named():
    story = Story().delivered(1, "e1").delivered(2, "e-twice")
    story.add(15.0, "e-twice", Kind.APPLIED, "redriver", key="k1", version=1)

    result = check_delivery(story.history, timeline=fault(DOWN, 14.0, 16.0))

    assert not result.ok
    assert "1 applied twice (e-twice)" in result.summary
    [offender] = result.offenders
    assert offender.event_id == "e-twice"
    assert offender.expected == "applied once"
    assert "applied with effect 2 times (at 2.16s, 15.00s)" in offender.observed
    assert offender.fault_window == '"down workflow-service->kafka" [14.0s–16.0s]'


def test_a_duplicate_delivery_reported_as_no_op_is_fine():
    story = Story().delivered(1, "e1")
    story.add(3.0, "e1", Kind.APPLIED, "documents.processed", key="k1", version=1, applied=False, outcome="duplicate")
    assert check_delivery(story.history).ok


def test_parked_without_alert_is_not_handled():
    story = Story().acked(1, "e-parked").failed(1.2, "e-parked", 1)
    result = check_delivery(story.history, timeline=Timeline(origin=T0))
    [offender] = result.offenders
    assert offender.event_id == "e-parked"
    assert offender.observed.endswith("parked in the DLQ but no alert")
    assert "failed@1.30s (attempt 1, error: document-service: 503)" in offender.observed


def test_effect_missing_from_final_state_is_lost():
    story = Story().delivered(1, "e1", key="k1", version=1).delivered(2, "e2", key="k1", version=2)
    story.delivered(3, "e3", key="k2", version=1)
    final = {"k1": {"version": "1", "event_id": "e1"}, "k2": {"version": "1", "event_id": "e3"}}

    result = check_delivery(story.history, final_state=final)

    assert not result.ok
    assert "1 effect missing from the final state (e2)" in result.summary
    [offender] = result.offenders
    assert offender.expected.startswith("doc:k1 at version ≥ 2")
    assert offender.observed.startswith("doc:k1 at version 1")


def test_final_state_holding_every_last_version_passes():
    story = Story().delivered(1, "e1", key="k1", version=1).delivered(2, "e2", key="k1", version=2)
    result = check_delivery(story.history, final_state={"k1": {"version": "2"}})
    assert result.ok, result.explain()
    assert "the final state holds every applied version (1 key)" in result.summary


def test_times_count_from_the_first_observation_without_a_timeline():
    story = Story().delivered(10, "e1").acked(11, "e-lost")
    [offender] = check_delivery(story.history).offenders
    assert "acked@1.01s" in offender.observed


def test_a_lost_event_names_the_fault_that_struck_after_its_last_observation():
    """Committed, then the consumer is killed before applying: the kill comes after the
    event's last observation, and the explanation must still name it."""
    from chaoskit.checks import check_delivery
    from chaoskit.observe.history import History, Kind
    from chaoskit.observe.timeline import Timeline

    history = History()
    history.append(100.0, "e1", "t1", Kind.ACKED, "documents.requested", {"key": "k", "version": 1})
    history.append(100.1, "e1", "t1", Kind.COMMITTED, "workflow-service", {})
    history.append(105.0, "e2", "t2", Kind.ACKED, "documents.requested", {"key": "j", "version": 1})
    history.append(105.1, "e2", "t2", Kind.APPLIED, "workflow-service", {"key": "j", "version": 1, "applied": True})
    timeline = Timeline(origin=100.0)
    window = timeline.record_inject("kill", "workflow-service", {}, at=100.3)
    timeline.record_heal(window, at=102.0)
    result = check_delivery(history, timeline=timeline)
    assert not result.ok and [o.event_id for o in result.offenders] == ["e1"]
    assert result.offenders[0].fault_window and "kill" in result.offenders[0].fault_window
