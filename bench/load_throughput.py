"""How fast chaoskit's load goes, next to Kafka's own producer benchmark.

Prints ONE JSON line::

    {"order_service_eps": A, "kafka_user_eps": B, "producer_performance_eps": C,
     "ratio": B/C, "load_cpu_share": F, "kafka_workers": N,
     "kafka_user_eps_by_workers": {"2": B2, "1": B1, "0": B0}, "ratio_by_workers": {...},
     "load_core_share_max": G, "rounds": {...}}

All three against the same broker, in one run, on the reference topology (process runtime):

- A: events/s order-service acknowledged (HTTP 202) under the HTTP user, flat out;
- B: events/s the Kafka user got delivery reports for, flat out, on a bench topic, with
  Locust's master and ``N`` workers (the first of ``--kafka-workers``); ``B1``, ``B2``...
  the same users with each worker count, ``B0`` in one process (no master/worker);
- C: Kafka's ``org.apache.kafka.tools.ProducerPerformance`` on the same topic, records of
  the Kafka user's value size, ``acks=all`` like the Kafka user (the anchor: the ratio
  says how much of what the broker can take chaoskit's load delivers; target >= 0.5);
- F: CPU seconds of the Locust driver processes / (their wall seconds x cores); with
  ``load_core_share_max``, the busiest single load process (1.0 = one core: flat out, a
  gevent loop is the limit, which is what ``workers`` is for), and each round's figures.

The Kafka user (with each worker count in turn) and ProducerPerformance alternate for
``--rounds`` rounds and the figures are the medians, so a noisy neighbour on a shared
machine skews both sides alike. "Sustained"
rates leave out the first seconds (connections, the idempotent producer's id) and the
last partial second. workflow-service and redriver are stopped first: they would consume
the load's events and take CPU from the producers being measured.
Timings are for reading, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
from pathlib import Path

from confluent_kafka.admin import NewTopic

from chaoskit import install
from chaoskit.load.config import Target
from chaoskit.load.documents import KeySpace
from chaoskit.load.result import LoadResult
from chaoskit.load.runner import LoadRunner
from chaoskit.runtime.health import kafka_admin
from chaoskit.runtime.process import ProcessRuntime
from chaoskit.topology import load_topology

ROOT = Path(__file__).resolve().parents[1]
BENCH_TOPIC = "bench.load"
PARTITIONS = 6
WARMUP_S = 3.0
FLAT_OUT_RATE = 1_000_000.0
_PP_LINE = re.compile(r"(\d+) records sent, ([\d.]+) records/sec")


def sustained_eps(result: LoadResult) -> float:
    """Acknowledged events/s between the warm-up and the last full second."""
    start = result.started_at + WARMUP_S
    end = max((s.time for s in result.seconds if s.requests), default=start)
    end = min(end, result.started_at + (result.config.duration_s or 0.0))
    acked = sum(1 for r in result.records if r.ok and start <= r.end_time < end)
    return acked / (end - start) if end > start else 0.0


def create_topic(bootstrap: str) -> None:
    admin = kafka_admin(bootstrap)
    if BENCH_TOPIC in admin.list_topics(timeout=10).topics:
        return
    for future in admin.create_topics([NewTopic(BENCH_TOPIC, PARTITIONS, 1)], request_timeout=15).values():
        future.result(timeout=20)


def producer_performance(bootstrap: str, record_size: int, records: int) -> float:
    parts = install.locate()
    argv = [
        str(parts.java),
        "-Xmx512m",
        "-cp",
        parts.kafka_classpath,
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        BENCH_TOPIC,
        "--num-records",
        str(records),
        "--record-size",
        str(record_size),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={bootstrap}",
        "acks=all",
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    summary = [line for line in proc.stdout.splitlines() if "99.9th" in line]  # the final line has percentiles
    match = _PP_LINE.search(summary[-1]) if summary else None
    if proc.returncode != 0 or match is None:
        raise RuntimeError(
            f"ProducerPerformance failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return float(match.group(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each Locust run")
    parser.add_argument("--http-users", type=int, default=32)
    parser.add_argument("--kafka-users", type=int, default=8)
    parser.add_argument(
        "--kafka-workers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[2, 1, 0],
        help="comma-separated worker counts to measure (0: one process); B is the first",
    )
    parser.add_argument("--content-bytes", type=int, default=256)
    parser.add_argument("--pp-records", type=int, default=1_500_000, help="records ProducerPerformance sends per round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="Kafka user / ProducerPerformance pairs, medians reported"
    )
    args = parser.parse_args()

    runtime = ProcessRuntime(load_topology(ROOT / "docker-compose.chaos.yml"), owner_pid=os.getpid())
    runtime.up()
    try:
        for consumer in ("workflow-service", "redriver"):
            runtime.stop(consumer)
        bootstrap = runtime.endpoint("kafka")
        create_topic(bootstrap)
        record_size = len(KeySpace("bench-kafka", 1, args.content_bytes).next().kafka_value())
        with tempfile.TemporaryDirectory(prefix="chaoskit-bench-load-") as out:
            http = LoadRunner(out, Target.http(f"http://{runtime.endpoint('order-service')}"))
            with http.run(
                users=args.http_users,
                rate=FLAT_OUT_RATE,
                duration_s=args.duration,
                key_prefix="bench-http",
                content_bytes=args.content_bytes,
            ) as run:
                pass
            results = [run.result]
            kafka = LoadRunner(out, Target.kafka(bootstrap, BENCH_TOPIC))
            kafka_eps: dict[int, list[float]] = {workers: [] for workers in args.kafka_workers}
            pp_eps = []
            for round_ in range(args.rounds):
                for workers in kafka_eps:
                    with kafka.run(
                        user="kafka",
                        users=args.kafka_users,
                        rate=FLAT_OUT_RATE,
                        duration_s=args.duration,
                        key_prefix=f"bench-kafka-{round_}-{workers}",
                        content_bytes=args.content_bytes,
                        workers=workers,
                    ) as run:
                        pass
                    results.append(run.result)
                    kafka_eps[workers].append(sustained_eps(run.result))
                pp_eps.append(producer_performance(bootstrap, record_size, args.pp_records))
    finally:
        runtime.down()

    cpu = sum(r.driver_cpu_s or 0.0 for r in results)
    wall = sum(r.driver_wall_s or 0.0 for r in results)
    medians = {workers: statistics.median(eps) for workers, eps in kafka_eps.items()}
    headline, pp_median = args.kafka_workers[0], statistics.median(pp_eps)
    print(
        json.dumps(
            {
                "order_service_eps": round(sustained_eps(results[0]), 1),
                "kafka_user_eps": round(medians[headline], 1),
                "producer_performance_eps": round(pp_median, 1),
                "ratio": round(medians[headline] / pp_median, 3),
                "load_cpu_share": round(cpu / (wall * (os.cpu_count() or 1)), 3) if wall else None,
                "kafka_workers": headline,
                "kafka_user_eps_by_workers": {str(w): round(eps, 1) for w, eps in medians.items()},
                "ratio_by_workers": {str(w): round(eps / pp_median, 3) for w, eps in medians.items()},
                "load_core_share_max": round(max(r.core_share or 0.0 for r in results), 3),
                "rounds": {
                    "kafka_user_eps_by_workers": {str(w): [round(eps) for eps in kafka_eps[w]] for w in kafka_eps},
                    "producer_performance_eps": [round(eps) for eps in pp_eps],
                },
            }
        )
    )


if __name__ == "__main__":
    main()
