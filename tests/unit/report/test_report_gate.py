"""The release gate on hand-written Allure result sets: every verdict, and its exit code."""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from chaoskit.checks.load import LoadFigures, check_load
from chaoskit.report import commands as report_cli
from chaoskit.report.gate import (
    ENVIRONMENT_FAILURE,
    EXPERIMENT_ERROR_VERDICT,
    HOLD,
    INTERRUPTED_RUN,
    PASS,
    decide,
    run_gate,
    summary_table,
)
from chaoskit.report.policy import GatePolicy
from chaoskit.report.run_file import RunFile

POLICY = GatePolicy(required_severities=("blocker", "critical"), required=("test_baseline*",), max_failed=0)

START_ERROR = (
    "chaoskit.errors.ComponentStartError: kafka failed to start: not healthy within 60 s\n"
    "--- last lines of the kafka log ---\nERROR Exiting Kafka"
)


def result(
    test: str,
    status: str = "passed",
    severity: str = "normal",
    message: str | None = None,
    name: str | None = None,
    stop: int = 2000,
    history: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "historyId": history or f"h-{test}",
        "name": name or test,
        "fullName": f"experiments.test_kafka#{test}",
        "status": status,
        "start": 1000,
        "stop": stop,
        "labels": [{"name": "severity", "value": severity}, {"name": "feature", "value": "kafka"}],
        "steps": [],
    }
    if message is not None:
        data["statusDetails"] = {"message": message, "trace": "Traceback ..."}
    return data


def write(results: Path, *items: dict[str, Any]) -> Path:
    results.mkdir(parents=True, exist_ok=True)
    for item in items:
        (results / f"{item['uuid']}-result.json").write_text(json.dumps(item))
    # files a real run also holds, which the gate must ignore
    (results / "categories.json").write_text("[]")
    (results / f"{uuid.uuid4()}-container.json").write_text("{}")
    return results


def test_a_green_run_passes(tmp_path: Path) -> None:
    results = write(
        tmp_path / "r",
        result("test_baseline_throughput", severity="critical"),
        result("test_broker_loss", severity="blocker", name="Broker loss keeps every event"),
        result("test_slow_documents", severity="minor"),
    )
    decision = run_gate(results, POLICY, tmp_path / "out")
    assert (decision.verdict, decision.exit_code) == (PASS, 0)
    assert decision.reasons == []
    gate = json.loads((tmp_path / "out" / "gate.json").read_text())
    assert gate["verdict"] == "pass" and gate["counts"] == {"passed": 3}
    by_name = {e["name"]: e for e in gate["experiments"]}
    assert by_name["Broker loss keeps every event"]["required_by"] == "severity blocker"
    assert by_name["test_baseline_throughput"]["required_by"] == "severity critical, required test_baseline*"
    assert by_name["test_slow_documents"]["required_by"] == ""
    assert "PASS" in (tmp_path / "out" / "gate.md").read_text()


def test_a_failed_required_check_holds_the_release(tmp_path: Path) -> None:
    results = write(
        tmp_path / "r",
        result("test_baseline_throughput"),
        result(
            "test_broker_loss",
            "failed",
            "critical",
            "AssertionError: delivery: 3 of 1000 events lost (ids e-17, e-18, e-90) during broker_loss kafka",
        ),
    )
    decision = run_gate(results, POLICY, tmp_path / "out")
    assert (decision.verdict, decision.exit_code) == (HOLD, 1)
    assert any("test_broker_loss is failed: AssertionError: delivery: 3 of 1000" in r for r in decision.reasons)
    failed = next(e for e in decision.experiments if e.status == "failed")
    assert failed.category == "Resilience failure: delivery"
    md = (tmp_path / "out" / "gate.md").read_text()
    assert md.startswith("## ⛔ chaoskit release gate: HOLD")
    assert "| ❌ failed | test_broker_loss | critical | severity critical | Resilience failure: delivery |" in md


def test_an_environment_that_could_not_start_is_its_own_verdict(tmp_path: Path) -> None:
    results = write(
        tmp_path / "r",
        result("test_baseline_throughput", "broken", "critical", START_ERROR),
        result("test_broker_loss", "broken", "blocker", START_ERROR),
    )
    decision = run_gate(results, POLICY, tmp_path / "out")
    assert (decision.verdict, decision.exit_code) == (ENVIRONMENT_FAILURE, 3)
    assert all(e.kind == "infrastructure" for e in decision.experiments)
    assert decision.reasons[0].startswith(
        "environment: test_baseline_throughput could not run: "
        "chaoskit.errors.ComponentStartError: kafka failed to start"
    )
    assert json.loads((tmp_path / "out" / "gate.json").read_text())["verdict"] == "environment-failure"
    assert "ENVIRONMENT FAILURE" in (tmp_path / "out" / "gate.md").read_text()


def test_a_missing_tool_is_an_environment_failure_too(tmp_path: Path) -> None:
    results = write(
        tmp_path / "r",
        result(
            "test_baseline_throughput",
            "broken",
            "critical",
            "chaoskit.errors.MissingToolError: java is not on PATH; chaoskit needs it",
        ),
    )
    assert decide(results, POLICY).verdict == ENVIRONMENT_FAILURE


@pytest.mark.parametrize("make", [lambda p: p, lambda p: write(p)], ids=["no-directory", "no-result-files"])
def test_no_results_is_an_environment_failure_never_a_pass(tmp_path: Path, make: Any) -> None:
    results = make(tmp_path / "r")
    decision = run_gate(results, POLICY, tmp_path / "out")
    assert (decision.verdict, decision.exit_code) == (ENVIRONMENT_FAILURE, 3)
    assert "no experiment results in" in decision.reasons[-1]


def test_a_real_failure_is_not_hidden_behind_a_broken_environment(tmp_path: Path) -> None:
    results = write(
        tmp_path / "r",
        result("test_baseline_throughput", "broken", "critical", START_ERROR),
        result("test_broker_loss", "failed", "blocker", "AssertionError: dlq: 4 events never reached the DLQ"),
    )
    decision = decide(results, POLICY)
    assert decision.verdict == HOLD
    assert any(r.startswith("environment:") for r in decision.reasons)


def test_a_bottlenecked_load_generator_gives_no_verdict_but_lost_events_still_hold(tmp_path: Path) -> None:
    """A failed load check voids the measurement (environment failure); it does not hide a lost event."""
    busy = "AssertionError: " + check_load([LoadFigures("load-01-http-constant", "http", 9000, 0.97, False)]).explain()
    results = write(tmp_path / "r", result("test_baseline_throughput", "failed", "critical", busy))
    decision = decide(results, POLICY)
    assert (decision.verdict, decision.exit_code) == (ENVIRONMENT_FAILURE, 3)
    assert decision.experiments[0].category == "Infrastructure failure: the load generator was the bottleneck"
    assert decision.reasons == [
        "environment: test_baseline_throughput ran without a valid measurement: AssertionError: FAILED load: "
        "the load generator was the bottleneck (limit 90% of a core) in load-01-http-constant (97% of a core): "
        "its latencies include its own queueing, so the slo figures describe the load generator, not the system; "
        "lower the rate or the users, or spread them over more load processes (processes=N), and run again"
    ]
    lost = busy + "\nFAILED delivery: 3 of 1000 events lost (e-17, e-18, e-90)"
    results = write(tmp_path / "r2", result("test_baseline_throughput", "failed", "critical", lost))
    assert decide(results, POLICY).verdict == HOLD


def test_required_experiments_that_did_not_run_or_were_skipped_hold(tmp_path: Path) -> None:
    results = write(tmp_path / "r", result("test_broker_loss", "skipped", "critical", "Skipped: no docker"))
    decision = decide(results, POLICY)
    assert decision.verdict == HOLD
    assert "required experiment 'test_baseline*' did not run (no result matches it)" in decision.reasons
    assert any("test_broker_loss is skipped" in r for r in decision.reasons)


def test_optional_failures_count_against_max_failed(tmp_path: Path) -> None:
    items = [
        result("test_baseline_throughput"),
        result("test_slow_a", "failed", "minor", "AssertionError: slo: p95 812 ms > 500 ms"),
        result("test_slow_b", "failed", "minor", "AssertionError: retry: backoff too short"),
    ]
    results = write(tmp_path / "r", *items)
    assert decide(results, POLICY).verdict == HOLD
    relaxed = GatePolicy(required_severities=("blocker", "critical"), required=("test_baseline*",), max_failed=2)
    assert decide(results, relaxed).verdict == PASS


def test_a_retried_experiment_counts_once_by_its_latest_attempt(tmp_path: Path) -> None:
    results = write(
        tmp_path / "r",
        result("test_baseline_throughput", "failed", "critical", "AssertionError: slo: p95 too high", stop=2000),
        result("test_baseline_throughput", "passed", "critical", stop=3000),
    )
    decision = decide(results, POLICY)
    assert decision.verdict == PASS and len(decision.experiments) == 1


def test_too_few_experiments_hold(tmp_path: Path) -> None:
    results = write(tmp_path / "r", result("test_baseline_throughput"))
    policy = GatePolicy(required=("test_baseline*",), min_experiments=5)
    decision = decide(results, policy)
    assert decision.verdict == HOLD
    assert decision.reasons == ["only 1 experiment(s) ran; the policy needs min_experiments = 5"]


def test_an_unreadable_result_file_is_never_a_pass(tmp_path: Path) -> None:
    results = write(tmp_path / "r", result("test_baseline_throughput"))
    (results / "truncated-result.json").write_text('{"status": "pas')
    decision = decide(results, POLICY)
    assert decision.verdict == ENVIRONMENT_FAILURE
    assert decision.reasons[0].startswith("unreadable result file truncated-result.json")


def test_the_cli_prints_the_table_and_returns_the_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = write(
        tmp_path / "r",
        result("test_broker_loss", "failed", "critical", "AssertionError: ordering: key k1 out of order"),
    )
    policy = tmp_path / "gate.toml"
    policy.write_text('required_severities = ["critical"]\n')
    parser = argparse.ArgumentParser(prog="chaoskit")
    report_cli.add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["gate", "--results", str(results), "--policy", str(policy), "--out", str(tmp_path / "out")]
    )
    assert report_cli.handle(args) == 1
    out = capsys.readouterr().out
    assert "failed  critical  yes       test_broker_loss" in out
    assert "gate: HOLD: a required resilience check failed (exit 1; policy from" in out
    assert (tmp_path / "out" / "gate.md").exists()


INTERRUPTED = (
    "chaoskit.errors.ExperimentInterrupted: test_latency was interrupted by SIGTERM (a cancelled job) before it "
    "reached a verdict; its faults were healed and its load stopped on teardown. Nothing was decided: rerun it."
)


def run_file(
    results: Path, state: str, experiments: list[str], not_run: tuple[str, ...] = (), reason: str = ""
) -> None:
    RunFile(state=state, pid=4242, started=1.0, experiments=tuple(experiments), not_run=not_run, reason=reason).write(
        results
    )


def test_an_interrupted_experiment_is_never_passed(tmp_path: Path) -> None:
    """Optional or required, an interrupted experiment leaves the run without a verdict."""
    for severity in ("critical", "minor"):
        results = write(
            tmp_path / severity,
            result("test_baseline", severity="critical"),
            result("test_latency", "broken", severity=severity, message=INTERRUPTED),
        )
        decision = decide(results, POLICY)
        assert (decision.verdict, decision.exit_code) == (INTERRUPTED_RUN, 5), decision.reasons
        assert any("interrupted: test_latency: no verdict" in r for r in decision.reasons), decision.reasons
        assert "INTERRUPTED: no verdict" in summary_table(decision)


def test_a_run_stopped_early_or_killed_has_no_verdict(tmp_path: Path) -> None:
    """Every result that exists passed, but the run file says experiments never ran (-x) or
    that the session never ended (SIGKILL): judging only what finished would be a false PASS."""
    chosen = ["experiments/test_a.py::test_baseline", "experiments/test_b.py::test_other"]
    stopped = write(tmp_path / "x", result("test_baseline", severity="critical"))
    run_file(
        stopped, "interrupted", chosen, not_run=(chosen[1],), reason="pytest stopped early: stopping after 1 failures"
    )
    decision = decide(stopped, GatePolicy(min_experiments=1))
    assert decision.verdict == INTERRUPTED_RUN
    assert "1 experiment(s) never ran" in decision.reasons[0]

    killed = write(tmp_path / "k", result("test_baseline", severity="critical"))
    run_file(killed, "running", chosen)
    decision = decide(killed, GatePolicy(min_experiments=1))
    assert decision.verdict == INTERRUPTED_RUN
    assert "never finished" in decision.reasons[0]

    finished = write(tmp_path / "f", result("test_baseline", severity="critical"))
    run_file(finished, "finished", chosen[:1])
    assert decide(finished, GatePolicy(min_experiments=1)).verdict == PASS


def test_a_definite_red_wins_over_an_interruption(tmp_path: Path) -> None:
    results = write(
        tmp_path / "r",
        result("test_broker_loss", "failed", severity="critical", message="AssertionError: delivery: 3 events lost"),
        result("test_latency", "broken", message=INTERRUPTED),
    )
    decision = decide(results, POLICY)
    assert decision.verdict == HOLD
    assert any("interrupted" in r for r in decision.reasons)


def test_a_typo_in_an_experiment_asks_for_a_fix_not_a_rerun(tmp_path: Path) -> None:
    typo = "chaoskit.faults.params.TargetError: latency('order-service', 'kafak'): unknown link; did you mean 'kafka'?"
    results = write(tmp_path / "r", result("test_latency", "broken", severity="critical", message=typo))
    decision = decide(results, GatePolicy(min_experiments=1))
    assert (decision.verdict, decision.exit_code) == (EXPERIMENT_ERROR_VERDICT, 4)
    assert decision.experiments[0].kind == "experiment-error"
    assert "fix the experiment" in summary_table(decision)


INCONCLUSIVE = (
    "chaoskit.errors.ExperimentInconclusive: inconclusive, no verdict: UNKNOWN provoked: the fault did not provoke "
    "what the hypothesis needs, so nothing was tested: 0 redelivered (needs >= 1)"
)


def test_a_required_inconclusive_experiment_holds_and_an_optional_one_is_named(tmp_path: Path) -> None:
    required = write(tmp_path / "r", result("test_partition", "broken", severity="critical", message=INCONCLUSIVE))
    decision = decide(required, GatePolicy(min_experiments=1))
    assert decision.verdict == HOLD
    assert decision.experiments[0].kind == "inconclusive"
    assert "is inconclusive (nothing was proven)" in decision.reasons[0]

    optional = write(
        tmp_path / "o",
        result("test_baseline", severity="critical"),
        result("test_partition", "broken", severity="minor", message=INCONCLUSIVE),
    )
    decision = decide(optional, GatePolicy(min_experiments=1, max_failed=0))
    assert decision.verdict == PASS  # optional, and not a failure: but never shown as passed
    assert any(r.startswith("inconclusive (not required") for r in decision.reasons)
