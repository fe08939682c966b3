"""Health probes and the one way chaoskit waits: poll a condition until a deadline.

The probes connect directly (never through a proxy) so a fault on a link never makes the
framework think a component is down.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
import requests
from confluent_kafka.admin import AdminClient
from redis.backoff import NoBackoff
from redis.retry import Retry

T = TypeVar("T")
# librdkafka logs every refused connect to stderr; the framework's own clients expect
# refusals (that is the fault) and send them here instead.
QUIET_KAFKA_LOG = logging.getLogger("chaoskit.kafka")
QUIET_KAFKA_LOG.addHandler(logging.NullHandler())
QUIET_KAFKA_LOG.propagate = False


class DeadlineExceeded(TimeoutError):
    pass


def wait_for(
    condition: Callable[[], T | None],
    timeout_s: float,
    what: str,
    interval_s: float = 0.05,
    abort: Callable[[], str | None] | None = None,
) -> T:
    """Call ``condition`` until it returns a truthy value or ``timeout_s`` passes.

    ``abort`` is checked each round; when it returns a reason (e.g. "process exited with
    code 1") waiting stops at once instead of running into the deadline.
    """
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while True:
        try:
            result = condition()
            if result:
                return result
        except Exception as err:  # a probe failing is the normal "not yet"
            last_error = err
        if abort is not None:
            reason = abort()
            if reason:
                raise DeadlineExceeded(f"{what}: {reason}")
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise DeadlineExceeded(f"{what}: not ready after {timeout_s:.0f} s{detail}")
        time.sleep(interval_s)


def tcp_open(address: str, timeout_s: float = 0.5) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    try:
        return requests.get(url, timeout=timeout_s).status_code == 200
    except requests.RequestException:
        return False


def redis_ping(address: str, timeout_s: float = 1.0) -> bool:
    host, port = address.rsplit(":", 1)
    client = redis.Redis(
        host=host,
        port=int(port),
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def kafka_admin(bootstrap: str) -> AdminClient:
    """An admin client that keeps librdkafka's connection-refused chatter off stderr."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "logger": QUIET_KAFKA_LOG,
        "socket.connection.setup.timeout.ms": 2000,
    }
    return AdminClient(config)


def kafka_brokers(bootstrap: str, timeout_s: float = 2.0) -> list[str]:
    """The broker addresses a metadata request to ``bootstrap`` returns."""
    metadata = kafka_admin(bootstrap).list_topics(timeout=timeout_s)
    return [f"{b.host}:{b.port}" for b in metadata.brokers.values()]


def kafka_ready(bootstrap: str) -> bool:
    return tcp_open(bootstrap) and bool(kafka_brokers(bootstrap))
