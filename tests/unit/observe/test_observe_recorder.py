"""The recorder's pure part: merging what Kafka and the logs witnessed into one record."""

import pytest

from chaoskit.errors import ChaoskitError
from chaoskit.observe.history import Kind, Observation
from chaoskit.observe.recorder import OTHER_TRACE, OTHER_WITNESS, Recorder, reconcile
from chaoskit.observe.topic_records import Topics


def seen(event: str, kind: Kind, where: str, t: float = 1.0, **detail) -> Observation:
    return Observation(t, event, "t-" + event, kind, where, detail)


def test_the_same_fact_from_both_witnesses_counts_once_kafka_first():
    kafka = [seen("e1", Kind.ALERTED, "ops.alerts"), seen("e1", Kind.ACKED, "documents.requested")]
    logs = [seen("e1", Kind.ALERTED, "redriver", 1.1), seen("e1", Kind.FAILED, "redriver")]
    merged, dropped = reconcile(kafka, logs)
    assert {(o.kind, o.where) for o in merged} == {
        (Kind.ACKED, "documents.requested"),
        (Kind.FAILED, "redriver"),
        (Kind.ALERTED, "ops.alerts"),
    }
    assert dropped == 1


def test_the_witness_that_saw_more_wins_so_real_duplicates_survive():
    kafka = [seen("e1", Kind.APPLIED, "documents.processed")]
    logs = [seen("e1", Kind.APPLIED, "workflow-service"), seen("e1", Kind.APPLIED, "redriver", 2.0)]
    merged, _ = reconcile(kafka, logs)
    assert [o.where for o in merged] == ["workflow-service", "redriver"]


def test_effects_and_no_ops_are_counted_apart():
    kafka = [seen("e1", Kind.APPLIED, "documents.processed", applied=False, outcome="duplicate")]
    logs = [seen("e1", Kind.APPLIED, "workflow-service")]  # the effect whose processed record was lost
    merged, dropped = reconcile(kafka, logs)
    assert len(merged) == 2 and dropped == 0


def test_a_folded_copy_that_lost_the_trace_stays_visible_on_the_kept_one():
    kafka = [seen("e1", Kind.ALERTED, "ops.alerts", attempts=4)]
    logs = [seen("e1", Kind.ALERTED, "redriver", 1.1, attempts=4)._replace(trace_id=None)]
    merged, dropped = reconcile(kafka, logs)
    [alert] = merged
    assert (alert.where, alert.trace_id) == ("ops.alerts", "t-e1")
    assert alert.detail == {"attempts": 4, OTHER_WITNESS: "redriver", OTHER_TRACE: None}
    assert dropped == 1, "one copy folded away, its trace kept on the other"


def test_a_folded_kafka_copy_with_another_trace_is_noted_on_the_log_copy_it_lost_to():
    kafka = [seen("e1", Kind.APPLIED, "documents.processed")._replace(trace_id="t-other")]
    logs = [seen("e1", Kind.APPLIED, "workflow-service"), seen("e1", Kind.APPLIED, "redriver", 2.0)]
    merged, dropped = reconcile(kafka, logs)
    assert [(o.where, o.detail) for o in merged] == [
        ("workflow-service", {OTHER_WITNESS: "documents.processed", OTHER_TRACE: "t-other"}),
        ("redriver", {}),
    ]
    assert dropped == 1


def test_stop_before_start_is_refused():
    recorder = Recorder("127.0.0.1:1", Topics("a", "b", "c", "d"))
    with pytest.raises(ChaoskitError, match="before start"):
        recorder.stop()


def test_an_unreachable_broker_is_a_clear_error_within_the_connect_timeout():
    recorder = Recorder("127.0.0.1:1", Topics("a", "b", "c", "d"), connect_timeout_s=0.5)
    with pytest.raises(ChaoskitError, match="recorder: cannot read Kafka at 127.0.0.1:1"):
        recorder.start()
