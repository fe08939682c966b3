"""Consistency: the state converges to the expected state within a bound after the heal."""

import pytest
from checks_stories import T0, fault

from chaoskit.checks import check_consistency, check_convergence
from chaoskit.checks.consistency import differences
from chaoskit.errors import ConfigError

EXPECTED = {
    "k1": {"version": 2, "content": "two", "event_id": "e2", "trace_id": "t-e2"},
    "k2": {"version": 1, "content": "one", "event_id": "e3", "trace_id": "t-e3"},
}
CONVERGED = {
    "k1": {"version": "2", "content": "two", "event_id": "e2", "applied_at": "123.4"},
    "k2": {"version": "1", "content": "one", "event_id": "e3", "applied_at": "123.5"},
}
STUCK = {"k1": {"version": "1", "content": "one", "event_id": "e1"}}
HEAL = T0 + 20.0


def test_differences_compare_as_text_and_ignore_other_fields():
    assert differences(EXPECTED, CONVERGED) == {}
    assert differences(EXPECTED, STUCK) == {
        "k1": ("doc:k1 version=2 content=two event_id=e2", "doc:k1 version=1 content=one event_id=e1"),
        "k2": ("doc:k2 version=1 content=one event_id=e3", "doc:k2 missing"),
    }
    assert differences({}, STUCK) == {"k1": ("no doc:k1", "doc:k1 version=1 content=one event_id=e1")}


def test_converging_within_the_bound_reports_the_time():
    snapshots = [(HEAL + 0.5, STUCK), (HEAL + 1.5, STUCK), (HEAL + 2.25, CONVERGED)]
    result = check_convergence(EXPECTED, snapshots, bound_s=5, since=HEAL, timeline=fault("down redis", 10.0, 20.0))
    assert result.ok
    assert result.summary == (
        'state converged to the expected 2 keys in 2.25s (bound 5s, measured from the heal of "down redis" [10.0s–20.0s])'
    )


def test_state_that_never_converges_names_every_differing_key():
    snapshots = [(HEAL + t, STUCK) for t in (1, 2, 3, 4, 5, 6)]

    result = check_convergence(EXPECTED, snapshots, bound_s=5, since=HEAL)

    assert not result.ok
    assert result.summary.startswith("state did not converge within 5s (never converged): 2 of 2 keys differ")
    assert "(e2, e3)" in result.summary
    first, second = result.offenders
    assert (first.event_id, first.trace_id) == ("e2", "t-e2")
    assert first.expected == "doc:k1 version=2 content=two event_id=e2"
    assert first.observed == "doc:k1 version=1 content=one event_id=e1 at 5.00s"
    assert second.observed == "doc:k2 missing at 5.00s"


def test_converging_only_after_the_bound_fails_and_says_when():
    snapshots = [(HEAL + 1, STUCK), (HEAL + 9, CONVERGED)]
    result = check_convergence(EXPECTED, snapshots, bound_s=5, since=HEAL)
    assert not result.ok
    assert "(converged only at 9.00s)" in result.summary


def test_live_polling_stops_at_the_first_match():
    states = iter([STUCK, STUCK, CONVERGED])
    reads = []

    def observe():
        reads.append(1)
        return next(states)

    result = check_consistency(EXPECTED, observe, bound_s=5, poll_s=0.01)
    assert result.ok, result.explain()
    assert len(reads) == 3


def test_live_polling_gives_up_at_the_bound():
    result = check_consistency(EXPECTED, lambda: STUCK, bound_s=0.05, poll_s=0.01)
    assert not result.ok
    assert [o.event_id for o in result.offenders] == ["e2", "e3"]


def test_bad_bounds_are_refused():
    with pytest.raises(ConfigError, match="bound_s=0"):
        check_consistency(EXPECTED, lambda: STUCK, bound_s=0, poll_s=0.1)
