"""Load parameters and targets are checked before anything starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chaoskit.errors import BlastRadiusError, ConfigError
from chaoskit.load.config import LoadConfig, Target
from chaoskit.load.runner import LoadRunner

HTTP = Target.http("http://127.0.0.1:8081")
KAFKA = Target.kafka("127.0.0.1:9092", "events")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"users": 0}, r"load\.users must be an integer >= 1, got 0"),
        ({"users": 2.5}, r"load\.users must be an integer >= 1, got 2\.5"),
        ({"rate": 0}, r"load\.rate must be a finite number > 0, got 0"),
        ({"rate": float("inf")}, r"load\.rate must be a finite number > 0, got inf"),
        ({"duration_s": -1}, r"load\.duration_s must be a finite number > 0, got -1"),
        ({"shape": "wave"}, r"load\.shape must be one of constant, ramp, spike, step; got 'wave'"),
        ({"user": "grpc"}, r"load\.user must be one of http, kafka; got 'grpc'"),
        ({"shape": "ramp"}, r"load\.duration_s is required for shape 'ramp'"),
        ({"duration_s": 700}, r"load\.duration_s 700 is longer than load\.max_duration_s 600"),
        ({"spawn_rate": 0}, r"load\.spawn_rate must be a finite number > 0"),
        ({"base_users": 30}, r"load\.base_users must be between 1 and users \(20\), got 30"),
        ({"steps": 0}, r"load\.steps must be an integer >= 1, got 0"),
        ({"key_prefix": " "}, r"load\.key_prefix must be a non-empty string"),
        ({"key_count": 0}, r"load\.key_count must be an integer >= 1"),
        ({"content_bytes": -1}, r"load\.content_bytes must be an integer >= 0"),
        ({"workers": -1}, r"load\.workers must be an integer >= 0, got -1"),
        ({"workers": True}, r"load\.workers must be an integer >= 0, got True"),
        ({"workers": 21}, r"load\.workers must be between 0 and 20 \(at most users=20, key_count=100 and 32"),
        ({"workers": 3, "key_count": 2}, r"load\.workers must be between 0 and 2 .*key_count=2"),
        ({"workers": 33, "users": 40}, r"load\.workers must be between 0 and 32 .*, got 33"),
        ({"workers": 2, "local_workers": 3}, r"load\.local_workers must be between 0 and workers \(2\), got 3"),
        ({"local_workers": -1}, r"load\.local_workers must be an integer >= 0, got -1"),
        ({"master_port": 70000}, r"load\.master_port must be a TCP port \(0 for a free one\), got 70000"),
    ],
)
def test_bad_parameters_name_the_field_the_value_and_what_is_allowed(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LoadConfig(target=HTTP, **params)


def test_the_user_kind_must_match_the_target() -> None:
    with pytest.raises(ConfigError, match=r"load\.user 'http' needs target\.http_url"):
        LoadConfig(target=KAFKA, user="http")
    with pytest.raises(ConfigError, match=r"load\.user 'kafka' needs target\.bootstrap .* and target\.topic"):
        LoadConfig(target=HTTP, user="kafka")
    with pytest.raises(ConfigError, match=r"target\.http_url must be an http:// or https:// URL"):
        LoadConfig(target=Target.http("127.0.0.1:8081"))
    with pytest.raises(ConfigError, match=r"target\.bootstrap must be host:port"):
        LoadConfig(target=Target.kafka("127.0.0.1", "events"), user="kafka")


@pytest.mark.parametrize(
    ("target", "user", "host"),
    [
        (Target.http("http://10.0.0.5:8081"), "http", "10.0.0.5"),
        (Target.http("https://orders.example.com/"), "http", "orders.example.com"),
        (Target.kafka("127.0.0.1:9092,kafka.prod:9092", "events"), "kafka", "kafka.prod"),
        (Target.kafka("192.168.1.2:9092", "events"), "kafka", "192.168.1.2"),
    ],
)
def test_targets_off_the_loopback_are_refused(target: Target, user: str, host: str) -> None:
    with pytest.raises(BlastRadiusError, match=rf"points at '{host}', which is not this machine's loopback"):
        LoadConfig(target=target, user=user)


@pytest.mark.parametrize(
    "target",
    [Target.http("http://localhost:8081"), Target.http("http://127.0.0.2:80"), Target.http("http://[::1]:8081")],
)
def test_loopback_targets_are_accepted(target: Target) -> None:
    assert LoadConfig(target=target).target == target


def test_config_round_trips_through_json() -> None:
    config = LoadConfig(
        target=KAFKA,
        user="kafka",
        shape="step",
        duration_s=8,
        steps=2,
        seed=3,
        workers=3,
        local_workers=2,
        master_port=5557,
    )
    assert LoadConfig.from_json(config.to_json()) == config


def test_derived_settings() -> None:
    config = LoadConfig(target=HTTP, users=8, rate=200, shape="spike", duration_s=9)
    assert (config.rate_per_user, config.peak_spawn_rate, config.spike_base, config.run_limit_s) == (25, 8, 2, 9)
    assert LoadConfig(target=HTTP, max_duration_s=30).run_limit_s == 30
    assert (
        LoadConfig(target=HTTP, workers=3).workers_here,
        LoadConfig(target=HTTP, workers=3, local_workers=1).workers_here,
    ) == (3, 1)


def test_runner_refuses_bad_parameters_before_creating_anything(tmp_path: Path) -> None:
    runner = LoadRunner(tmp_path / "load", HTTP)
    with pytest.raises(ConfigError, match="load.users"):
        runner.run(users=0)
    with pytest.raises(BlastRadiusError):
        LoadRunner(tmp_path / "load", Target.http("http://203.0.113.9:80")).run()
    assert not (tmp_path / "load").exists()


def test_the_parent_side_never_imports_locust_or_gevent() -> None:
    code = (
        "import sys, chaoskit.load.runner, chaoskit.load.result; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
