"""Retry: backoff between attempts, at most max attempts, exactly one alert at the end."""

import pytest
from checks_stories import Story, fault

from chaoskit.checks import backoff_s, check_retry
from chaoskit.errors import ConfigError
from chaoskit.observe.history import Kind

POLICY = {"base_s": 1.0, "factor": 2.0, "cap_s": 3.0, "max_attempts": 3}
SLOW = "latency document-service 2s"


def exhausted(story: Story, event: str, start: float = 1.0) -> Story:
    """Three failed attempts, each retried after its backoff (1 s, then 2 s)."""
    story.acked(start - 0.5, event)
    story.failed(start, event, 1).failed(start + 1.2, event, 2, where="redriver")
    return story.failed(start + 3.4, event, 3, where="redriver")


def test_backoff_grows_by_factor_up_to_the_cap():
    assert [backoff_s(n, 1.0, 2.0, 3.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 3.0]


def test_retries_on_backoff_with_one_alert_pass():
    story = Story().delivered(0, "e-ok")
    story.acked(0.5, "e-retried").failed(1, "e-retried", 1).applied(2.15, "e-retried", attempt=2)
    exhausted(story, "e-dead").alerted(4.6, "e-dead", 3)

    result = check_retry(story.history, **POLICY)

    assert result.ok, result.explain()
    assert result.summary == (
        "2 retried events respected the backoff (base 1s × 2^(n-1), cap 3s, tolerance 0.05s) and max 3 attempts; "
        "1 exhausted event raised exactly one alert each"
    )


def test_retry_sooner_than_backoff_is_named_with_the_gap():
    story = Story().acked(0.5, "e-eager").failed(1, "e-eager", 1).failed(1.5, "e-eager", 2)

    result = check_retry(story.history, **POLICY, timeline=fault(SLOW, 1.4, 1.6))

    assert not result.ok
    assert "retry policy broken by 1 event (e-eager)" in result.summary
    [offender] = result.offenders
    assert (offender.event_id, offender.trace_id) == ("e-eager", "t-e-eager")
    assert offender.expected.startswith("attempt 2 at least 1.00s after attempt 1 failed")
    assert offender.observed.startswith("attempt 2 at 1.50s came 0.40s after attempt 1 failed at 1.10s: ")
    assert offender.fault_window == '"latency document-service 2s" [1.4s–1.6s]'


def test_gap_counts_from_the_services_own_failure_time():
    story = Story().acked(0.5, "e1").add(1, "e1", Kind.ATTEMPTED, attempt=1)
    story.add(1.9, "e1", Kind.FAILED, attempt=1, error="boom", failed_at=1_800_000_001.1)
    story.add(2.15, "e1", Kind.ATTEMPTED, attempt=2)
    result = check_retry(story.history, **POLICY)
    assert result.ok, result.explain()


def test_more_than_max_attempts():
    story = exhausted(Story(), "e-many")
    story.failed(8.0, "e-many", 4, where="redriver").alerted(8.2, "e-many", 4)

    [offender] = check_retry(story.history, **POLICY).offenders

    assert offender.event_id == "e-many"
    assert offender.expected == "at most 3 attempts"
    assert offender.observed.startswith("4 attempts: ")


def test_missing_alert_after_the_last_attempt_failed():
    story = exhausted(Story(), "e-silent")
    result = check_retry(story.history, **POLICY, timeline=fault(SLOW, 0.0, 10.0))
    [offender] = result.offenders
    assert offender.event_id == "e-silent"
    assert offender.expected == "exactly one alert once the last attempt failed"
    assert offender.observed.startswith("no alert after attempt 3 failed: ")
    assert offender.fault_window == '"latency document-service 2s" [0.0s–10.0s]'


def test_doubled_alert():
    story = exhausted(Story(), "e-loud").alerted(4.6, "e-loud", 3).alerted(4.7, "e-loud", 3)
    [offender] = check_retry(story.history, **POLICY).offenders
    assert offender.event_id == "e-loud"
    assert offender.observed.startswith("2 alerts after attempt 3 failed")


def test_alert_for_an_event_that_was_not_exhausted_is_a_false_alarm():
    story = Story().acked(0.5, "e-alarm").failed(1, "e-alarm", 1).alerted(1.2, "e-alarm", 1)
    [offender] = check_retry(story.history, **POLICY).offenders
    assert offender.expected == "no alert before the last allowed attempt failed"
    assert offender.observed.startswith("1 alert(s) although only 1 of 3 attempts ran")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"base_s": 0}, "base_s"),
        ({"factor": 0.5}, "factor"),
        ({"cap_s": 0.5}, "cap_s"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_bad_policy_is_refused_naming_the_field(override, field):
    with pytest.raises(ConfigError, match=f"{field}="):
        check_retry(Story().history, **{**POLICY, **override})
