"""The deployer's instance handling on the real process runtime and reference system."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from chaoskit.deploy import DeployPolicy, Fleet, Journal, Version, bad_version, canary_deploy
from chaoskit.deploy import canary as canary_module
from chaoskit.deploy.__main__ import run as deploy_cli
from chaoskit.deploy.metrics import Window
from chaoskit.deploy.traffic import SteadyTraffic
from chaoskit.errors import ChaoskitError, ConfigError
from chaoskit.observe.timeline import Timeline
from chaoskit.runtime.health import wait_for

pytestmark = pytest.mark.integration
BASE = "workflow-service"


@pytest.fixture
def fleet(chaos_env: Any) -> Any:
    chaos_env.reset()
    yield Fleet(chaos_env)
    chaos_env.reset()


def test_members_start_retire_and_restore(fleet: Fleet, chaos_env: Any) -> None:
    [base] = fleet.members()
    assert (base.name, base.version, base.base) == (BASE, "stable", True)
    extra = fleet.start(f"{BASE}#it-v9", Version("v9"))
    assert {m.name: m.version for m in fleet.members()} == {BASE: "stable", extra.name: "v9"}
    serving = fleet.wait_serving(extra.name, "the new instance owning partitions")
    assert serving.served_only_by({BASE, extra.name}) and serving.partitions == 6

    fleet.retire(base)  # the base process stops; the instance takes every partition
    assert fleet.wait_served_by([extra.name], "only the instance serving").partitions_of(extra.name) == (
        0,
        1,
        2,
        3,
        4,
        5,
    )
    fleet.retire(extra)
    assert chaos_env.instances(BASE) == {}
    fleet.restore(base)
    restored = fleet.restore(extra)
    assert restored.env == extra.env and {m.version for m in fleet.members()} == {"stable", "v9"}


def test_a_window_measures_deltas_per_side(fleet: Fleet, chaos_env: Any, chaos_namespace: str) -> None:
    canary = fleet.start(f"{BASE}#it-bad", bad_version("it-bad", fail_rate=1.0))
    fleet.wait_serving(canary.name, "the bad instance owning partitions")
    window = Window(canary.endpoint, [chaos_env.endpoint(BASE)])
    with SteadyTraffic(chaos_env, chaos_namespace, rate=20):
        canary_stats, stable_stats = wait_for(
            lambda: (s := window.sample())[0].events >= 5 and s[1].events >= 5 and s, 30, "events on both sides"
        )
    assert canary_stats.failed == canary_stats.events and canary_stats.error_rate == 1.0
    assert stable_stats.failed == 0 and canary_stats.health_failures == 0


def test_an_automatic_rollback_leaves_no_instance_and_marks_the_timeline(
    fleet: Fleet, chaos_env: Any, chaos_namespace: str, kafka: Any
) -> None:
    timeline, out = Timeline(), io.StringIO()
    policy = DeployPolicy(window_s=2, min_events=5, max_wait_s=20)
    with SteadyTraffic(chaos_env, chaos_namespace, rate=20):
        outcome = canary_deploy(chaos_env, bad_version("it-bad", fail_rate=1.0), policy, journal=Journal(timeline, out))
    assert outcome.rolled_back and outcome.reason.startswith("rollback: canary error rate 100.0%")
    assert chaos_env.instances(BASE) == {}
    assert outcome.serving is not None and outcome.serving.served_only_by({BASE})
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["decision"] for line in lines] == ["start", "rollback", "alert"]
    assert all(line["service"] == "deployer" and line["kind"] is None for line in lines)
    assert lines[1]["figures"]["canary_error_rate"] == 1.0 and lines[1]["figures"]["rollback_took_s"] > 0
    windows = {w.name: w for w in timeline.windows()}
    assert set(windows) == {"deploy start", "canary it-bad", "deploy rollback", "deploy alert"}
    assert windows["canary it-bad"].healed_at == pytest.approx(outcome.finished_at)


def test_an_interrupted_deploy_removes_its_canary(
    fleet: Fleet, chaos_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_judge(*args: Any, **kwargs: Any) -> Any:
        assert chaos_env.instances(BASE), "the canary is running while it is judged"
        raise KeyboardInterrupt

    monkeypatch.setattr(canary_module, "judge", broken_judge)
    journal = Journal(stream=io.StringIO())
    with pytest.raises(KeyboardInterrupt):
        canary_deploy(chaos_env, Version("it-v3"), journal=journal)
    assert chaos_env.instances(BASE) == {}
    assert journal.entries[-1]["decision"] == "abandoned"


def test_a_fleet_already_running_two_versions_is_refused(fleet: Fleet) -> None:
    fleet.start(f"{BASE}#it-v4", Version("it-v4"))
    with pytest.raises(ChaoskitError, match=r"runs several versions .*python -m chaoskit.deploy rollback"):
        canary_deploy(fleet.runtime, Version("it-v5"))
    fleet.runtime.reset()
    with pytest.raises(ConfigError, match="version 'stable' is already what workflow-service runs"):
        canary_deploy(fleet.runtime, Version("stable"))


def test_the_command_line_shows_status_and_rolls_back(
    fleet: Fleet, chaos_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet.start(f"{BASE}#it-v6", Version("it-v6"))
    assert deploy_cli(["status", "--env", chaos_env.env_id, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert {m["name"]: m["version"] for m in status["members"]} == {BASE: "stable", f"{BASE}#it-v6": "it-v6"}

    assert deploy_cli(["rollback", "--env", chaos_env.env_id, "--reason", "it: operator", "--no-alert"]) == 0
    printed = capsys.readouterr().out
    assert "rollback: it: operator: removed ['workflow-service#it-v6'], restored [], took" in printed
    assert "alert not sent" in printed
    assert [m.name for m in Fleet(chaos_env).members()] == [BASE]
    assert deploy_cli(["rollback", "--env", chaos_env.env_id]) == 0
    assert "nothing to roll back: every member runs stable" in capsys.readouterr().out
    with pytest.raises(ConfigError, match=r"DeployPolicy\.max_dlq_rate=2\.0 is not allowed"):
        deploy_cli(["canary", "--env", chaos_env.env_id, "--version", "v7", "--policy", "max_dlq_rate=2"])
