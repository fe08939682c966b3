"""What a load run is asked to do, validated before any process starts.

The parent (``runner``) builds a :class:`LoadConfig`, which checks every parameter and
the target, and hands it to the driver subprocess as JSON; the driver trusts it. Errors
name the field, the value and what is allowed (principle 7), and a target that is not on
this machine's loopback is refused: a chaos tool must not put load on anything outside
the environment it started.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from chaoskit.errors import BlastRadiusError, ConfigError
from chaoskit.guard import is_loopback

UserKind = Literal["http", "kafka"]
ShapeName = Literal["constant", "ramp", "spike", "step"]
USER_KINDS: tuple[str, ...] = get_args(UserKind)
SHAPES: tuple[str, ...] = get_args(ShapeName)
MAX_WORKERS = 32


@dataclass(frozen=True)
class Target:
    """What the load hits: order-service's base URL, or a Kafka bootstrap and topic."""

    http_url: str | None = None
    bootstrap: str | None = None
    topic: str | None = None

    @classmethod
    def http(cls, url: str) -> Target:
        return cls(http_url=url)

    @classmethod
    def kafka(cls, bootstrap: str, topic: str) -> Target:
        return cls(bootstrap=bootstrap, topic=topic)


@dataclass(frozen=True)
class LoadConfig:
    """One load run. ``rate`` is the total requests/s at the peak user count; each user
    paces itself at ``rate / users`` so the total follows the user count of the shape.
    ``duration_s=None`` (constant shape only) runs until stopped, never past
    ``max_duration_s``. ``request_timeout_s`` bounds an HTTP request and a Kafka delivery
    (``message.timeout.ms``); the default outlasts order-service's own 10 s produce
    timeout, so a broker outage shows as its 503 rather than as a client timeout.
    ``stop_timeout_s`` is how long the Kafka user waits for outstanding deliveries at stop.

    ``workers=0`` runs the users in one Locust process (the default and the fast path).
    ``workers=N`` runs Locust's own master/worker mode: one master (it runs the shape and
    hands users to the workers, as Locust distributes them) and N workers, each with its
    own slice of the keys (``n % N``), so versions still count up per key (one gevent loop
    is one core at most; workers are how a run gets more). The runner starts
    ``local_workers`` of them (default: all) on this machine; the master waits for the rest
    to join from elsewhere on ``master_port`` (0: a free port), bound to 127.0.0.1."""

    target: Target
    user: str = "http"
    users: int = 20
    rate: float = 200.0
    shape: str = "constant"
    duration_s: float | None = None
    max_duration_s: float = 600.0
    spawn_rate: float | None = None
    base_users: int | None = None
    steps: int = 4
    key_prefix: str = "load"
    key_count: int = 100
    content_bytes: int = 256
    request_timeout_s: float = 15.0
    stop_timeout_s: float = 5.0
    seed: int | None = None
    workers: int = 0
    local_workers: int | None = None
    master_port: int = 0

    def __post_init__(self) -> None:
        _check_choice("user", self.user, USER_KINDS)
        _check_choice("shape", self.shape, SHAPES)
        _check_int("users", self.users, 1)
        _check_positive("rate", self.rate)
        _check_positive("max_duration_s", self.max_duration_s)
        if self.duration_s is None:
            if self.shape != "constant":
                raise ConfigError(
                    f"load.duration_s is required for shape {self.shape!r} (its users follow the duration); "
                    f"only shape 'constant' may run until the block exits"
                )
        else:
            _check_positive("duration_s", self.duration_s)
            if self.duration_s > self.max_duration_s:
                raise ConfigError(
                    f"load.duration_s {self.duration_s!r} is longer than load.max_duration_s "
                    f"{self.max_duration_s!r}; raise max_duration_s or shorten the run"
                )
        if self.spawn_rate is not None:
            _check_positive("spawn_rate", self.spawn_rate)
        if self.base_users is not None:
            _check_int("base_users", self.base_users, 1)
            if self.base_users > self.users:
                raise ConfigError(
                    f"load.base_users must be between 1 and users ({self.users}), got {self.base_users!r}"
                )
        _check_int("steps", self.steps, 1)
        if not isinstance(self.key_prefix, str) or not self.key_prefix.strip():
            raise ConfigError(f"load.key_prefix must be a non-empty string, got {self.key_prefix!r}")
        _check_int("key_count", self.key_count, 1)
        _check_int("content_bytes", self.content_bytes, 0)
        _check_positive("request_timeout_s", self.request_timeout_s)
        _check_positive("stop_timeout_s", self.stop_timeout_s)
        if self.seed is not None:
            _check_int("seed", self.seed, 0)
        _check_int("workers", self.workers, 0)
        most = min(self.users, self.key_count, MAX_WORKERS)
        if self.workers > most:
            raise ConfigError(
                f"load.workers must be between 0 and {most} (at most users={self.users}, "
                f"key_count={self.key_count} and {MAX_WORKERS}: each worker needs a user and a key of its own), "
                f"got {self.workers!r}"
            )
        if self.local_workers is not None:
            _check_int("local_workers", self.local_workers, 0)
            if self.local_workers > self.workers:
                raise ConfigError(
                    f"load.local_workers must be between 0 and workers ({self.workers}), got {self.local_workers!r}"
                )
        _check_int("master_port", self.master_port, 0)
        if self.master_port > 65535:
            raise ConfigError(f"load.master_port must be a TCP port (0 for a free one), got {self.master_port!r}")
        _check_target(self.user, self.target)

    @property
    def peak_spawn_rate(self) -> float:
        """Users started per second: by default all of them within a second."""
        return self.spawn_rate if self.spawn_rate is not None else float(self.users)

    @property
    def workers_here(self) -> int:
        """How many workers the runner starts on this machine."""
        return self.workers if self.local_workers is None else self.local_workers

    @property
    def rate_per_user(self) -> float:
        return self.rate / self.users

    @property
    def spike_base(self) -> int:
        return self.base_users if self.base_users is not None else max(1, self.users // 4)

    @property
    def run_limit_s(self) -> float:
        """How long the users may run at most: the duration, or the open-ended bound."""
        return self.duration_s if self.duration_s is not None else self.max_duration_s

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadConfig:
        return cls(**{**data, "target": Target(**data["target"])})


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"load.{name} must be one of {', '.join(allowed)}; got {value!r}")


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"load.{name} must be an integer >= {minimum}, got {value!r}")


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"load.{name} must be a finite number > 0, got {value!r}")


def _refuse(what: str, value: str, host: str) -> BlastRadiusError:
    return BlastRadiusError(
        f"load {what} {value!r} points at {host!r}, which is not this machine's loopback; chaoskit only "
        f"puts load on the environment it started (127.0.0.1 or localhost), so that a typo or a "
        f"copied URL never loads a shared or production system"
    )


def _check_target(user: str, target: Target) -> None:
    if not isinstance(target, Target):
        raise ConfigError(f"load target must be a chaoskit.load.config.Target, got {target!r}")
    if user == "http":
        if not target.http_url:
            raise ConfigError(
                "load.user 'http' needs target.http_url (order-service's base URL, e.g. http://127.0.0.1:8081)"
            )
        parts = urlsplit(target.http_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"load target.http_url must be an http:// or https:// URL with a host, got {target.http_url!r}"
            )
        if not is_loopback(parts.hostname):
            raise _refuse("target.http_url", target.http_url, parts.hostname)
    else:
        if not target.bootstrap or not target.topic:
            raise ConfigError(
                f"load.user 'kafka' needs target.bootstrap (host:port[,host:port]) and target.topic, "
                f"got bootstrap={target.bootstrap!r} topic={target.topic!r}"
            )
        for server in target.bootstrap.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ConfigError(f"load target.bootstrap must be host:port[,host:port], got {target.bootstrap!r}")
            if not is_loopback(host):
                raise _refuse("target.bootstrap", target.bootstrap, host)
