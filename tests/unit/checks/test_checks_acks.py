"""The acks check: an event acknowledged to the client but not in the requests topic was
lost at the door; the offender names its trace and the fault window it was in flight in."""

from __future__ import annotations

from checks_stories import T0, Story, fault

from chaoskit.verdicts import AckedRequest, check_acks


def test_an_ack_without_a_record_names_its_trace_and_its_window() -> None:
    story = Story().acked(1, "e1").acked(6, "e2")
    acked = {
        "e1": AckedRequest("t-e1", T0 + 0.9, T0 + 1.0),
        "e2": AckedRequest("t-e2", T0 + 5.9, T0 + 6.0),
        "e3": AckedRequest("t-e3", T0 + 6.4, T0 + 6.5),  # acknowledged, never written
        "e0": AckedRequest("t-e0", T0 + 0.2, T0 + 0.3),  # before the fault: no window
    }
    result = check_acks(story.history, acked, fault("kill", 5, 10, target="kafka"))
    assert not result.ok
    assert [o.event_id for o in result.offenders] == ["e0", "e3"]
    lines = result.explain()
    assert (
        "e3 (trace t-e3): expected in the requests topic (acknowledged to the client); observed acknowledged at "
        '6.50s but not in the topic; fell in fault window "kill" [5.0s–10.0s]' in lines
    )
    assert "e0 (trace t-e0)" in lines and "outside any fault window" in lines


def test_every_ack_in_the_topic_passes_with_its_count() -> None:
    story = Story().acked(1, "e1")
    result = check_acks(story.history, {"e1": AckedRequest("t-e1", T0 + 0.9, T0 + 1.0)})
    assert result.ok and result.summary.startswith("all 1 events acknowledged")
