"""Gate policies: where they are read from, and errors that name the field, value and allowed values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chaoskit.errors import ConfigError
from chaoskit.report.policy import GatePolicy, load_policy, parse_policy


def test_defaults_require_blocker_and_critical() -> None:
    policy = parse_policy({})
    assert policy.required_severities == ("blocker", "critical")
    assert (policy.required, policy.max_failed, policy.min_experiments) == ((), 0, 1)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            {"required_severities": ["urgent"]},
            "required_severities = ['urgent']: 'urgent' is not a severity; allowed: blocker, critical, normal, minor, trivial",
        ),
        (
            {"required_severities": "critical"},
            'required_severities = \'critical\': required_severities must be a list of strings, e.g. ["blocker", "critical"]',
        ),
        ({"required": [1]}, "required = [1]: required must be a list of strings"),
        ({"max_failed": -1}, "max_failed = -1: max_failed must be a whole number >= 0"),
        ({"max_failed": True}, "max_failed = True: max_failed must be a whole number >= 0"),
        ({"min_experiments": 1.5}, "min_experiments = 1.5: min_experiments must be a whole number >= 0"),
        (
            {"max_fail": 1},
            "unknown field 'max_fail' in the gate policy; allowed fields: required_severities, required, max_failed, min_experiments",
        ),
    ],
)
def test_bad_policies_are_clear_errors(table: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_policy(table, "pyproject.toml [tool.chaoskit.gate]")
    assert str(err.value).startswith("pyproject.toml [tool.chaoskit.gate]: ")
    assert expected in str(err.value)


def test_pyproject_table_is_read(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\n\n[tool.chaoskit.gate]\nrequired = ["test_baseline*"]\nmax_failed = 2\n'
    )
    policy = load_policy(None, pyproject)
    assert policy.required == ("test_baseline*",) and policy.max_failed == 2
    assert policy.source == f"{pyproject} [tool.chaoskit.gate]"


def test_without_any_policy_the_defaults_apply(tmp_path: Path) -> None:
    assert load_policy(None, tmp_path / "pyproject.toml") == GatePolicy()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_policy(None, tmp_path / "pyproject.toml") == GatePolicy()


def test_policy_file_with_top_level_fields_or_the_tool_table(tmp_path: Path) -> None:
    flat = tmp_path / "gate.toml"
    flat.write_text('required_severities = ["blocker"]\nmin_experiments = 3\n')
    assert load_policy(flat).required_severities == ("blocker",)
    nested = tmp_path / "nested.toml"
    nested.write_text('[tool.chaoskit.gate]\nrequired = ["test_a"]\n')
    assert load_policy(nested).required == ("test_a",)
    other = tmp_path / "other.toml"
    other.write_text("[tool.black]\nline-length = 100\n")
    with pytest.raises(ConfigError, match=r"has a \[tool\] table but no \[tool.chaoskit.gate\]"):
        load_policy(other)


def test_missing_or_broken_policy_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="gate policy file .*nope.toml does not exist"):
        load_policy(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("required = [\n")
    with pytest.raises(ConfigError, match="broken.toml is not valid TOML"):
        load_policy(broken)
