"""environment.properties and executor.json: what a reviewer sees about the run."""

from __future__ import annotations

import json
from pathlib import Path

import chaoskit
from chaoskit import install
from chaoskit.options import ChaosOptions
from chaoskit.report.environment import executor, properties_text, redis_version, write_environment, write_executor


def parse_properties(text: str) -> dict[str, str]:
    rows = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        rows[key] = value
    return rows


def test_environment_properties_name_the_pinned_versions_and_the_run(tmp_path: Path) -> None:
    topology = tmp_path / "docker-compose.chaos.yml"
    topology.write_text("services: {}\n")
    options = ChaosOptions(runtime="process", topology=topology, seed=424242, keep=False)
    rows = parse_properties(write_environment(tmp_path, options).read_text())
    assert rows["chaoskit"] == chaoskit.__version__
    assert rows["Kafka"] == install.KAFKA_VERSION == "4.3.1"
    assert rows["Toxiproxy"] == install.TOXIPROXY_VERSION == "2.12.0"
    assert rows["Redis"] == redis_version()
    assert rows["runtime"] == "process" and rows["seed"] == "424242"
    assert rows["topology"] == str(topology)
    assert len(rows["topology.sha256"]) == 16
    assert list(rows)[:4] == ["chaoskit", "Kafka", "Toxiproxy", "Redis"]


def test_redis_version_comes_from_the_server_binary() -> None:
    version = redis_version()
    assert version[0].isdigit() or version == "redis-server not on PATH"


def test_without_run_options_only_versions_are_written(tmp_path: Path) -> None:
    rows = parse_properties(write_environment(tmp_path, None).read_text())
    assert "seed" not in rows and rows["Kafka"] == "4.3.1"


def test_properties_are_escaped() -> None:
    assert properties_text({"a key": "x=1\nline two", "path": "C:\\tmp"}) == "a\\ key=x=1\\nline two\npath=C:\\\\tmp\n"


GITHUB = {
    "CI": "true",
    "GITHUB_ACTIONS": "true",
    "GITHUB_RUN_ID": "987654",
    "GITHUB_RUN_NUMBER": "42",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/orders",
    "GITHUB_WORKFLOW": "nightly chaos",
}


def test_executor_for_github_actions() -> None:
    assert executor(GITHUB) == {
        "name": "GitHub Actions",
        "type": "github",
        "buildName": "nightly chaos #42",
        "buildUrl": "https://github.com/acme/orders/actions/runs/987654",
        "reportName": "chaoskit",
        "buildOrder": 42,
    }
    again = executor({**GITHUB, "GITHUB_RUN_ATTEMPT": "2", "CHAOSKIT_REPORT_URL": "https://acme.github.io/orders/42"})
    assert again is not None
    assert again["buildName"] == "nightly chaos #42 (attempt 2)"
    assert again["reportUrl"] == "https://acme.github.io/orders/42"


def test_executor_for_other_ci_and_none_locally(tmp_path: Path) -> None:
    assert executor({"CI": "true"}) == {"name": "CI", "type": "ci", "buildName": "CI run", "reportName": "chaoskit"}
    assert executor({}) is None
    assert write_executor(tmp_path, {}) is None and not (tmp_path / "executor.json").exists()
    written = write_executor(tmp_path, GITHUB)
    assert written is not None and json.loads(written.read_text())["buildOrder"] == 42
