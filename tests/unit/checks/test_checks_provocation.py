"""What the fault provoked, and whether there was evidence at all: pass or unknown, never a
vacuous pass."""

from __future__ import annotations

import pytest
from checks_stories import T0, Story, fault

from chaoskit.checks.provocation import PROVOCATIONS, check_provoked, normalize, provoked_counts
from chaoskit.checks.result import CheckResult
from chaoskit.checks.vacuity import RecordFigures, check_evidence
from chaoskit.errors import ExperimentInconclusive
from chaoskit.experiment import conclude
from chaoskit.observe.history import Kind


def test_a_fault_that_provoked_nothing_leaves_the_hypothesis_untested() -> None:
    story = Story().delivered(1, "e1").delivered(2, "e2")
    result = check_provoked({"redelivered": 1, "dead-lettered": 1}, story.history)
    assert result.outcome == "unknown" and not result.ok
    assert "0 redelivered (needs >= 1), 0 dead-lettered (needs >= 1)" in result.summary
    assert result.explain().startswith("UNKNOWN provoked: the fault did not provoke")


def test_a_redelivery_and_a_dlq_entry_are_counted_per_event() -> None:
    story = Story().delivered(1, "e1").add(3, "e1", Kind.CONSUMED).applied(3.1, "e1")
    story.acked(1, "e2").failed(2, "e2", attempt=1).failed(4, "e2", attempt=2)
    counts = provoked_counts(story.history)
    assert (counts["redelivered"], counts["dead-lettered"], counts["failed"]) == (1, 1, 1)
    assert check_provoked({"redelivered": 1, "dead-lettered": 1}, story.history).outcome == "pass"
    assert check_provoked({"dead-lettered": 2}, story.history).outcome == "unknown"


def test_held_back_means_acked_in_the_window_and_applied_only_after_the_heal() -> None:
    story = Story().delivered(1, "before")
    story.acked(5, "held").add(13, "held", Kind.CONSUMED).applied(13.1, "held")
    story.delivered(6, "not-held")  # acked in the window but applied in it: the fault did not hold it back
    timeline = fault("partition", 4, 12)
    assert provoked_counts(story.history, timeline)["held-back"] == 1
    assert check_provoked({"held-back": 1}, story.history, timeline).ok


def test_counts_measured_outside_the_history_are_judged_too() -> None:
    assert check_provoked({"rollback": 1}, counted={"rollback": 1}).ok
    result = check_provoked({"rollback": 1})
    assert result.outcome == "unknown" and "never measured: rollback" in result.summary


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({"redelivery": 1}, "provokes 'redelivery' is not something chaoskit counts; allowed: produced"),
        ({"redelivered": 0}, "provokes['redelivered'] = 0 must be a whole number >= 1"),
        (3, "provokes=3 must be a name, a list of names or a mapping"),
    ],
)
def test_bad_declarations_are_refused_naming_the_allowed_values(declared: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        normalize(declared, "exp")


def test_declarations_read_as_minimum_counts() -> None:
    assert normalize("dead-lettered", "x") == {"dead-lettered": 1}
    assert normalize(["redriven", "alerted"], "x") == {"redriven": 1, "alerted": 1}
    assert normalize({"held-back": 5}, "x") == {"held-back": 5}
    assert {"redelivered", "held-back", "rollback", "dead-lettered"} <= set(PROVOCATIONS)


def test_no_acknowledgement_is_no_evidence() -> None:
    """The new user's run: 62 of 62 requests answered 404, nothing acknowledged."""
    samples = [(T0 + i * 0.1, 3.0, False) for i in range(62)]
    result = check_evidence(samples=samples, acked=0, record=RecordFigures(0, 0, True))
    assert result.outcome == "unknown"
    assert "the load got no acknowledgement (62 requests sent, 0 acknowledged)" in result.summary
    assert "most load requests failed outside every fault window (62 of 62)" in result.summary


def test_failures_inside_a_fault_window_are_the_fault_not_a_missing_target() -> None:
    timeline = fault("down", 0, 10)
    samples = [(T0 + t, 3.0, t >= 10) for t in range(15)]  # 10 failed, all inside the window
    assert check_evidence(samples=samples, acked=5, record=None, timeline=timeline).ok


def test_a_record_the_contract_does_not_fit_is_no_evidence() -> None:
    skipped = check_evidence(samples=None, acked=None, record=RecordFigures(161, 161, True))
    assert skipped.outcome == "unknown" and "could not read 161 of 161 records" in skipped.summary
    behind = check_evidence(samples=None, acked=None, record=RecordFigures(10, 0, False))
    assert behind.outcome == "unknown" and "did not catch up" in behind.summary
    fine = check_evidence(samples=None, acked=None, record=RecordFigures(100, 3, True))
    assert fine.ok and "97 of 100 records understood" in fine.summary


def test_conclude_fails_on_a_failure_and_is_inconclusive_on_an_unknown() -> None:
    passed = CheckResult("delivery", True, "all 3 applied")
    failed = CheckResult("delivery", False, "1 of 3 lost")
    unknown = CheckResult.unknown("provoked", "0 redelivered (needs >= 1)")
    no_evidence = CheckResult.unknown("evidence", "no evidence worth judging")
    conclude([passed])
    with pytest.raises(AssertionError, match="FAILED delivery"):
        conclude([failed, unknown])  # a definite failure stands whatever else could not decide
    with pytest.raises(ExperimentInconclusive, match="UNKNOWN provoked"):
        conclude([passed, unknown])
    with pytest.raises(ExperimentInconclusive, match=r"(?s)UNKNOWN evidence.*checks run on that evidence.*FAILED"):
        conclude([no_evidence, failed])  # checks over evidence that cannot be trusted cannot decide
