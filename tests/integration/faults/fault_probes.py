"""How the fault tests observe a link: raw sockets and plain clients, each with a deadline.

Raw sockets speak RESP to Redis, so what a fault does to the bytes (delayed, sliced, cut
short, reset) is seen directly rather than through a client's retries.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from chaoskit.runtime.process import ProcessRuntime

_kafka_log = logging.getLogger("fault-tests.kafka")
_kafka_log.addHandler(logging.NullHandler())
_kafka_log.propagate = False
QUIET = {"logger": _kafka_log}


def split(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


def connect(address: str, timeout_s: float = 2.0) -> socket.socket:
    sock = socket.create_connection(split(address), timeout=timeout_s)
    sock.settimeout(timeout_s)
    return sock


def refused(address: str) -> bool:
    """True when a fresh connect is refused (the proxy is not listening)."""
    try:
        connect(address, 1.0).close()
    except ConnectionRefusedError:
        return True
    return False


def command(sock: socket.socket, *parts: bytes) -> bytes:
    """Send one RESP command and read one complete reply (a simple or bulk string)."""
    sock.sendall(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} bytes")
        data += chunk
        if complete(data):
            return data


def complete(reply: bytes) -> bool:
    if reply[:1] == b"$":
        header, _, rest = reply.partition(b"\r\n")
        size = int(header[1:])
        return size < 0 or len(rest) >= size + 2
    return reply.endswith(b"\r\n")


def ping_s(address: str) -> float:
    """Seconds for one PING round trip on an already open connection."""
    with connect(address, 5.0) as sock:
        start = time.perf_counter()
        assert command(sock, b"PING") == b"+PONG\r\n"
        return time.perf_counter() - start


def pings(address: str) -> bool:
    try:
        with connect(address, 1.0) as sock:
            return command(sock, b"PING") == b"+PONG\r\n"
    except OSError:
        return False


def proxy_states(env: ProcessRuntime) -> dict[str, tuple[bool, int]]:
    """Each proxy's (enabled, number of toxics), read from the Toxiproxy API."""
    return {name: (p.enabled, len(p.toxics)) for name, p in env.toxiproxy.proxies().items()}


def all_clear(env: ProcessRuntime) -> bool:
    return all(state == (True, 0) for state in proxy_states(env).values())


def produce(bootstrap: str, topic: str, value: bytes) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 10000, **QUIET})
    outcome: list = []
    producer.produce(topic, value, on_delivery=lambda err, msg: outcome.append(err))
    producer.flush(15)
    assert outcome == [None], f"delivery to {bootstrap} failed: {outcome}"


def read_all(bootstrap: str, topic: str, partitions: int, timeout_s: float = 20.0) -> list[bytes]:
    """Every message of ``topic`` (from the start to the current end of each partition)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex, "enable.auto.commit": False, **QUIET}
    )
    try:
        ends = {}
        for p in range(partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        positions = dict.fromkeys(ends, 0)
        while any(positions[p] < ends[p] for p in ends):
            assert time.monotonic() < deadline, f"read {len(values)} messages of {topic} before the deadline"
            msg = consumer.poll(0.5)
            if msg is None or (msg.error() and msg.error().code() == KafkaError._PARTITION_EOF):
                continue
            assert msg.error() is None, msg.error()
            values.append(msg.value())
            positions[msg.partition()] = msg.offset() + 1
        return values
    finally:
        consumer.close()
