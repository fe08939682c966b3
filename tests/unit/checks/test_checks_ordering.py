"""Ordering: per key, applied versions never go backwards."""

from checks_stories import Story, fault

from chaoskit.checks import check_ordering
from chaoskit.observe.history import Kind


def test_versions_rising_per_key_pass():
    story = Story().delivered(1, "a1", key="a", version=1).delivered(2, "b1", key="b", version=5)
    story.delivered(3, "a2", key="a", version=2).delivered(4, "a3", key="a", version=2)
    story.add(5, "a0", Kind.APPLIED, key="a", version=0, applied=False)  # a stale no-op is fine

    result = check_ordering(story.history)

    assert result.ok, result.explain()
    assert result.summary == "applied versions never went backwards: 4 effects on 2 keys"


def test_version_going_backwards_is_named_with_the_newer_write():
    story = Story().delivered(1, "a2", key="a", version=2).delivered(2, "b1", key="b", version=1)
    story.delivered(6, "a-stale", key="a", version=1)

    result = check_ordering(story.history, timeline=fault("partition redriver->redis", 5.0, 7.0))

    assert not result.ok
    assert "1 applied version went backwards (a-stale)" in result.summary
    [offender] = result.offenders
    assert (offender.event_id, offender.trace_id) == ("a-stale", "t-a-stale")
    assert offender.expected == "version ≥ 2 on key a (applied by a2 at 1.16s)"
    assert offender.observed.startswith("applied version 1 at 6.16s: ")
    assert offender.fault_window == '"partition redriver->redis" [5.0s–7.0s]'


def test_key_from_another_observation_and_unversioned_effects():
    story = Story().acked(1, "e1", key="a", version=3).add(1.5, "e1", Kind.APPLIED, version=3)
    story.acked(2, "e2", key="a", version=2).add(2.5, "e2", Kind.APPLIED, version=2)
    story.add(3, "e3", Kind.APPLIED)

    result = check_ordering(story.history)

    assert [o.event_id for o in result.offenders] == ["e2"]
    assert "1 effect without key or version not judged" in result.summary
