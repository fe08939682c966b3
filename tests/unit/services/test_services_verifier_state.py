"""The verifier's expected-state rebuild and comparison, on lists of events."""

from __future__ import annotations

from services.messages import DocumentEvent
from services.verifier import ExpectedDoc, VerifierReport, compare, expected_state


def _e(event_id: str, key: str, version: int, content: str | None = None) -> DocumentEvent:
    return DocumentEvent(event_id, key, content if content is not None else f"{key}@{version}", version)


def _stored(event: DocumentEvent) -> dict[str, str]:
    return {"version": str(event.version), "content": event.content, "event_id": event.event_id}


def test_expected_state_is_the_highest_version_per_key_in_any_order() -> None:
    events = [_e("a3", "a", 3), _e("a1", "a", 1), _e("b0", "b", 0), _e("a5", "a", 5), _e("a4", "a", 4)]
    state = expected_state(events)
    assert state == {
        "a": ExpectedDoc("a", 5, {"a5": "a@5"}),
        "b": ExpectedDoc("b", 0, {"b0": "b@0"}),
    }
    assert expected_state(list(reversed(events))) == state


def test_alerted_events_are_not_expected() -> None:
    events = [_e("a1", "a", 1), _e("a2", "a", 2), _e("c1", "c", 1)]
    assert expected_state(events, alerted_event_ids={"a2", "c1"}) == {"a": ExpectedDoc("a", 1, {"a1": "a@1"})}


def test_replays_and_ties_give_several_candidates() -> None:
    events = [_e("x", "k", 2), _e("x", "k", 2), _e("y", "k", 2, "other"), _e("z", "k", 1)]
    assert expected_state(events) == {"k": ExpectedDoc("k", 2, {"x": "k@2", "y": "other"})}


def test_key_prefix_filters_events() -> None:
    events = [_e("1", "run1-a", 1), _e("2", "run2-a", 1)]
    assert list(expected_state(events, key_prefix="run1-")) == ["run1-a"]


def test_compare_classifies_every_key() -> None:
    ok, stale, missing, newer, stranger, changed = (
        _e("ok", "ok", 2),
        _e("st", "st", 3),
        _e("mi", "mi", 1),
        _e("nw", "nw", 1),
        _e("sg", "sg", 1),
        _e("ch", "ch", 1),
    )
    expected = expected_state([ok, stale, missing, newer, stranger, changed])
    stored = {
        "ok": _stored(ok),
        "st": _stored(_e("st-old", "st", 2)),
        "nw": _stored(_e("alerted", "nw", 9)),
        "sg": _stored(_e("someone-else", "sg", 1)),
        "ch": {**_stored(changed), "content": "tampered"},
        "ghost": _stored(_e("g", "ghost", 1)),
    }
    index = {key: float(doc["version"]) for key, doc in stored.items()}
    report = compare(expected, stored, index)
    assert report.matching == ["ok"]
    assert [e["key"] for e in report.stale] == ["st"]
    assert report.stale[0]["expected_version"] == 3 and report.stale[0]["actual_version"] == 2
    assert [e["key"] for e in report.missing] == ["mi"]
    assert {e["key"]: e["reason"] for e in report.unexpected} == {
        "nw": "newer than any accepted requested event",
        "sg": "written by an event that is not a candidate",
        "ch": "content differs from the event's content",
        "ghost": "no accepted requested event for this key",
    }
    assert not report.ok


def test_compare_flags_an_index_that_disagrees_with_the_hash() -> None:
    doc = _e("a", "a", 2)
    report = compare(expected_state([doc]), {"a": _stored(doc)}, {"a": 1.0, "gone": 3.0})
    assert report.matching == ["a"]
    assert [(e["key"], e["index_version"]) for e in report.unexpected] == [("a", 1.0), ("gone", 3.0)]


def test_report_json_has_the_verdict_and_a_summary() -> None:
    report = VerifierReport(matching=["a"], events_read=1)
    as_dict = report.to_dict()
    assert as_dict["ok"] is True
    assert as_dict["summary"].startswith("1 matching, 0 missing, 0 stale, 0 unexpected")
