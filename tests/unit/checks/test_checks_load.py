"""Load: the load generator was not the bottleneck (its CPU share and Locust's own warning)."""

from __future__ import annotations

import json
from pathlib import Path

from chaoskit.checks import LoadFigures, check_load
from chaoskit.load.config import LoadConfig, Target
from chaoskit.load.records import RunFiles, encode_records
from chaoskit.load.result import LoadResult
from chaoskit.observe.history import History
from chaoskit.observe.timeline import Timeline
from chaoskit.verdicts import judge

HTTP = LoadFigures("load-01-http-constant", "http", 1200, 0.07, False)
KAFKA = LoadFigures("load-02-kafka-constant", "kafka", 250, 0.05, False)


def test_runs_below_the_limit_pass_with_their_figures() -> None:
    result = check_load([HTTP, KAFKA])
    assert result.ok, result.explain()
    assert result.name == "load"
    assert result.summary == (
        "2 load runs, 1450 requests; the load process used at most 7% of a core (limit 90%): "
        "the load generator was not the bottleneck"
    )


def test_a_run_at_the_limit_fails_naming_the_run_and_its_figure() -> None:
    busy = LoadFigures("load-02-kafka-constant", "kafka", 52100, 0.9, False)
    result = check_load([HTTP, busy])
    assert not result.ok
    assert result.summary.startswith(
        "the load generator was the bottleneck (limit 90% of a core) in load-02-kafka-constant (90% of a core): "
        "its latencies include its own queueing, so the slo figures describe the load generator, not the system"
    )
    assert "lower the rate or the users" in result.summary
    [offender] = result.offenders
    assert (offender.event_id, offender.trace_id, offender.fault_window) == (None, None, None)
    assert offender.expected == "the load process below 90% of a core, without Locust's CPU warning"
    assert offender.observed == "load-02-kafka-constant (kafka user, 52100 requests) at 90% of a core"


def test_locust_warning_fails_even_below_the_limit() -> None:
    """Locust samples the process every few seconds; the share averages the run and can hide a busy spell."""
    warned = LoadFigures("load-03-http-ramp", "http", 900, 0.6, True)
    result = check_load([warned])
    assert not result.ok
    assert "load-03-http-ramp (60% of a core, Locust warned it was CPU-bound)" in result.summary
    assert result.offenders[0].observed.endswith("at 60% of a core, Locust warned it was CPU-bound")


def test_a_killed_run_is_cpu_unknown_and_not_a_failure() -> None:
    killed = LoadFigures("load-04-http-constant", "http", 10, None, False)
    result = check_load([HTTP, killed])
    assert result.ok, result.explain()
    assert "; CPU unknown (killed) for load-04-http-constant:" in result.summary
    only = check_load([killed])
    assert only.ok and only.summary == (
        "1 load run, 10 requests; CPU unknown (killed) for load-04-http-constant: "
        "whether it was the bottleneck is unknown"
    )


def test_no_runs_is_nothing_to_judge() -> None:
    result = check_load([])
    assert result.ok and result.summary == "no load runs to judge" and not result.offenders


def test_figures_come_from_a_load_result(tmp_path: Path) -> None:
    """A master and a worker: the run's requests are the ones the master collected from every
    worker, its CPU figure the busiest process's."""
    run_dir = tmp_path / "load-05-kafka-constant"
    run_dir.mkdir()
    files = [RunFiles(run_dir, 0), RunFiles(run_dir, 1)]
    files[0].events.write_bytes(encode_records([("e0", "t", "k-0", 1, True, 100.0, 5.0, None)] * 6))
    for part, cpu_s in zip(files, (1.5, 4.0)):
        part.status.write_text(
            json.dumps(
                {
                    "state": "stopped",
                    "cpu_s": cpu_s,
                    "wall_s": 10.0,
                    "cpu_warning": part.process == 1,
                    "locust": {"requests": 3, "failures": 0},
                }
            )
        )
    config = LoadConfig(target=Target.kafka("127.0.0.1:1", "documents"), user="kafka", users=2, workers=1)
    result = LoadResult.read(run_dir, files, config)
    assert LoadFigures.from_result(result) == LoadFigures("load-05-kafka-constant", "kafka", 6, 0.4, True)


def test_judge_puts_the_load_verdict_first() -> None:
    """A failure message then opens with it: the figures after it are the load generator's."""
    busy = LoadFigures("load-02-kafka-constant", "kafka", 52100, 0.97, False)
    results = judge(History(), final_state=dict, timeline=Timeline(origin=0.0), load_runs=[busy])
    assert [r.name for r in results][:2] == ["load", "delivery"] and not results[0].ok
    assert "load" not in [r.name for r in judge(History(), final_state=dict, timeline=Timeline(origin=0.0))]
