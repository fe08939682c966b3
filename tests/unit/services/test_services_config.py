"""Config validation: every bad value is named with the value and what is allowed.

The settings classes are pydantic-settings models; these tests hold them to the contract
the hand-written reader had: names, defaults, bounds and the one-line error.
"""

from __future__ import annotations

import io
import sys

import pytest

from services.config import ConfigError, ServiceSettings, load_config
from services.document_service import DocumentServiceConfig
from services.order_service import OrderServiceConfig
from services.redriver import RedriverConfig
from services.workflow_service import WorkflowConfig

BASE = {
    "HTTP_PORT": "8080",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DOCUMENT_SERVICE_URL": "http://127.0.0.1:8081",
}
CONSUMER = {
    *("SERVICE_NAME", "HTTP_HOST", "HTTP_PORT", "KAFKA_BOOTSTRAP_SERVERS", "CONSUMER_GROUP", "REDIS_URL"),
    *("DOCUMENT_SERVICE_URL", "DOCUMENT_TIMEOUT_S", "SERVICE_VERSION"),
}


def _error(factory, **overrides: str | None) -> ConfigError:
    env = {**BASE, **overrides}
    with pytest.raises(ConfigError) as caught:
        factory({k: v for k, v in env.items() if v is not None})
    return caught.value


def test_defaults_follow_the_compose_contract() -> None:
    workflow = WorkflowConfig.from_env(BASE)
    assert (workflow.requests_topic, workflow.processed_topic, workflow.dlq_topic) == (
        "documents.requested",
        "documents.processed",
        "documents.dlq",
    )
    assert workflow.settings.consumer_group == "workflow-service"
    assert workflow.settings.common.http_host == "127.0.0.1"
    assert workflow.settings.common.service_name == "workflow-service"
    assert workflow.settings.document_timeout_s == 2.0
    assert workflow.settings.service_version == "stable"
    assert (workflow.fail_rate, workflow.extra_latency_ms) == (0.0, 0.0)
    redriver = RedriverConfig.from_env(BASE)
    assert (redriver.backoff_base_s, redriver.backoff_factor, redriver.backoff_cap_s, redriver.max_attempts) == (
        1.0,
        2.0,
        8.0,
        4,
    )
    assert redriver.alerts_topic == "ops.alerts" and redriver.settings.consumer_group == "redriver"
    order = OrderServiceConfig.from_env(BASE)
    assert order.produce_timeout_s == 10.0 and order.requests_topic == "documents.requested"


def test_blank_values_mean_the_default() -> None:
    assert WorkflowConfig.from_env({**BASE, "FAIL_RATE": "  "}).fail_rate == 0.0


def test_blank_required_value_is_missing_and_shown_as_given() -> None:
    error = _error(WorkflowConfig.from_env, REDIS_URL="  ")
    assert error.name == "REDIS_URL" and error.value == "  " and "(required)" in str(error)


def test_values_are_trimmed_and_urls_kept_as_written() -> None:
    config = WorkflowConfig.from_env(
        {**BASE, "MAX_ATTEMPTS": " 7 ", "DOCUMENT_SERVICE_URL": " http://127.0.0.1:80/ ", "SERVICE_NAME": " wf "}
    )
    assert config.document_service_url == "http://127.0.0.1:80"
    assert config.redis_url == "redis://127.0.0.1:6379/0"
    assert config.settings.common.service_name == "wf" and config.settings.consumer_group == "workflow-service"


def test_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MAX_ATTEMPTS", "9")
    assert RedriverConfig.from_env().max_attempts == 9
    assert load_config(RedriverConfig.from_env).max_attempts == 9


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        (DocumentServiceConfig, {"SERVICE_NAME", "HTTP_HOST", "HTTP_PORT"}),
        (
            OrderServiceConfig,
            {
                "SERVICE_NAME",
                "HTTP_HOST",
                "HTTP_PORT",
                "KAFKA_BOOTSTRAP_SERVERS",
                "REQUESTS_TOPIC",
                "PRODUCE_TIMEOUT_S",
            },
        ),
        (
            WorkflowConfig,
            {*CONSUMER, "REQUESTS_TOPIC", "PROCESSED_TOPIC", "DLQ_TOPIC", "FAIL_RATE", "EXTRA_LATENCY_MS"},
        ),
        (
            RedriverConfig,
            {
                *CONSUMER,
                *("DLQ_TOPIC", "PROCESSED_TOPIC", "ALERTS_TOPIC", "BACKOFF_BASE_S", "BACKOFF_FACTOR", "BACKOFF_CAP_S"),
                "MAX_ATTEMPTS",
            },
        ),
    ],
)
def test_variable_names_are_the_compose_contract(settings: type[ServiceSettings], names: set[str]) -> None:
    fields = settings.model_fields.values()
    assert {field.alias for field in fields} == names
    assert all(field.description for field in fields), "every variable must say what is allowed"


@pytest.mark.parametrize(
    ("factory", "overrides", "name"),
    [
        (OrderServiceConfig.from_env, {"KAFKA_BOOTSTRAP_SERVERS": None}, "KAFKA_BOOTSTRAP_SERVERS"),
        (OrderServiceConfig.from_env, {"KAFKA_BOOTSTRAP_SERVERS": "host:99999"}, "KAFKA_BOOTSTRAP_SERVERS"),
        (OrderServiceConfig.from_env, {"KAFKA_BOOTSTRAP_SERVERS": "a:1,b"}, "KAFKA_BOOTSTRAP_SERVERS"),
        (OrderServiceConfig.from_env, {"REQUESTS_TOPIC": "bad topic"}, "REQUESTS_TOPIC"),
        (DocumentServiceConfig.from_env, {"HTTP_PORT": None}, "HTTP_PORT"),
        (DocumentServiceConfig.from_env, {"HTTP_PORT": "eighty"}, "HTTP_PORT"),
        (WorkflowConfig.from_env, {"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL"),
        (WorkflowConfig.from_env, {"DOCUMENT_SERVICE_URL": "ftp://x"}, "DOCUMENT_SERVICE_URL"),
        (WorkflowConfig.from_env, {"DOCUMENT_TIMEOUT_S": "0"}, "DOCUMENT_TIMEOUT_S"),
        (WorkflowConfig.from_env, {"FAIL_RATE": "nan"}, "FAIL_RATE"),
        (WorkflowConfig.from_env, {"FAIL_RATE": "-0.1"}, "FAIL_RATE"),
        (WorkflowConfig.from_env, {"EXTRA_LATENCY_MS": "inf"}, "EXTRA_LATENCY_MS"),
        (RedriverConfig.from_env, {"BACKOFF_BASE_S": "0"}, "BACKOFF_BASE_S"),
        (RedriverConfig.from_env, {"BACKOFF_FACTOR": "0.99"}, "BACKOFF_FACTOR"),
        (RedriverConfig.from_env, {"BACKOFF_BASE_S": "10"}, "BACKOFF_CAP_S"),
        (RedriverConfig.from_env, {"MAX_ATTEMPTS": "2.5"}, "MAX_ATTEMPTS"),
        (RedriverConfig.from_env, {"MAX_ATTEMPTS": "0"}, "MAX_ATTEMPTS"),
        (WorkflowConfig.from_env, {"REDIS_URL": "redis://127.0.0.1:0"}, "REDIS_URL"),
        (WorkflowConfig.from_env, {"REDIS_URL": "redis:///0"}, "REDIS_URL"),
        (WorkflowConfig.from_env, {"DOCUMENT_SERVICE_URL": "http://127.0.0.1:99999"}, "DOCUMENT_SERVICE_URL"),
        (WorkflowConfig.from_env, {"REQUESTS_TOPIC": "x" * 250}, "REQUESTS_TOPIC"),
        (DocumentServiceConfig.from_env, {"HTTP_PORT": "0"}, "HTTP_PORT"),
        (DocumentServiceConfig.from_env, {"HTTP_PORT": "65536"}, "HTTP_PORT"),
    ],
)
def test_bad_values_are_named(factory, overrides: dict[str, str | None], name: str) -> None:
    error = _error(factory, **overrides)
    assert error.name == name
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"config error: {name}=") and "expected" in message


def test_message_shows_value_and_allowed_range() -> None:
    error = _error(RedriverConfig.from_env, BACKOFF_BASE_S="abc")
    assert str(error) == "config error: BACKOFF_BASE_S='abc' is not allowed; expected a number in (0, 3600]"
    cap = _error(RedriverConfig.from_env, BACKOFF_BASE_S="4", BACKOFF_CAP_S="2")
    assert str(cap) == "config error: BACKOFF_CAP_S='2' is not allowed; expected a number >= BACKOFF_BASE_S (4)"
    missing = _error(OrderServiceConfig.from_env, KAFKA_BOOTSTRAP_SERVERS=None)
    assert "KAFKA_BOOTSTRAP_SERVERS=<unset>" in str(missing) and "(required)" in str(missing)


def test_load_config_exits_2_with_the_line_on_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    with pytest.raises(SystemExit) as caught:
        load_config(WorkflowConfig.from_env, {**BASE, "FAIL_RATE": "2"})
    assert caught.value.code == 2
    assert stderr.getvalue() == "config error: FAIL_RATE='2' is not allowed; expected a number in [0, 1]\n"


def test_a_script_knob_is_read_and_refused_like_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """fixtures/broken/workflow_commit_first.py reads APPLY_DELAY_S through load_config."""
    assert load_config(lambda env: env.number("APPLY_DELAY_S", 0.5, 0.0, 60.0), {}) == 0.5
    assert load_config(lambda env: env.number("APPLY_DELAY_S", 0.5, 0.0, 60.0), {"APPLY_DELAY_S": " 2 "}) == 2.0
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    with pytest.raises(SystemExit) as caught:
        load_config(lambda env: env.number("APPLY_DELAY_S", 0.5, 0.0, 60.0), {"APPLY_DELAY_S": "61"})
    assert caught.value.code == 2
    assert stderr.getvalue() == "config error: APPLY_DELAY_S='61' is not allowed; expected a number in [0, 60]\n"
