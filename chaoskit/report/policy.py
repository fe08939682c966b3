"""The release-gate policy: which experiments must pass for a release to go ahead.

Read from ``[tool.chaoskit.gate]`` in pyproject.toml, or from a TOML file given with
``--policy`` (either with that table or with the fields at top level)::

    [tool.chaoskit.gate]
    required_severities = ["blocker", "critical"]   # every experiment of these severities must pass
    required = ["test_baseline*"]                    # and every experiment matching these globs
    max_failed = 0                                   # failures tolerated among the others
    min_experiments = 1                              # fewer results than this: the run is incomplete

Validated by hand rather than with pydantic: four fields, and each error must name the
field, the value and the allowed values in one sentence a release manager can act on.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chaoskit.errors import ConfigError
from chaoskit.marker import SEVERITIES

TABLE = "[tool.chaoskit.gate]"


@dataclass(frozen=True)
class GatePolicy:
    required_severities: tuple[str, ...] = ("blocker", "critical")
    required: tuple[str, ...] = ()
    max_failed: int = 0
    min_experiments: int = 1
    source: str = "built-in defaults"

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


FIELDS = ("required_severities", "required", "max_failed", "min_experiments")


def parse_policy(table: Mapping[str, Any], source: str = TABLE) -> GatePolicy:
    """A policy from a TOML table; unknown fields and bad values raise ConfigError."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: the gate policy must be a table of fields ({', '.join(FIELDS)}), got {table!r}")
    for key in table:
        if key not in FIELDS:
            raise ConfigError(
                f"{source}: unknown field {key!r} in the gate policy; allowed fields: {', '.join(FIELDS)}"
            )
    defaults = GatePolicy()
    severities = _strings(
        source,
        "required_severities",
        table.get("required_severities", defaults.required_severities),
        '["blocker", "critical"]',
    )
    for severity in severities:
        if severity not in SEVERITIES:
            raise ConfigError(
                f"{source}: required_severities = {list(severities)!r}: {severity!r} is not a severity; "
                f"allowed: {', '.join(SEVERITIES)}"
            )
    return GatePolicy(
        required_severities=severities,
        required=_strings(source, "required", table.get("required", defaults.required), '["test_baseline*"]'),
        max_failed=_count(source, "max_failed", table.get("max_failed", defaults.max_failed)),
        min_experiments=_count(source, "min_experiments", table.get("min_experiments", defaults.min_experiments)),
        source=source,
    )


def load_policy(path: Path | None = None, pyproject: Path = Path("pyproject.toml")) -> GatePolicy:
    """``path`` if given (its ``[tool.chaoskit.gate]`` table, or its top level), else
    pyproject.toml's ``[tool.chaoskit.gate]``, else the built-in defaults."""
    if path is not None:
        data = _read(Path(path))
        if "tool" in data:
            table = data["tool"].get("chaoskit", {}).get("gate")
            if table is None:
                raise ConfigError(
                    f"{path}: has a [tool] table but no {TABLE}; put the gate policy there or at top level"
                )
            return parse_policy(table, f"{path} {TABLE}")
        return parse_policy(data, str(path))
    if pyproject.exists():
        table = _read(pyproject).get("tool", {}).get("chaoskit", {}).get("gate")
        if table is not None:
            return parse_policy(table, f"{pyproject} {TABLE}")
    return GatePolicy()


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"gate policy file {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"gate policy file {path} is not valid TOML: {err}") from None


def _strings(source: str, field: str, value: Any, example: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{source}: {field} = {value!r}: {field} must be a list of strings, e.g. {example}")
    return tuple(value)


def _count(source: str, field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{source}: {field} = {value!r}: {field} must be a whole number >= 0")
    return value
