"""The small pieces of the report: log cutting, CSV, marker labels, no-op safety."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaoskit.report import ExperimentRecord, attach_csv, attach_json, attach_text, report_experiment, step
from chaoskit.report.allure_plugin import marks_for
from chaoskit.report.attachments import csv_text
from chaoskit.report.logs import cut_log
from chaoskit.report.steps import collecting


def test_log_is_cut_to_the_window_keeping_lines_without_time(tmp_path: Path) -> None:
    log = tmp_path / "workflow-service.log"
    lines = [
        json.dumps({"time": 100.0, "msg": "earlier experiment"}),
        json.dumps({"time": 199.5, "msg": "just before: clock slack"}),
        json.dumps({"time": 250.0, "msg": "inside", "trace_id": "t-1"}),
        "Traceback (most recent call last):",
        '  File "x.py", line 1',
        json.dumps({"time": 301.5, "msg": "after"}),
        json.dumps({"msg": "no time field"}),
        "{not json",
        json.dumps({"msg": "time not first, still read", "time": 260}),
        json.dumps({"msg": "time not first, outside", "time": 900}),
        '{"time":2.5e2,"msg":"exponent"}',
        json.dumps({"time": True, "msg": "not a time"}),
    ]
    log.write_text("\n".join(lines) + "\n")
    cut = cut_log(log, 200.0, 300.0).splitlines()
    assert cut == [lines[i] for i in (1, 2, 3, 4, 6, 7, 8, 10, 11)]


def test_csv_columns_follow_first_seen_keys_or_the_given_header() -> None:
    rows = [{"event_id": "e1", "fate": "lost"}, {"event_id": "e2", "trace_id": "t2", "fate": "duplicated"}]
    assert csv_text(rows) == "event_id,fate,trace_id\ne1,lost,\ne2,duplicated,t2\n"
    assert csv_text(rows, ["fate"]) == "fate\nlost\nduplicated\n"


def test_marker_kwargs_become_allure_marks() -> None:
    marks = marks_for(
        "exp.py::test_x",
        {
            "title": "Broker loss",
            "hypothesis": "no event is lost",
            "severity": "critical",
            "tags": ("kafka", "nightly"),
            "feature": "delivery",
            "story": "broker_loss",
        },
    )
    got = [(m.name, m.args, m.kwargs) for m in marks]
    assert got == [
        ("allure_label", ("critical",), {"label_type": "severity"}),
        ("allure_label", ("kafka",), {"label_type": "tag"}),
        ("allure_label", ("nightly",), {"label_type": "tag"}),
        ("allure_label", ("delivery",), {"label_type": "feature"}),
        ("allure_label", ("broker_loss",), {"label_type": "story"}),
        ("allure_description", ("Hypothesis: no event is lost",), {}),
    ]
    assert [m.args for m in marks_for("exp.py::test_y", {"tags": "solo"})] == [("normal",), ("solo",)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"severity": "high"},
            "exp.py::test_x: @pytest.mark.chaos(severity='high'): severity must be one of "
            "blocker, critical, normal, minor, trivial",
        ),
        ({"tags": 3}, "exp.py::test_x: @pytest.mark.chaos(tags=3): tags must be a string or a list of strings"),
        ({"tags": ["ok", 3]}, "tags must be a string or a list of strings"),
        ({"title": 5}, "@pytest.mark.chaos(title=5): title must be a string"),
    ],
)
def test_bad_marker_values_are_usage_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(pytest.UsageError) as err:
        marks_for("exp.py::test_x", kwargs)
    assert message in str(err.value)


def test_everything_is_a_no_op_without_alluredir(tmp_path: Path) -> None:
    """Without --alluredir nothing collects, nothing fails, and no plot is drawn."""
    if collecting():
        pytest.skip("this run collects Allure results (--alluredir); the no-op path is not reachable")
    with step("inject latency", target="a->b", ms=500):
        attach_text("t", "x")
        attach_json("j", {"path": tmp_path})
        attach_csv("c", [{"a": 1}])
    report_experiment(ExperimentRecord(name="x", started_at=0.0, ended_at=1.0, history_path=tmp_path / "missing"))


def test_step_propagates_the_exception_unchanged() -> None:
    with pytest.raises(KeyError, match="boom"), step("a step that breaks"):
        raise KeyError("boom")


def test_a_record_from_the_objects_an_experiment_holds(tmp_path: Path) -> None:
    from chaoskit.checks.result import CheckResult, Offender
    from chaoskit.load.phases import PhaseStats
    from chaoskit.load.records import SecondStats
    from chaoskit.observe.timeline import Timeline

    timeline = Timeline(origin=100.0)
    timeline.record_heal(timeline.record_inject("latency", "workflow-service->kafka", {"ms": 500}, at=110.0), at=130.0)
    lost = CheckResult(
        "delivery",
        False,
        "lost 1 of 3 acked events (e-3)",
        (Offender("e-3", "t-3", "applied once", "acked@2.10s; never applied", '"latency" [10.0s–30.0s]'),),
    )
    record = ExperimentRecord.from_run(
        "test_x",
        100.0,
        160.0,
        timeline=timeline,
        results=[lost, CheckResult("ordering", True, "2 effects on 1 keys")],
        seconds=[SecondStats(101.0, 10, 0, 10.0, 5.0, 9.0, None, 4)],
        phases=[PhaseStats("latency", "during", 110.0, 130.0, 200, 3, 10.0, 80.0, 120.0)],
        meta={"severity": "critical"},
    )
    assert record.timeline_windows == [
        {
            "id": 0,
            "name": "latency",
            "target": "workflow-service->kafka",
            "params": {"ms": 500},
            "injected_at": 110.0,
            "healed_at": 130.0,
        }
    ]
    assert record.check_outcomes()[0] == ("delivery", False, "lost 1 of 3 acked events (e-3)", lost.explain(), True)
    assert record.offenders_csv_rows == [
        {
            "check": "delivery",
            "event_id": "e-3",
            "trace_id": "t-3",
            "expected": "applied once",
            "observed": "acked@2.10s; never applied",
            "fault_window": '"latency" [10.0s–30.0s]',
        }
    ]
    assert record.seconds[0]["p99"] is None and record.seconds[0]["users"] == 4
    assert list(record.phases) == ["latency during"] and record.phases["latency during"]["failures"] == 3
    assert record.fault_targets() == ["workflow-service->kafka"] and record.meta == {"severity": "critical"}
