"""When a canary is judged, and how bad it may be: the deploy policy, validated up front.

A bad policy must fail before any instance starts (principle 7), with the field, the
value and what is allowed, because a typo here (a rate of 5 instead of 0.05) would
silently promote every bad version. Plain checks rather than pydantic: six fields, and
the messages read like the rest of chaoskit's (``DeployPolicy.field=value is not allowed; ...``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields

from chaoskit.errors import ConfigError


@dataclass(frozen=True)
class DeployPolicy:
    """How a new version is watched before it is promoted or rolled back.

    window_s              watch at least this long before promoting (seconds, > 0)
    min_events            events the canary must handle before its rates are judged (>= 1)
    max_error_rate_delta  canary error rate minus the stable one, above which it rolls back ([0, 1])
    max_dlq_rate          canary share of events dead-lettered above which it rolls back ([0, 1])
    max_health_failures   failed /health probes of the canary tolerated in the window (>= 0)
    max_wait_s            if the canary still has fewer than min_events by then, roll back:
                          a version that cannot prove itself is not promoted (>= window_s)
    """

    window_s: float = 10.0
    min_events: int = 20
    max_error_rate_delta: float = 0.05
    max_dlq_rate: float = 0.05
    max_health_failures: int = 2
    max_wait_s: float = 30.0

    def __post_init__(self) -> None:
        _number("window_s", self.window_s, "a number of seconds > 0", lambda v: v > 0)
        _integer("min_events", self.min_events, 1)
        _number("max_error_rate_delta", self.max_error_rate_delta, "a fraction in [0, 1]", lambda v: 0 <= v <= 1)
        _number("max_dlq_rate", self.max_dlq_rate, "a fraction in [0, 1]", lambda v: 0 <= v <= 1)
        _integer("max_health_failures", self.max_health_failures, 0)
        _number(
            "max_wait_s",
            self.max_wait_s,
            f"a number of seconds >= window_s ({self.window_s:g})",
            lambda v: v >= self.window_s,
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> DeployPolicy:
        """A policy from ``{"window_s": "10", ...}`` (CLI flags, ini files); strings are parsed."""
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"unknown policy field(s) {', '.join(unknown)}; allowed: {', '.join(known)}")
        parsed: dict[str, object] = {}
        for name, raw in values.items():
            if isinstance(raw, str):
                try:
                    parsed[name] = int(raw) if known[name] == "int" else float(raw)
                except ValueError:
                    kind = "an integer" if known[name] == "int" else "a number"
                    raise ConfigError(f"DeployPolicy.{name}={raw!r} is not {kind}") from None
            else:
                parsed[name] = raw
        return cls(**parsed)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _number(field: str, value: object, allowed: str, ok: Callable[[float], bool]) -> None:
    valid = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not valid or not ok(float(value)):  # type: ignore[arg-type]
        raise ConfigError(f"DeployPolicy.{field}={value!r} is not allowed; expected {allowed}")


def _integer(field: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"DeployPolicy.{field}={value!r} is not allowed; expected an integer >= {minimum}")
