"""Service configuration read from environment variables.

The variable names are the contract in docker-compose.chaos.yml (the `x-chaoskit` env of
each service), plus HTTP_PORT, HTTP_HOST and SERVICE_NAME, which every service takes.
A bad value stops the service before it touches Kafka or Redis, with one line on stderr
that names the variable, the value and what is allowed, and exit code 2: a chaos run
must fail loudly at start rather than misbehave later under a fault.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

CONFIG_ERROR_EXIT_CODE = 2

_TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,249}$")

T = TypeVar("T")


class ConfigError(ValueError):
    """One bad environment variable; str() is the one-line message printed at start."""

    def __init__(self, name: str, value: str | None, allowed: str) -> None:
        self.name = name
        self.value = value
        self.allowed = allowed
        shown = "<unset>" if value is None else repr(value)
        super().__init__(f"config error: {name}={shown} is not allowed; expected {allowed}")


class Env:
    """Typed reads from one environment mapping; every failed read raises ConfigError.

    An empty or blank value counts as unset, so `FOO=` in a compose file means "use the
    default" rather than a confusing parse error.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, name: str) -> str | None:
        """The trimmed value, or None when unset or blank."""
        value = self._environ.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()

    def string(self, name: str, default: str | None = None) -> str:
        value = self.raw(name)
        if value is not None:
            return value
        if default is None:
            raise ConfigError(name, self._environ.get(name), "a non-empty string (required)")
        return default

    def integer(self, name: str, default: int | None, minimum: int, maximum: int) -> int:
        value = self.raw(name)
        allowed = f"an integer in [{minimum}, {maximum}]" + ("" if default is not None else " (required)")
        if value is None:
            if default is None:
                raise ConfigError(name, self._environ.get(name), allowed)
            return default
        try:
            parsed = int(value)
        except ValueError:
            raise ConfigError(name, value, allowed) from None
        if not minimum <= parsed <= maximum:
            raise ConfigError(name, value, allowed)
        return parsed

    def number(
        self,
        name: str,
        default: float,
        minimum: float,
        maximum: float,
        *,
        exclusive_minimum: bool = False,
    ) -> float:
        value = self.raw(name)
        low = "(" if exclusive_minimum else "["
        allowed = f"a number in {low}{minimum:g}, {maximum:g}]"
        if value is None:
            return default
        try:
            parsed = float(value)
        except ValueError:
            raise ConfigError(name, value, allowed) from None
        too_low = parsed <= minimum if exclusive_minimum else parsed < minimum
        if not math.isfinite(parsed) or too_low or parsed > maximum:
            raise ConfigError(name, value, allowed)
        return parsed

    def bootstrap(self, name: str) -> str:
        """A Kafka bootstrap list `host:port[,host:port...]` (required)."""
        allowed = "a comma-separated list of host:port with ports in [1, 65535] (required)"
        value = self.raw(name)
        if value is None:
            raise ConfigError(name, self._environ.get(name), allowed)
        for item in value.split(","):
            host, sep, port = item.strip().rpartition(":")
            if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
                raise ConfigError(name, value, allowed)
        return value

    def url(self, name: str, schemes: tuple[str, ...]) -> str:
        """A required URL whose scheme is one of `schemes` and which has a host."""
        allowed = f"a {'/'.join(schemes)} URL with a host, e.g. {schemes[0]}://127.0.0.1:8080 (required)"
        value = self.raw(name)
        if value is None:
            raise ConfigError(name, self._environ.get(name), allowed)
        try:
            parts = urlsplit(value)
            port_ok = parts.port is None or 1 <= parts.port <= 65535
        except ValueError:
            raise ConfigError(name, value, allowed) from None
        if parts.scheme not in schemes or not parts.hostname or not port_ok:
            raise ConfigError(name, value, allowed)
        return value.rstrip("/")

    def topic(self, name: str, default: str) -> str:
        value = self.string(name, default)
        if not _TOPIC_RE.match(value):
            raise ConfigError(name, value, "a Kafka topic name of 1-249 characters from [A-Za-z0-9._-]")
        return value


@dataclass(frozen=True)
class CommonConfig:
    """What every service takes: its name in logs and where it serves /health."""

    service_name: str
    http_host: str
    http_port: int

    @classmethod
    def from_env(cls, env: Env, default_name: str) -> CommonConfig:
        return cls(
            service_name=env.string("SERVICE_NAME", default_name),
            http_host=env.string("HTTP_HOST", "127.0.0.1"),
            http_port=env.integer("HTTP_PORT", None, 1, 65535),
        )


def load_config(factory: Callable[[Env], T], environ: Mapping[str, str] | None = None) -> T:
    """Build a service config or stop the process with the one-line error and exit code 2."""
    try:
        return factory(Env(os.environ if environ is None else environ))
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.stderr.flush()
        raise SystemExit(CONFIG_ERROR_EXIT_CODE) from None
