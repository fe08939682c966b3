"""categories.json: the regexes against the messages allure-pytest really records."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chaoskit.checks.load import LoadFigures, check_load
from chaoskit.report.categories import (
    CATEGORIES,
    CHECK_NAMES,
    INFRASTRUCTURE,
    RESILIENCE,
    categorize,
    matches,
    write_categories,
)


@pytest.mark.parametrize(
    ("status", "message", "category"),
    [
        (
            "failed",
            "AssertionError: delivery: 3 of 1000 events lost (e-17, e-18, e-90)",
            "Resilience failure: delivery",
        ),
        (
            "failed",
            "AssertionError: dlq: 2 failed events never reached the DLQ\nassert False",
            "Resilience failure: dlq",
        ),
        (
            "failed",
            "AssertionError: retry: attempt 3 came 0.4 s after attempt 2; expected >= 2.0 s",
            "Resilience failure: retry",
        ),
        ("failed", "AssertionError: consistency: 12 of 500 keys differ after 30 s", "Resilience failure: consistency"),
        ("failed", "AssertionError: ordering: key k7 applied v3 before v2", "Resilience failure: ordering"),
        ("failed", "Failed: slo: p95 812 ms > 500 ms in phase fault", "Resilience failure: slo"),
        ("failed", "chaoskit.checks.result.CheckFailed: delivery: 1 event lost", "Resilience failure: delivery"),
        (
            "failed",
            "AssertionError: FAILED dlq: 1 of 40 failed events not parked: e-7\n"
            '  - e-7 (trace t-7): expected dead-lettered; observed failed; fell in fault window "down"',
            "Resilience failure: dlq",
        ),
        (
            "failed",
            "hypothesis.errors.FlakyFailure: Hypothesis found 2 distinct failures\n"
            "AssertionError: consistency: 3 keys differ",
            "Resilience failure: consistency",
        ),
        (
            "failed",
            "AssertionError: steady state 'orders flow' did not hold within 30 s after the faults healed",
            "Resilience failure: steady state not restored",
        ),
        ("failed", "AssertionError: assert 3 == 4", "Resilience failure: other assertion"),
        (
            "failed",
            "\x1b[31mAssertionError: delivery: colour codes are stripped\x1b[0m",
            "Resilience failure: delivery",
        ),
        (
            "broken",
            "chaoskit.errors.ComponentStartError: kafka failed to start: not healthy within 60 s\n"
            "--- last lines of the kafka log ---\nERROR x",
            "Infrastructure failure: a component did not start",
        ),
        (
            "broken",
            "chaoskit.errors.MissingToolError: java is not on PATH",
            "Infrastructure failure: a required tool is missing",
        ),
        (
            "broken",
            "chaoskit.runtime.toxiproxy.ToxiproxyError: POST /proxies returned 500",
            "Infrastructure failure: a fault could not be injected or healed",
        ),
        (
            "broken",
            "chaoskit.faults.fault.HealError: 1 heal step(s) failed, every other step was done: ...",
            "Infrastructure failure: a fault could not be injected or healed",
        ),
        (
            "broken",
            "chaoskit.load.runner.LoadRunError: the load process died",
            "Infrastructure failure: the load generator failed",
        ),
        (
            "broken",
            "chaoskit.errors.ExperimentTimeout: test_x ran past its budget of 120 s",
            "Interrupted: no verdict (Ctrl-C, SIGTERM or the time budget stopped it)",
        ),
        (
            "broken",
            "chaoskit.errors.ExperimentInterrupted: test_x was interrupted by SIGTERM (a cancelled job) "
            "before it reached a verdict; its faults were healed (HealError none)",
            "Interrupted: no verdict (Ctrl-C, SIGTERM or the time budget stopped it)",
        ),
        (
            "broken",
            "chaoskit.errors.ConfigError: latency(ms=-5): ms must be >= 0",
            "Experiment error: input rejected (a typo, an unknown fault, link or parameter)",
        ),
        (
            "broken",
            "chaoskit.faults.params.TargetError: partition('x', 'y'): unknown component",
            "Experiment error: input rejected (a typo, an unknown fault, link or parameter)",
        ),
        ("broken", "KeyError: 'offset'", "Experiment error (a bug in the experiment or chaoskit)"),
    ],
)
def test_messages_land_in_the_right_category(status: str, message: str, category: str) -> None:
    found = categorize(status, message)
    assert found is not None and found.name == category


def test_a_check_name_inside_a_sentence_is_not_a_check_failure() -> None:
    found = categorize("failed", "AssertionError: expected the delivery: report to mention it")
    assert found is not None and found.name == "Resilience failure: other assertion"


def test_passed_and_skipped_results_are_not_categorised() -> None:
    assert categorize("passed", None) is None
    assert categorize("skipped", "Skipped: delivery: not today") is None


def test_matching_is_whole_message_like_allure() -> None:
    assert matches(r".*delivery.*", "x\ndelivery\ny")  # DOTALL: . crosses lines
    assert not matches(r"delivery", "AssertionError: delivery")  # whole message, not a search


def test_every_check_chaoskit_ships_has_its_category() -> None:
    """A new check module (``NAME = "..."``) needs a category of its own to be filed: its name in
    CHECK_NAMES for a resilience check, or its own entry (load) when its failure voids the run."""
    checks = Path(__file__).resolve().parents[3] / "chaoskit" / "checks"
    names = {m.group(1) for f in checks.glob("*.py") for m in [re.search(r'^NAME = "(\w+)"', f.read_text(), re.M)] if m}
    names -= {"evidence", "provoked"}  # only ever pass or unknown: an unknown makes the experiment inconclusive
    filed = {name: categorize("failed", f"AssertionError: FAILED {name}: x") for name in names}
    assert names and all(c is not None and c.name != "Resilience failure: other assertion" for c in filed.values())
    assert {name for name, c in filed.items() if c is not None and c.kind == RESILIENCE} == set(CHECK_NAMES)


# what Experiment.verify() raises: the failed checks' explanations, the load check first
BUSY = LoadFigures("load-02-kafka-constant", "kafka", 52100, 0.97, True)
LOAD_FAILED = "AssertionError: " + check_load([BUSY]).explain()
SLO_FAILED = "FAILED slo: SLO breached during the faults — during: 100 samples, error rate 0.00% (≤ 1.00%)"
DELIVERY_FAILED = "FAILED delivery: 3 of 1000 events lost (e-17, e-18, e-90)\n  - e-17 (trace t-17): expected applied"


def test_a_bottlenecked_load_generator_is_an_infrastructure_failure() -> None:
    """Its slo figures describe the load generator: no verdict on the system, the run must be repeated."""
    for message in (LOAD_FAILED, LOAD_FAILED + "\n" + SLO_FAILED):
        found = categorize("failed", message)
        assert found is not None and found.kind == INFRASTRUCTURE
        assert found.name == "Infrastructure failure: the load generator was the bottleneck"


def test_a_check_the_load_generator_cannot_void_stays_a_resilience_failure() -> None:
    """Events lost are lost however busy the load process was: the gate must still hold on them."""
    for message in ("AssertionError: " + DELIVERY_FAILED, LOAD_FAILED + "\n" + DELIVERY_FAILED):
        found = categorize("failed", message)
        assert found is not None and (found.name, found.kind) == ("Resilience failure: delivery", RESILIENCE)


def test_categories_file_is_what_allure_reads(tmp_path: Path) -> None:
    written = json.loads(write_categories(tmp_path).read_text())
    assert [c["name"] for c in written] == [c.name for c in CATEGORIES]
    interrupted = written[0]
    assert interrupted["matchedStatuses"] == ["broken"] and "ExperimentInterrupted" in interrupted["messageRegex"]
    catch_all = written[-1]
    assert catch_all == {
        "name": "Experiment error (a bug in the experiment or chaoskit)",
        "matchedStatuses": ["broken"],
    }
