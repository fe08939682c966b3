"""The report as reviewers meet it: a pytest run with --alluredir, its results, the HTML
report from the pinned Allure CLI, and that report rendered in headless Chromium.

No servers are needed: the experiments below call ``report_experiment`` with synthetic
records, exactly as the experiment fixture does at the end of a real experiment.
"""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from chaoskit.report.gate import HOLD, run_gate
from chaoskit.report.html import generate_report
from chaoskit.report.policy import GatePolicy

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[3]

EXPERIMENTS = '''
import json
import time
from pathlib import Path

import pytest

from chaoskit.errors import ComponentStartError
from chaoskit.report import ExperimentRecord, report_experiment, step


def make_record(request, tmp_path: Path, ok: bool) -> ExperimentRecord:
    """As the experiment fixture builds it; ``meta`` is the chaos marker's kwargs (Experiment.meta)."""
    marker = request.node.get_closest_marker("chaos")
    t0 = time.time() - 60
    log = tmp_path / "workflow-service.log"
    log.write_text("\\n".join([
        json.dumps({"time": t0 - 500, "msg": "a line from an earlier experiment"}),
        json.dumps({"time": t0 + 12, "msg": "retrying document call", "trace_id": "t-42"}),
        "Traceback (most recent call last): kept, it has no time",
    ]) + "\\n")
    history = tmp_path / "history.jsonl"
    history.write_text('{"format": "chaoskit.history", "version": 1, "observations": 0}\\n')
    fault = lambda i: 20 <= i < 40
    return ExperimentRecord(
        name=request.node.name, started_at=t0, ended_at=t0 + 60, meta=dict(marker.kwargs) if marker else {},
        timeline_windows=[
            {"name": "latency", "target": "workflow-service->document-service", "params": {"ms": 800},
             "injected_at": t0 + 20, "healed_at": t0 + 40},
            {"name": "broker_loss", "target": "kafka", "params": {"mode": "kill"},
             "injected_at": t0 + 30, "healed_at": t0 + 45},
        ],
        seconds=[{"time": t0 + i, "requests": 50, "failures": 4 if fault(i) else 0, "rps": 20 if fault(i) else 50,
                  "p50": 10, "p95": 700 if fault(i) else 30, "p99": 900} for i in range(60)],
        phases={"baseline": {"requests": 1000, "failures": 0, "p95": 30},
                "fault": {"requests": 400, "failures": 80, "p95": 700}},
        checks=[("delivery", ok, "300/300 delivered" if ok else "2 of 300 events lost",
                 "" if ok else "e-3 (trace t-3): produced, acked, never applied; window latency"),
                ("dlq", True, "4 failed events dead-lettered with error and trace id", "")],
        history_path=history,
        offenders_csv_rows=[] if ok else [{"event_id": "e-3", "trace_id": "t-3", "expected": "applied",
                                             "observed": "lost", "window": "latency"}],
        service_logs={"workflow-service": log},
        dlq_sizes=[(t0 + i, max(0, i - 20) if i < 40 else 0) for i in range(60)],
        convergence=[(t0 + i, 0.8 if fault(i) else 1.0) for i in range(0, 60, 5)],
    )


@pytest.mark.chaos(title="Broker loss keeps every event", hypothesis="No acknowledged event is lost while Kafka restarts",
                   severity="critical", tags=("kafka", "nightly"))
def test_broker_loss(request, tmp_path):
    with step("inject broker_loss", target="kafka", mode="kill"):
        pass
    report_experiment(make_record(request, tmp_path, ok=True))


@pytest.mark.chaos(severity="blocker", feature="Document pipeline", story="slow downstream")
def test_slow_documents(request, tmp_path):
    report_experiment(make_record(request, tmp_path, ok=False))
    raise AssertionError("delivery: 2 of 300 events lost (e-3, e-9) during latency on workflow-service->document-service")


@pytest.fixture
def environment():
    raise ComponentStartError("kafka", "not healthy within 60 s", "ERROR Exiting Kafka")


@pytest.mark.chaos(severity="critical")
def test_needs_the_environment(environment):
    pass


def test_a_big_history_is_offered_gzipped(request, tmp_path, monkeypatch):
    import chaoskit.report.experiment_page as experiment_report

    monkeypatch.setattr(experiment_report, "INLINE_MAX_BYTES", 10)
    record = make_record(request, tmp_path, ok=True)
    record.service_logs["unreadable-service"] = tmp_path  # a directory: this evidence cannot be produced
    report_experiment(record)


@pytest.fixture
def experiment_reported_at_teardown(request, tmp_path):
    yield
    report_experiment(make_record(request, tmp_path, ok=True))


@pytest.mark.chaos(severity="minor")
def test_reported_from_a_fixture(experiment_reported_at_teardown):
    pass
'''


def run_experiments(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project above, run as users run it: a subprocess with --alluredir."""
    for key, value in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_RUN_ID": "777",
        "GITHUB_RUN_NUMBER": "12",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/orders",
        "GITHUB_WORKFLOW": "nightly chaos",
    }.items():
        monkeypatch.setenv(key, value)
    pytester.makepyfile(test_experiments=EXPERIMENTS)
    # registered the way chaoskit's main plugin does it (a no-op once it already has)
    pytester.makeconftest(
        "def pytest_configure(config):\n    config.pluginmanager.import_plugin('chaoskit.report.allure_plugin')\n"
    )
    results = pytester.path / "allure-results"
    run = pytester.runpytest_subprocess(
        "-p", "no:locust", "--alluredir", str(results), "--chaos-seed=1234", timeout=120
    )
    run.assert_outcomes(passed=3, failed=1, errors=1)
    return results


def by_name(results: Path) -> dict[str, dict[str, Any]]:
    found = [json.loads(p.read_text()) for p in results.glob("*-result.json")]
    return {r["name"]: r for r in found}


def labels(result: dict[str, Any], name: str) -> list[str]:
    return [label["value"] for label in result["labels"] if label["name"] == name]


def all_attachments(result_or_step: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(result_or_step.get("attachments", []))
    for child in result_or_step.get("steps", []):
        found += all_attachments(child)
    return found


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def test_results_carry_labels_steps_and_attachments(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    results = run_experiments(pytester, monkeypatch)
    tests = by_name(results)
    assert set(tests) == {
        "Broker loss keeps every event",
        "test_slow_documents",
        "test_needs_the_environment",
        "test_reported_from_a_fixture",
        "test_a_big_history_is_offered_gzipped",
    }

    ok = tests["Broker loss keeps every event"]
    assert ok["status"] == "passed"
    assert ok["description"] == "Hypothesis: No acknowledged event is lost while Kafka restarts"
    assert labels(ok, "severity") == ["critical"]
    assert sorted(labels(ok, "tag")) == ["kafka", "nightly"]
    assert labels(ok, "feature") == ["workflow-service->document-service", "kafka"]  # what was faulted
    assert labels(ok, "story") == ["latency", "broker_loss"]  # how
    assert {"name": "seed", "value": "1234", "excluded": True} in ok["parameters"]
    steps = [s["name"] for s in ok["steps"]]
    assert steps[:4] == [
        "inject broker_loss",
        "Fault timeline: 2 window(s)",
        "check delivery: 300/300 delivered",
        "check dlq: 4 failed events dead-lettered with error and trace id",
    ]
    assert ok["steps"][0]["parameters"] == [{"name": "target", "value": "kafka"}, {"name": "mode", "value": "kill"}]
    windows = ok["steps"][1]["steps"]
    assert [w["name"] for w in windows] == ["latency on workflow-service->document-service", "broker_loss on kafka"]
    assert {"name": "window", "value": "+20.0 s → +40.0 s"} in windows[0]["parameters"]
    assert all(s["status"] == "passed" for s in ok["steps"])

    attached = {a["name"]: a for a in all_attachments(ok)}
    assert set(attached) >= {
        "timeline: load, DLQ and convergence under faults",
        "load: per-second statistics",
        "load: statistics per phase",
        "load: statistics per phase (table)",
        "history: every event's fate (history.jsonl)",
        "log: workflow-service",
    }
    plot = attached["timeline: load, DLQ and convergence under faults"]
    assert plot["type"] == "image/png"
    assert png_size((results / plot["source"]).read_bytes()) == (1400, 900)
    log = (results / attached["log: workflow-service"]["source"]).read_text()
    assert "retrying document call" in log and "Traceback" in log and "earlier experiment" not in log
    per_phase = (results / attached["load: statistics per phase (table)"]["source"]).read_text()
    assert per_phase.splitlines()[0] == "phase,requests,failures,p95"

    red = tests["test_slow_documents"]
    assert red["status"] == "failed"
    assert labels(red, "feature") == ["Document pipeline"] and labels(red, "story") == ["slow downstream"]
    failed_check = next(s for s in red["steps"] if s["name"].startswith("check delivery"))
    assert failed_check["status"] == "failed"
    assert "e-3 (trace t-3)" in failed_check["statusDetails"]["message"]
    assert "offending events (1)" in {a["name"] for a in all_attachments(red)}

    gzipped = {a["name"]: a for a in all_attachments(tests["test_a_big_history_is_offered_gzipped"])}
    packed = gzipped["history: every event's fate (history.jsonl), gzipped"]
    assert packed["type"] == "application/gzip" and packed["source"].endswith(".jsonl.gz")
    assert gzip.decompress((results / packed["source"]).read_bytes()).startswith(b'{"format": "chaoskit.history"')
    assert gzipped["log: workflow-service, gzipped"]["source"].endswith(".log.gz")
    failure = (results / gzipped["report error: log of unreadable-service"]["source"]).read_text()
    assert "IsADirectoryError" in failure  # said in the report; the experiment itself still passed

    broken = tests["test_needs_the_environment"]
    assert broken["status"] == "broken"
    assert "ComponentStartError: kafka failed to start" in broken["statusDetails"]["message"]

    env = dict(line.split("=", 1) for line in (results / "environment.properties").read_text().splitlines())
    assert env["seed"] == "1234" and env["Kafka"] == "4.3.1" and env["Toxiproxy"] == "2.12.0"
    categories = json.loads((results / "categories.json").read_text())
    assert [c["name"] for c in categories[:3]] == [
        "Interrupted: no verdict (Ctrl-C, SIGTERM or the time budget stopped it)",
        "Inconclusive: the fault did not provoke what the hypothesis needs, or there was no evidence to judge",
        "Infrastructure failure: a component did not start",
    ]
    executor = json.loads((results / "executor.json").read_text())
    assert executor["buildUrl"] == "https://github.com/acme/orders/actions/runs/777" and executor["buildOrder"] == 12

    decision = run_gate(results, GatePolicy(), pytester.path / "gate")
    assert decision.verdict == HOLD and decision.exit_code == 1
    assert any("ComponentStartError" in r for r in decision.reasons)  # listed, not hidden


def test_a_fixture_teardown_report_lands_in_the_tests_tear_down(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record a user's own fixture files at teardown: Allure shows it under Tear down (the
    ``experiment`` fixture files its own during the test instead: see the plugin tests)."""
    results = run_experiments(pytester, monkeypatch)
    test = by_name(results)["test_reported_from_a_fixture"]
    assert labels(test, "story") == ["latency", "broker_loss"]
    containers = [json.loads(p.read_text()) for p in results.glob("*-container.json")]
    afters = [a for c in containers if test["uuid"] in c.get("children", []) for a in c.get("afters", [])]
    names = {a["name"] for after in afters for a in all_attachments(after)}
    assert "timeline: load, DLQ and convergence under faults" in names


def test_html_report_renders_in_headless_chromium(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    allure_binary: Path,
    browser: Any,
    serve: Callable[[Path], AbstractContextManager[str]],
) -> None:
    results = run_experiments(pytester, monkeypatch)
    report = pytester.path / "allure-report"
    single = pytester.path / "allure-single"
    index = generate_report(results, report, single)
    assert index == report / "index.html" and index.exists()
    assert (single / "index.html").stat().st_size > 100_000  # everything inlined
    # Allure itself filed the failures with our categories
    filed = json.loads((report / "data" / "categories.json").read_text())
    assert {c["name"] for c in filed["children"]} == {
        "Infrastructure failure: a component did not start",
        "Resilience failure: delivery",
    }
    # a second run carries the first one's history forward: the trend has two points
    generate_report(results, report)
    assert (results / "history" / "history-trend.json").exists()
    assert len(json.loads((report / "history" / "history-trend.json").read_text())) == 2

    case = next(
        json.loads(p.read_text())
        for p in (report / "data" / "test-cases").glob("*.json")
        if json.loads(p.read_text())["name"] == "Broker loss keeps every event"
    )
    with serve(report) as base:
        overview = browser.dump_dom(f"{base}/index.html")
        assert "chaoskit" in overview and "Environment" in overview and "4.3.1" in overview
        page = browser.dump_dom(f"{base}/index.html#testresult/{case['uid']}")
        for text in (
            "Broker loss keeps every event",
            "No acknowledged event is lost while Kafka restarts",
            "Fault timeline: 2 window(s)",
            "check delivery: 300/300 delivered",
            "timeline: load, DLQ and convergence under faults",
        ):
            assert text in page, f"{text!r} not in the rendered test page"
        categories = browser.dump_dom(f"{base}/index.html#categories")
        assert "Resilience failure: delivery" in categories
        shots = ROOT / "reports"
        for url, name in (
            (f"{base}/index.html", "allure-screenshot.png"),
            (f"{base}/index.html#testresult/{case['uid']}", "allure-testresult-screenshot.png"),
        ):
            png = browser.screenshot(url, shots / name).read_bytes()
            assert png_size(png) == (1400, 900) and len(png) > 20_000
