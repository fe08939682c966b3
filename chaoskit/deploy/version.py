"""A version of workflow-service to deploy: its name and the knobs that make it bad.

The reference service reads ``SERVICE_VERSION`` (reported on ``/metrics``), ``FAIL_RATE``
(a deterministic share of event ids fails) and ``EXTRA_LATENCY_MS`` (a sleep before every
event). A ``Version`` turns those into the environment overrides of one instance, so a
faulty deployment can be staged exactly and reproduced run after run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from chaoskit.errors import ConfigError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
MAX_EXTRA_LATENCY_MS = 60_000.0


@dataclass(frozen=True)
class Version:
    """``name`` labels the version (instance names, /metrics, alerts); the rest stage faults."""

    name: str
    fail_rate: float = 0.0
    extra_latency_ms: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise ConfigError(
                f"version name {self.name!r} is not allowed; expected 1-32 characters from [A-Za-z0-9._-], "
                "starting with a letter or digit (it becomes part of instance names and Kafka client ids)"
            )
        _check_number("fail_rate", self.fail_rate, 0.0, 1.0)
        _check_number("extra_latency_ms", self.extra_latency_ms, 0.0, MAX_EXTRA_LATENCY_MS)

    @property
    def is_bad(self) -> bool:
        return self.fail_rate > 0 or self.extra_latency_ms > 0

    def env(self) -> dict[str, str]:
        """The environment overrides that make an instance run this version."""
        return {
            "SERVICE_VERSION": self.name,
            "FAIL_RATE": repr(float(self.fail_rate)),
            "EXTRA_LATENCY_MS": repr(float(self.extra_latency_ms)),
        }


def bad_version(name: str = "v2-bad", fail_rate: float = 0.5, extra_latency_ms: float = 0.0) -> Version:
    """A version that fails ``fail_rate`` of its events (and/or is slow): a faulty deployment."""
    version = Version(name, fail_rate, extra_latency_ms)
    if not version.is_bad:
        raise ConfigError(f"bad_version({name!r}) needs fail_rate > 0 or extra_latency_ms > 0; both are 0")
    return version


def _check_number(field: str, value: object, low: float, high: float) -> None:
    number = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not number or not low <= value <= high:  # type: ignore[operator]
        raise ConfigError(f"Version.{field}={value!r} is not allowed; expected a number in [{low:g}, {high:g}]")
