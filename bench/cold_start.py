"""Cold start and reset of an environment, per runtime.

Prints one JSON line: {"process": {"cold_s": {"median": S, "max": S},
"reset_s": {"median": S, "max": S}}, "docker": {...}} (docker: the same figures for
the container runtime, measured the same way; it needs images/build.sh first). A cold
start is ``up()`` until every component is healthy (fresh Kafka storage, topics created,
proxies verified, services answering). A reset is what runs between two experiments
after one left a toxic on a link and a proxy disabled: ``reset()`` until every link is clean again.
Targets on a 2-core machine: cold start <= 15 s, reset <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from chaoskit.runtime.process import ProcessRuntime
from chaoskit.runtime.toxiproxy import Toxic
from chaoskit.topology import load_topology

ROOT = Path(__file__).resolve().parents[1]


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "max": round(max(values), 3)}


def measure(runtime_class: type, topology_path: Path, colds: int, resets: int) -> dict[str, dict[str, float]]:
    """Cold starts of ``runtime_class`` on the topology, then resets on the last environment."""
    topology = load_topology(topology_path)
    cold: list[float] = []
    reset: list[float] = []
    for i in range(colds):
        runtime = runtime_class(topology, owner_pid=os.getpid())
        started = time.monotonic()
        runtime.up()
        cold.append(time.monotonic() - started)
        try:
            if i == colds - 1:
                proxies = list(runtime.plan.proxies.values())
                for _ in range(resets):
                    runtime.toxiproxy.add_toxic(
                        proxies[0].proxy, Toxic("lat", "latency", "downstream", 1.0, {"latency": 500})
                    )
                    runtime.toxiproxy.set_enabled(proxies[-1].proxy, False)
                    started = time.monotonic()
                    runtime.reset()
                    reset.append(time.monotonic() - started)
        finally:
            runtime.down()
    return {"cold_s": summary(cold), "reset_s": summary(reset)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topology", type=Path, default=ROOT / "docker-compose.chaos.yml")
    parser.add_argument("--colds", type=int, default=3)
    parser.add_argument("--resets", type=int, default=10)
    parser.add_argument("--runtimes", default="process,docker", help="comma-separated: process, docker")
    args = parser.parse_args()
    figures = {}
    for runtime in args.runtimes.split(","):
        if runtime == "process":
            figures["process"] = measure(ProcessRuntime, args.topology, args.colds, args.resets)
        elif runtime == "docker":
            from chaoskit.runtime.docker import DockerRuntime  # needs images/build.sh first

            figures["docker"] = measure(DockerRuntime, args.topology, args.colds, args.resets)
        else:
            parser.error(f"--runtimes: {runtime!r} is not a runtime; allowed: process, docker")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
