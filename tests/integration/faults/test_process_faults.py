"""Process faults and the loss of Kafka or Redis, on the real processes.

Kafka is read and written on its direct listener (the observer's view), so a test sees
what the broker holds, not what a faulted link lets through.
"""

from __future__ import annotations

import psutil
import pytest
from confluent_kafka import KafkaException
from fault_probes import all_clear, command, connect, pings, produce, proxy_states, read_all, refused

from chaoskit.runtime import health

pytestmark = pytest.mark.integration


def pid(env, component: str) -> int:
    return env.status()["components"][component]["pid"]


def http_up(env, component: str) -> bool:
    """The minimal topology's services have no health path: healthy means running to the
    runtime, so their HTTP port is given a few seconds to open."""
    url = f"http://{env.endpoint(component)}/"
    return bool(health.wait_for(lambda: health.http_ok(url), 10, f"{component} answering HTTP"))


def test_pause_hangs_the_process_and_heal_resumes_it(faults, env):
    redis_direct = env.endpoint("redis")
    with faults.pause("redis"):
        assert not health.redis_ping(redis_direct, timeout_s=0.5), "a paused Redis does not answer"
        assert psutil.Process(pid(env, "redis")).status() == psutil.STATUS_STOPPED
    assert health.redis_ping(redis_direct, timeout_s=2)


def test_kill_ends_the_process_and_heal_brings_it_back_healthy(faults, env):
    before = pid(env, "producer")
    with faults.kill("producer"):
        assert not psutil.pid_exists(before) or psutil.Process(before).status() == psutil.STATUS_ZOMBIE
        assert refused(env.endpoint("producer"))
    assert http_up(env, "producer") and pid(env, "producer") != before


def test_stop_is_graceful_and_heal_starts_it_again(faults, env):
    before = pid(env, "consumer")
    with faults.stop("consumer"):
        assert env.status()["components"]["consumer"]["state"] == "stopped"
    assert http_up(env, "consumer") and pid(env, "consumer") != before


def test_restart_is_done_when_injected(faults, env, timeline):
    before = pid(env, "producer")
    with faults.restart("producer"):
        assert http_up(env, "producer") and pid(env, "producer") != before
    assert [w.name for w in timeline.windows()] == ["restart"]


def test_broker_killed_with_data_kept_finds_its_log_on_heal(faults, env):
    produce(env.kafka_bootstrap, "events", b"before-the-crash")
    with faults.broker_loss(mode="kill", data="kept"):
        assert refused(env.kafka_bootstrap)
        assert env.status()["components"]["kafka"]["state"] == "stopped"
    assert b"before-the-crash" in read_all(env.kafka_bootstrap, "events", partitions=2)
    assert health.kafka_brokers(env.endpoint("kafka", "producer"), timeout_s=10)


def test_broker_killed_with_data_lost_comes_back_with_empty_topics(faults, env):
    produce(env.kafka_bootstrap, "events", b"to-be-lost")
    with faults.broker_loss(mode="kill", data="lost"):
        assert refused(env.kafka_bootstrap)
    admin = health.kafka_admin(env.kafka_bootstrap)
    assert "events" in admin.list_topics(timeout=10).topics
    assert read_all(env.kafka_bootstrap, "events", partitions=2) == []


def test_broker_paused_hangs_and_resumes_with_its_data(faults, env):
    produce(env.kafka_bootstrap, "events", b"before-the-pause")
    with faults.broker_loss(mode="pause"), pytest.raises(KafkaException):
        health.kafka_brokers(env.kafka_bootstrap, timeout_s=1)
    assert b"before-the-pause" in read_all(env.kafka_bootstrap, "events", partitions=2)


def test_broker_cut_from_every_client_stays_reachable_for_observers(faults, env):
    with faults.broker_loss(mode="cut"):
        assert refused(env.endpoint("kafka", "producer")) and refused(env.endpoint("kafka", "consumer"))
        assert health.kafka_brokers(env.kafka_bootstrap, timeout_s=10) == [env.kafka_bootstrap]
        assert proxy_states(env)["producer--redis"] == (True, 0)
    assert all_clear(env)
    assert health.kafka_brokers(env.endpoint("kafka", "consumer"), timeout_s=10)


def test_broker_cut_with_data_lost_reopens_on_an_empty_broker(faults, env):
    produce(env.kafka_bootstrap, "events", b"to-be-lost-behind-a-cut")
    with faults.broker_loss(mode="cut", data="lost"):
        assert refused(env.endpoint("kafka", "producer"))
    assert all_clear(env)
    assert read_all(env.endpoint("kafka", "producer"), "events", partitions=2) == []


@pytest.mark.parametrize("data, survives", [("kept", True), ("lost", False)])
def test_redis_killed_keeps_or_loses_its_data(faults, env, data, survives):
    with connect(env.endpoint("redis")) as sock:
        assert command(sock, b"SET", b"fault-tests:durable", b"yes") == b"+OK\r\n"
    with faults.redis_loss(mode="kill", data=data):
        assert refused(env.endpoint("redis")) and not pings(env.endpoint("redis", "producer"))
    with connect(env.endpoint("redis")) as sock:
        assert (command(sock, b"GET", b"fault-tests:durable") == b"$3\r\nyes\r\n") is survives
