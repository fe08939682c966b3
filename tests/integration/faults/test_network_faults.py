"""Network faults on real proxies: each one's effect is seen by a client, and heal removes it.

Redis is reached through the producer->redis proxy with raw RESP over sockets; Kafka
through producer->kafka with a metadata request. Lower bounds (a latency adds at least
its delay) are what Toxiproxy guarantees; upper bounds after heal are generous.
"""

from __future__ import annotations

import socket
import time

import pytest
from fault_probes import all_clear, command, connect, ping_s, pings, proxy_states, refused

from chaoskit.runtime import health
from chaoskit.runtime.health import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def via(env):
    """The addresses the producer uses (its proxies) and the direct ones."""
    return {
        "redis": env.endpoint("redis", "producer"),
        "kafka": env.endpoint("kafka", "producer"),
        "consumer-kafka": env.endpoint("kafka", "consumer"),
        "redis-direct": env.endpoint("redis"),
        "kafka-direct": env.endpoint("kafka"),
    }


def test_latency_adds_at_least_its_delay_to_a_round_trip_and_heal_removes_it(faults, via, timeline):
    with faults.latency("producer", "redis", ms=300, jitter=0):
        assert ping_s(via["redis"]) >= 0.3
        assert ping_s(via["redis-direct"]) < 0.3, "the direct endpoint is never faulted"
    assert ping_s(via["redis"]) < 0.3
    (window,) = timeline.windows()
    assert (window.name, window.target) == ("latency", "producer->redis")
    assert window.params == {"ms": 300, "jitter": 0, "direction": "downstream", "toxicity": 1.0}
    assert window.healed_at is not None


def test_latency_delays_kafka_metadata_through_the_proxy_only(faults, via):
    with faults.latency("producer", "kafka", ms=400):
        start = time.perf_counter()
        assert health.kafka_brokers(via["kafka"], timeout_s=10) == [via["kafka"]]
        assert time.perf_counter() - start >= 0.4
        assert health.kafka_brokers(via["kafka-direct"], timeout_s=10) == [via["kafka-direct"]]


def test_latencies_on_one_link_stack_and_heal_one_at_a_time(faults, via, env):
    first = faults.latency("producer", "redis", ms=200)
    both_ways = faults.latency("producer", "redis", ms=150, direction="both")
    with first:
        with both_ways:
            assert ping_s(via["redis"]) >= 0.2 + 2 * 0.15
            assert proxy_states(env)["producer--redis"] == (True, 3)
        assert 0.2 <= ping_s(via["redis"]) < 0.5
    assert ping_s(via["redis"]) < 0.2 and all_clear(env)


def test_toxicity_zero_spares_every_connection(faults, via):
    with faults.latency("producer", "redis", ms=500, toxicity=0.0):
        assert ping_s(via["redis"]) < 0.5


def test_down_refuses_connects_drops_open_ones_and_spares_the_rest(faults, via, env):
    opened = connect(via["redis"])
    assert command(opened, b"PING") == b"+PONG\r\n"
    with faults.down("producer", "redis"):
        assert refused(via["redis"])
        with pytest.raises((ConnectionError, OSError)):
            command(opened, b"PING")
        assert pings(via["redis-direct"])
        assert health.kafka_brokers(via["kafka"], timeout_s=10) == [via["kafka"]]
        assert proxy_states(env)["producer--redis"] == (False, 0)
    opened.close()
    assert pings(via["redis"])


def test_overlapping_cuts_reopen_the_link_only_when_the_last_heals(faults, via, env):
    down = faults.down("producer", "redis").inject()
    partition = faults.partition([("producer", "redis"), ("producer", "kafka")]).inject()
    down.heal()
    assert refused(via["redis"]), "the partition still cuts producer->redis"
    partition.heal()
    assert pings(via["redis"]) and all_clear(env)


def test_timeout_stalls_the_connection_and_heal_closes_it(faults, via):
    with faults.timeout("producer", "redis", ms=0):
        stalled = connect(via["redis"], timeout_s=1.0)
        with pytest.raises(socket.timeout):
            command(stalled, b"PING")
    stalled.settimeout(5)
    assert stalled.recv(100) == b"", "removing a timeout toxic closes the connections it held"
    stalled.close()
    assert pings(via["redis"])


def test_reset_peer_resets_the_connection(faults, via):
    with faults.reset_peer("producer", "redis"), connect(via["redis"]) as sock, pytest.raises(ConnectionResetError):
        command(sock, b"PING")
    assert pings(via["redis"])


def test_bandwidth_slows_a_large_transfer(faults, via):
    value = b"x" * 100_000
    with connect(via["redis-direct"]) as sock:
        assert command(sock, b"SET", b"fault-tests:big", value) == b"+OK\r\n"

    def get_s() -> float:
        with connect(via["redis"], timeout_s=20) as sock:
            start = time.perf_counter()
            assert command(sock, b"GET", b"fault-tests:big").endswith(value + b"\r\n")
            return time.perf_counter() - start

    with faults.bandwidth("producer", "redis", kbps=100):
        assert get_s() >= 0.5, "100 kB at 100 KB/s takes about a second"
    assert get_s() < 0.5


def test_slicer_splits_a_reply_into_small_writes(faults, via):
    value = b"y" * 1000
    with connect(via["redis-direct"]) as sock:
        command(sock, b"SET", b"fault-tests:sliced", value)

    def reads_for_one_reply() -> int:
        with connect(via["redis"], timeout_s=10) as sock:
            sock.sendall(b"*2\r\n$3\r\nGET\r\n$18\r\nfault-tests:sliced\r\n")
            data, reads = b"", 0
            while len(data) < len(value) + 9:
                data += sock.recv(65536)
                reads += 1
            return reads

    with faults.slicer("producer", "redis", average_size=16, delay_us=2000):
        assert reads_for_one_reply() >= 10
    assert reads_for_one_reply() < 10


def test_limit_data_closes_the_connection_after_the_limit(faults, via):
    with connect(via["redis-direct"]) as sock:
        command(sock, b"SET", b"fault-tests:limited", b"z" * 1000)
    with faults.limit_data("producer", "redis", bytes=100):
        with connect(via["redis"]) as sock, pytest.raises(ConnectionError, match=r"closed after \d+ bytes"):
            command(sock, b"GET", b"fault-tests:limited")
    with connect(via["redis"]) as sock:
        assert len(command(sock, b"GET", b"fault-tests:limited")) > 1000


def test_slow_close_holds_the_close_back(faults, via):
    def close_s() -> float:
        with connect(via["redis"], timeout_s=5) as sock:
            start = time.perf_counter()
            sock.sendall(b"QUIT\r\n")
            wait_for(lambda: sock.recv(100) == b"", 5, "the connection to close", interval_s=0)
            return time.perf_counter() - start

    with faults.slow_close("producer", "redis", ms=400):
        assert close_s() >= 0.4
    assert close_s() < 0.4


def test_partition_cuts_exactly_the_given_links(faults, via, env):
    with faults.partition([("producer", "kafka")]):
        assert refused(via["kafka"])
        assert not refused(via["consumer-kafka"]) and pings(via["redis"])
        assert health.kafka_brokers(via["consumer-kafka"], timeout_s=10) == [via["consumer-kafka"]]
        assert {n for n, (enabled, _) in proxy_states(env).items() if not enabled} == {"producer--kafka"}
    assert all_clear(env)


def test_isolate_cuts_every_link_of_a_service(faults, via, env):
    with faults.isolate("producer"):
        assert refused(via["kafka"]) and refused(via["redis"])
        assert not refused(via["consumer-kafka"])
        assert {n for n, (enabled, _) in proxy_states(env).items() if not enabled} == {
            "producer--kafka",
            "producer--redis",
        }
    assert all_clear(env)
