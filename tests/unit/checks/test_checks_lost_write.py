"""Lost writes: a stale no-op above every version written to its key is a write that was lost."""

from checks_stories import Story, fault

from chaoskit.checks import check_lost_writes
from chaoskit.observe.history import Kind

REDIS_DOWN = "down workflow-service->redis"


def noop(story: Story, t: float, event: str, key: str, version: int, outcome: str | None = "stale") -> Story:
    detail = {"key": key, "version": version, "applied": False}
    if outcome is not None:
        detail["outcome"] = outcome
    return story.add(t, event, Kind.APPLIED, "documents.processed", **detail)


def test_stale_no_ops_under_a_newer_write_pass_and_say_what_was_judged():
    story = Story().delivered(1, "e2", key="k1", version=2)
    noop(story.acked(2, "e1", key="k1", version=1), 2.2, "e1", "k1", 1)
    noop(story.acked(3, "e2b", key="k1", version=2), 3.2, "e2b", "k1", 2)  # same version, another event: stale

    result = check_lost_writes(story.history)

    assert result.ok, result.explain()
    assert (
        result.summary
        == "each of 2 stale no-ops is covered by a version at least as new written to its key (1 key written)"
    )


def test_a_stale_no_op_above_every_written_version_is_a_lost_write():
    story = Story().delivered(1, "e1", key="k1", version=1)
    noop(story.acked(2, "e2", key="k1", version=5), 2.5, "e2", "k1", 5)

    result = check_lost_writes(story.history, timeline=fault(REDIS_DOWN, 2.0, 3.0, target="workflow-service->redis"))

    assert not result.ok
    assert result.summary.startswith("1 stale no-op above every version written to its key: lost writes (e2)")
    [offender] = result.offenders
    assert (offender.event_id, offender.trace_id) == ("e2", "t-e2")
    assert offender.expected == "version 5 written to k1, or an equal or newer one written there"
    assert offender.observed.startswith("reported stale at 2.50s but the highest version written to k1 is 1: ")
    assert offender.fault_window == '"down workflow-service->redis" [2.0s–3.0s]'


def test_a_stale_no_op_on_a_key_never_written_is_lost_and_a_no_op_without_outcome_is_judged_as_stale():
    story = Story()
    noop(story.acked(1, "e1", key="k9", version=1), 1.5, "e1", "k9", 1)
    noop(story.acked(2, "e2", key="k8", version=3), 2.5, "e2", "k8", 3, outcome=None)

    first, second = check_lost_writes(story.history).offenders

    assert "reported stale at 0.50s but nothing written to k9" in first.observed
    assert "reported a no-op at 1.50s but nothing written to k8" in second.observed


def test_a_duplicate_proves_its_version_was_written_even_without_an_observed_effect():
    story = Story()
    noop(story.acked(1, "e2", key="k1", version=2), 1.5, "e2", "k1", 2, outcome="duplicate")  # its effect went unseen
    noop(story.acked(2, "e1", key="k1", version=1), 2.5, "e1", "k1", 1)

    assert check_lost_writes(story.history).ok


def test_the_key_is_taken_from_the_event_when_the_no_op_lacks_it_and_unversioned_no_ops_are_counted():
    story = Story().delivered(1, "e1", key="k1", version=1)
    story.acked(2, "e2", key="k1", version=4).add(2.5, "e2", Kind.APPLIED, applied=False, outcome="stale", version=4)
    story.acked(3, "e3").add(3.5, "e3", Kind.APPLIED, applied=False, outcome="stale")

    result = check_lost_writes(story.history)

    assert [o.event_id for o in result.offenders] == ["e2"]
    assert result.summary.endswith("1 stale no-op judged on 1 key; 1 stale no-op without key or version not judged")


def test_an_empty_history_passes_with_nothing_judged():
    result = check_lost_writes(Story().history)
    assert (
        result.ok
        and result.summary
        == "each of 0 stale no-ops is covered by a version at least as new written to its key (0 keys written)"
    )
