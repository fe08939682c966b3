"""Cold start and reset of the docker runtime, for ``bench/cold_start.py``'s docker column.

Measured exactly as the process runtime's figures are: a cold start is ``up()`` until
every component is healthy (new containers, fresh Kafka storage, topics, proxies
verified); a reset is ``reset()`` after a toxic was added to one link and another proxy
disabled. The image must exist already (``images/build.sh``): building it is not a
cold start.

    python -m chaoskit.runtime.docker_bench [--topology FILE] [--colds N] [--resets N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from chaoskit.faults.toxiproxy import Toxic
from chaoskit.runtime.docker import DockerRuntime
from chaoskit.topology import load_topology


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "max": round(max(values), 3)}


def measure_docker(topology_path: Path, colds: int, resets: int) -> dict[str, dict[str, float]]:
    """``{"cold_s": {"median", "max"}, "reset_s": {"median", "max"}}`` over ``colds`` cold
    starts and ``resets`` resets (on the last environment)."""
    topology = load_topology(topology_path)
    cold: list[float] = []
    reset: list[float] = []
    for i in range(colds):
        runtime = DockerRuntime(topology, owner_pid=os.getpid())
        started = time.monotonic()
        runtime.up()
        cold.append(time.monotonic() - started)
        try:
            if i == colds - 1:
                proxies = list(runtime.plan.proxies.values())
                for _ in range(resets):
                    runtime.toxiproxy.add_toxic(proxies[0].proxy, Toxic("lat", "latency", "downstream", 1.0, {"latency": 500}))
                    runtime.toxiproxy.set_enabled(proxies[-1].proxy, False)
                    started = time.monotonic()
                    runtime.reset()
                    reset.append(time.monotonic() - started)
        finally:
            runtime.down()
    return {"cold_s": _summary(cold), "reset_s": _summary(reset)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topology", type=Path, default=Path("docker-compose.chaos.yml"))
    parser.add_argument("--colds", type=int, default=3)
    parser.add_argument("--resets", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps({"docker": measure_docker(args.topology, args.colds, args.resets)}))


if __name__ == "__main__":
    main()
