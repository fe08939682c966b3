"""How long a fault takes to bite and to let go, as a client sees it.

Prints one JSON line: {"inject_ms": {"median": M, "p95": P}, "heal_ms": {"median": M, "p95": P}}.
The fault is ``down`` on the producer->redis link of the minimal topology, injected and
healed ``--runs`` times (50). inject_ms runs from the ``inject()`` call until a fresh connect
through the proxy is refused; heal_ms from the ``heal()`` call until a PING through the
proxy is answered. Both include the Toxiproxy API round trip, the timeline record and the
client's own probe. Target: median <= 20 ms each. Never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from chaoskit.faults import Faults
from chaoskit.observe.timeline import Timeline
from chaoskit.runtime.process import ProcessRuntime
from chaoskit.topology import load_topology

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_S = 5.0


def refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def pong(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16) == b"+PONG\r\n"
    except OSError:
        return False


def ms_until(action: Callable[[], object], condition: Callable[[], bool]) -> float:
    """Milliseconds from the start of ``action`` until ``condition`` holds (polled without pause)."""
    start = time.perf_counter()
    action()
    while not condition():
        if time.perf_counter() - start > DEADLINE_S:
            raise TimeoutError(f"no effect within {DEADLINE_S} s")
    return (time.perf_counter() - start) * 1000


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": round(statistics.median(ordered), 2), "p95": round(p95, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--topology", type=Path, default=ROOT / "fixtures" / "topologies" / "minimal.yml")
    args = parser.parse_args()

    runtime = ProcessRuntime(load_topology(args.topology), owner_pid=os.getpid())
    runtime.up()
    try:
        host, port = runtime.endpoint("redis", "producer").rsplit(":", 1)
        address = (host, int(port))
        faults = Faults(runtime, Timeline())
        inject_ms: list[float] = []
        heal_ms: list[float] = []
        for _ in range(args.runs):
            fault = faults.down("producer", "redis")
            inject_ms.append(ms_until(fault.inject, lambda: refused(*address)))
            heal_ms.append(ms_until(fault.heal, lambda: pong(*address)))
        faults.heal_all()
    finally:
        runtime.down()
    print(json.dumps({"inject_ms": summary(inject_ms), "heal_ms": summary(heal_ms)}))


if __name__ == "__main__":
    main()
