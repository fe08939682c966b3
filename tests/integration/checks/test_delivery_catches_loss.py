"""check_delivery on real components: the broken commit-first consumer loses events when it is
killed under load, and the check names exactly those events; the real workflow-service,
under the very same experiment, loses none."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chaoskit.checks import CheckResult
from chaoskit.experiment import Experiment
from chaoskit.exploration import Method, ScheduleFailure, run_drawn_schedule
from chaoskit.observe.history import Kind

pytestmark = pytest.mark.integration
# settle_s outlasts the consumer group's session timeout (10 s): a killed member's
# partitions move to its restarted successor only then, and its backlog must drain.
METHOD = Method(load={"users": 4, "rate": 20, "content_bytes": 16}, settle_s=30)


def kill_under_load(experiment: Experiment, expected_state: Callable[[], Any], workdir: Path) -> list[CheckResult]:
    steps = [(1, experiment.faults.kill("workflow-service"), 1)]
    return run_drawn_schedule(experiment, steps, workdir=workdir, expected_state=expected_state, method=METHOD)


def test_a_consumer_that_commits_before_applying_loses_events_to_a_kill_and_delivery_names_them(
    broken_system, experiment_on, expected_state_of, tmp_path
) -> None:
    experiment = experiment_on(broken_system)
    with pytest.raises(ScheduleFailure) as info:
        kill_under_load(experiment, expected_state_of(experiment), tmp_path)
    failure = info.value
    history = failure.example.history
    delivery = next(r for r in failure.results if r.name == "delivery")
    assert not delivery.ok
    named = {o.event_id for o in delivery.offenders}

    acked = set(history.select(Kind.ACKED).event_id)
    applied = set(history.select(Kind.APPLIED).event_id)
    committed = set(history.select(Kind.COMMITTED).event_id)
    assert named, delivery.explain()
    assert named == acked - applied, "the check names exactly the acked events with no applied"
    assert named <= committed, "each was committed by the double before the kill: the planted bug"
    assert all(o.observed.endswith("never applied") for o in delivery.offenders)

    # Redis agrees: none of them is the stored write of its key, and a lost last write of a
    # key left an older version (or nothing) behind.
    state = failure.example.final_state()
    for event_id in named:
        (requested,) = [o for o in history.for_event(event_id) if o.kind is Kind.ACKED]
        key, version = requested.detail["key"], requested.detail["version"]
        doc = state.get(key)
        assert doc is None or doc["event_id"] != event_id
        later = [o for o in history.for_key(key) if o.kind is Kind.ACKED and o.detail["version"] > version]
        if not later:
            assert doc is None or int(doc["version"]) < version, (event_id, doc)

    text = str(failure)
    assert all(event_id in text for event_id in sorted(named)[:50]), "the failure message names the lost ids"
    assert text.endswith("faults.run_schedule([\n    (1, faults.kill('workflow-service'), 1),\n])")


def test_the_real_workflow_service_loses_nothing_under_the_same_kill(
    reference_system, experiment_on, expected_state_of, tmp_path
) -> None:
    experiment = experiment_on(reference_system)
    results = kill_under_load(experiment, expected_state_of(experiment), tmp_path)
    by_name = {r.name: r for r in results}
    assert all(r.ok for r in results), "\n".join(r.explain() for r in results)
    assert "none lost, none applied twice" in by_name["delivery"].summary
    assert by_name["consistency"].ok
