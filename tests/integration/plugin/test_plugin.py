"""The pytest plugin as users meet it: options, the session environment, fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoskit.install import cache_dir
from chaoskit.runtime.state import all_records

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
MINIMAL = ROOT / "fixtures" / "topologies" / "minimal.yml"

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _real_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytester moves HOME; keep the installed components where they are."""
    monkeypatch.setenv("CHAOSKIT_CACHE", str(cache_dir()))


def test_environment_fixtures_on_real_components(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_services_and_observers(chaos_env, services, kafka, redis, chaos_namespace):
            assert set(services) == {"kafka", "redis", "toxiproxy", "producer", "consumer"}
            assert services["redis"].endpoint("producer") != services["redis"].endpoint()
            redis.set(chaos_namespace + "k", "v")
            assert redis.get(chaos_namespace + "k") == "v"
            p = kafka.producer()
            p.produce("events", b"hello")
            assert p.flush(10) == 0
            assert any(m.value() == b"hello" for m in kafka.read_all("events"))

        def test_unknown_service_is_refused(services):
            with pytest.raises(Exception, match="unknown component 'nope'.*consumer"):
                services["nope"]

        def test_a_killed_component_is_back_for_the_next_test(services):
            services["consumer"].kill()

        def test_next(chaos_env, services):
            from chaoskit.runtime.health import wait_for
            # reset() restarted it; status() re-probes with a short timeout, so poll
            wait_for(lambda: chaos_env.status()["components"]["consumer"]["state"] == "healthy", 30, "consumer")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:locust", f"--chaos-topology={MINIMAL}", "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["chaoskit: runtime=process topology=minimal.yml seed=*"])
    assert not [r for r in all_records() if r.topology == str(MINIMAL) and r.orphaned()]


def test_bad_options_are_clear_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_subprocess("-p", "no:locust", "--chaos-runtime=kubernetes")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--chaos-runtime='kubernetes' is not a runtime; allowed: process, docker*"])
    result = pytester.runpytest_subprocess("-p", "no:locust", "--chaos-seed=abc")
    result.stderr.fnmatch_lines(["*--chaos-seed='abc' must be an integer*"])


def test_a_bad_topology_errors_before_anything_starts(pytester: pytest.Pytester) -> None:
    bad = pytester.path / "bad.yml"
    bad.write_text(MINIMAL.read_text().replace("kind: redis", "kind: redys"))
    pytester.makepyfile("def test_x(chaos_env): pass")
    result = pytester.runpytest_subprocess("-p", "no:locust", f"--chaos-topology={bad}")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*services.redis.x-chaoskit.kind*redys*"])
    assert not [r for r in all_records() if r.topology == str(bad)]


def test_an_experiment_past_its_budget_is_stopped_and_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import threading
        import pytest

        @pytest.mark.chaos(budget_s=1)
        def test_hangs(chaos_env):
            threading.Event().wait(60)

        def test_after(chaos_env):
            assert chaos_env.status()["components"]["kafka"]["pid"]
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:locust", f"--chaos-topology={MINIMAL}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ExperimentTimeout: test_hangs exceeded its budget of 1 s*"])


def test_load_refuses_targets_outside_the_environment(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from chaoskit.errors import BlastRadiusError

        def test_guard(load, chaos_env):
            with pytest.raises(BlastRadiusError, match="not on loopback"):
                load.run(target="http://10.1.2.3:8080", duration_s=1)
            with pytest.raises(BlastRadiusError, match="not an endpoint of this environment"):
                load.run(target="127.0.0.1:1", duration_s=1)
            own = chaos_env.endpoint("producer")
            run = load.run(target=own, duration_s=1, users=1, rate=1)
            assert run.config.target.http_url == f"http://{own}"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:locust", f"--chaos-topology={MINIMAL}")
    result.assert_outcomes(passed=1)


def test_a_misspelt_marker_is_refused_at_collection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_severity="import pytest\n\n@pytest.mark.chaos(severity='urgent')\ndef test_x(): pass\n",
        test_field="import pytest\n\n@pytest.mark.chaos(sevrity='critical')\ndef test_y(): pass\n",
    )
    result = pytester.runpytest_subprocess("-p", "no:locust", "test_severity.py")
    result.stderr.fnmatch_lines(["*chaos(severity='urgent') is not a severity; allowed: blocker, critical, normal*"])
    result = pytester.runpytest_subprocess("-p", "no:locust", "test_field.py")
    result.stderr.fnmatch_lines(["*chaos marker takes keyword fields*got ?'sevrity'?"])


def test_a_run_stopped_by_x_is_interrupted_for_the_gate(pytester: pytest.Pytester) -> None:
    """-x leaves the later experiments without a result: the run file says so, and the gate
    does not judge the run by the results that happen to exist."""
    from chaoskit.report.gate import INTERRUPTED_RUN, decide
    from chaoskit.report.policy import GatePolicy
    from chaoskit.report.run_file import RunFile

    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.chaos(title="first")
        def test_first():
            assert False, "other: the first experiment failed"

        @pytest.mark.chaos(title="second", severity="critical")
        def test_second():
            pass
        """
    )
    results = pytester.path / "results"
    outcome = pytester.runpytest_subprocess("-p", "no:locust", "-x", f"--alluredir={results}")
    outcome.assert_outcomes(failed=1)
    run = RunFile.read(results)
    assert run is not None and run.state == "interrupted", run
    assert [nodeid.split("::")[-1] for nodeid in run.not_run] == ["test_second"]
    decision = decide(results, GatePolicy(max_failed=1, min_experiments=1))
    assert decision.verdict == INTERRUPTED_RUN, decision.reasons


def test_an_experiment_that_provoked_nothing_is_inconclusive_and_holds_the_gate(pytester: pytest.Pytester) -> None:
    """Its checks would all pass, but its fault did not provoke what the hypothesis needs (or
    nobody checked): the result is broken in the Inconclusive category, and the gate holds
    a required one. The whole path runs: marker, fixture, Allure plugin, gate."""
    from chaoskit.report.gate import HOLD, decide
    from chaoskit.report.policy import GatePolicy

    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.chaos(title="rollback provoked", severity="critical", provokes="rollback")
        def test_no_rollback_happened(provoked):
            provoked(rollback=0)

        @pytest.mark.chaos(title="promise unchecked", severity="critical", provokes={"dead-lettered": 2})
        def test_promise_nobody_checked():
            pass

        @pytest.mark.chaos(title="rollback seen", severity="critical", provokes="rollback")
        def test_rollback_happened(provoked):
            provoked(rollback=1)
        """
    )
    results = pytester.path / "results"
    outcome = pytester.runpytest_subprocess("-p", "no:locust", f"--alluredir={results}")
    outcome.assert_outcomes(passed=1, failed=2)
    outcome.stdout.fnmatch_lines(["*ExperimentInconclusive*0 rollback (needs >= 1)*"])
    outcome.stdout.fnmatch_lines(["*declares provokes={'dead-lettered': 2} but nothing checked it*"])
    decision = decide(results, GatePolicy(min_experiments=1))
    assert decision.verdict == HOLD, decision.reasons
    kinds = {o.test: o.kind for o in decision.experiments}
    assert kinds == {
        "test_no_rollback_happened": "inconclusive",
        "test_promise_nobody_checked": "inconclusive",
        "test_rollback_happened": "",
    }, kinds


def test_a_misspelt_provocation_is_refused_at_collection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.chaos(provokes="redelivery")
        def test_x():
            pass
        """
    )
    outcome = pytester.runpytest_subprocess("-p", "no:locust")
    assert outcome.ret != 0
    outcome.stderr.fnmatch_lines(["*provokes 'redelivery' is not something chaoskit counts; allowed:*redelivered*"])


def test_an_experiments_evidence_is_on_its_own_page_of_the_report(pytester: pytest.Pytester) -> None:
    """Passed or not, the checks, fault windows and timeline plot are attached to the test's
    own result, not under Tear down among the fixtures' finalizers."""
    import json

    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.chaos(title="evidence on the page")
        def test_with_a_fault(experiment):
            with experiment.faults.latency("producer", "kafka", ms=50):
                pass
        """
    )
    results = pytester.path / "results"
    outcome = pytester.runpytest_subprocess("-p", "no:locust", f"--chaos-topology={MINIMAL}", f"--alluredir={results}")
    outcome.assert_outcomes(passed=1)
    (result,) = [json.loads(p.read_text()) for p in results.glob("*-result.json")]

    def names(node: dict) -> set[str]:
        found = {a["name"] for a in node.get("attachments", [])}
        for child in node.get("steps", []):
            found |= names(child)
        return found | {s["name"] for s in node.get("steps", [])}

    on_page = names(result)
    assert "timeline: load, DLQ and convergence under faults" in on_page, on_page
    assert any(n.startswith("fault windows") or "latency" in n for n in on_page), on_page
    containers = [json.loads(p.read_text()) for p in results.glob("*-container.json")]
    afters = [a for c in containers for a in c.get("afters", [])]
    assert not any("timeline" in n for after in afters for n in names(after)), afters


def test_a_bad_load_workers_value_is_refused_before_anything_starts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(load): pass")
    result = pytester.runpytest_subprocess("-p", "no:locust", f"--chaos-topology={MINIMAL}", "--load-workers=-2")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--load-workers=-2 must be a whole number >= 0*"])
    assert not [r for r in all_records() if r.topology == str(MINIMAL) and r.orphaned()]
