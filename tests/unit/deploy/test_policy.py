"""DeployPolicy and version validation: bad input is refused with the field, the value and what is allowed."""

from __future__ import annotations

import pytest

from chaoskit.deploy.policy import DeployPolicy
from chaoskit.deploy.version import Version, bad_version
from chaoskit.errors import ConfigError


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("window_s", 0, r"DeployPolicy.window_s=0 is not allowed; expected a number of seconds > 0"),
        ("window_s", float("nan"), r"DeployPolicy.window_s=nan is not allowed"),
        ("min_events", 0, r"DeployPolicy.min_events=0 is not allowed; expected an integer >= 1"),
        ("min_events", 2.5, r"DeployPolicy.min_events=2.5 is not allowed; expected an integer >= 1"),
        ("min_events", True, r"DeployPolicy.min_events=True is not allowed"),
        (
            "max_error_rate_delta",
            5,
            r"DeployPolicy.max_error_rate_delta=5 is not allowed; expected a fraction in \[0, 1\]",
        ),
        ("max_dlq_rate", -0.1, r"DeployPolicy.max_dlq_rate=-0.1 is not allowed; expected a fraction in \[0, 1\]"),
        ("max_health_failures", -1, r"DeployPolicy.max_health_failures=-1 is not allowed; expected an integer >= 0"),
        ("max_wait_s", 5, r"DeployPolicy.max_wait_s=5 is not allowed; expected a number of seconds >= window_s \(10\)"),
    ],
)
def test_bad_policy_fields_are_named(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DeployPolicy(**{field: value})  # type: ignore[arg-type]


def test_policy_from_strings_parses_and_refuses_unknown_fields() -> None:
    policy = DeployPolicy.from_mapping({"window_s": "4", "min_events": "5", "max_wait_s": "20"})
    assert (policy.window_s, policy.min_events, policy.max_wait_s) == (4.0, 5, 20.0)
    with pytest.raises(ConfigError, match=r"unknown policy field\(s\) windw_s; allowed: window_s, min_events"):
        DeployPolicy.from_mapping({"windw_s": "4"})
    with pytest.raises(ConfigError, match=r"DeployPolicy.min_events='many' is not an integer"):
        DeployPolicy.from_mapping({"min_events": "many"})


def test_version_env_and_validation() -> None:
    assert Version("v2").env() == {"SERVICE_VERSION": "v2", "FAIL_RATE": "0.0", "EXTRA_LATENCY_MS": "0.0"}
    assert bad_version("v3", fail_rate=0.25).env()["FAIL_RATE"] == "0.25"
    with pytest.raises(ConfigError, match=r"version name 'v 2' is not allowed; expected 1-32 characters"):
        Version("v 2")
    with pytest.raises(ConfigError, match=r"Version.fail_rate=1.5 is not allowed; expected a number in \[0, 1\]"):
        Version("v2", fail_rate=1.5)
    with pytest.raises(ConfigError, match=r"needs fail_rate > 0 or extra_latency_ms > 0"):
        bad_version("v2", fail_rate=0.0)
