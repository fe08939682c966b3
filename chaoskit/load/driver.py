"""A load process: ``python -m chaoskit.load.driver RUN_DIR/config-N.json``.

Runs Locust headless through its library API (Environment, LocalRunner, a LoadTestShape)
in a process of its own, because Locust's gevent monkey-patching breaks the pytest
process; a run in ``processes`` processes starts one per index N, each running its share
of the users. Everything process N produces goes to the run directory (see
``records.RunFiles``): one ``stats-N.jsonl`` line per second, that second's request
records as one ``events-N.jsonl`` line (so a killed driver loses at most the last
second), and ``status-N.json``.

It ends by itself: when the shape's duration is over, at ``max_duration_s``, on SIGTERM
or SIGINT (a clean stop: in-flight requests finish, Kafka deliveries are flushed, the
last records written), and when the parent that started it goes away, so an interrupted
test never leaves it behind. A hard deadline (faulthandler) kills it even if the event
loop is stuck in a blocking call.
"""

from __future__ import annotations

# Locust must patch the interpreter before anything else is imported.
import locust  # isort: skip

import faulthandler
import gc
import json
import logging
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust import LoadTestShape
from locust.env import Environment
from locust.runners import STATE_STOPPED, LocalRunner

from chaoskit.load import users
from chaoskit.load.config import LoadConfig
from chaoskit.load.records import Row, RunFiles, SecondStats, describe_error, encode_records, summarize
from chaoskit.load.shapes import split, users_at

STATS_INTERVAL_S = 1.0
WATCH_INTERVAL_S = 0.1
# Beyond the planned end: time for in-flight requests, the Kafka flush and the last writes.
HARD_DEADLINE_SLACK_S = 30.0
# gc.set_threshold for the load process: see _quiet_garbage_collector.
_GC_THRESHOLDS = (200_000, 20, 100)


class ChaosShape(LoadTestShape):
    """Locust's view of ``shapes.users_at``, this process's share of it: polled about once
    per second."""

    def __init__(self, config: LoadConfig, process: int) -> None:
        super().__init__()
        self.config = config
        self.process = process

    def tick(self) -> tuple[int, float] | None:
        config = self.config
        count = users_at(
            config.shape,
            self.get_run_time(),
            users=config.users,
            duration_s=config.duration_s,
            base=config.spike_base,
            steps=config.steps,
        )
        if count is None:
            return None
        return split(count, config.processes)[self.process], config.peak_spawn_rate / config.processes


class Recorder:
    """Collects every reported request; once a second writes them out with that second's stats.

    Requests arrive as rows (plain tuples of ``RequestRecord``'s fields): from Locust's
    ``request`` event for the HTTP user (``on_request``), in batches from the Kafka user
    (``add``).
    """

    def __init__(self, files: RunFiles) -> None:
        self.pending: list[Row] = []
        self.total = 0
        self._events = files.events.open("ab")
        self._stats = files.stats.open("a")
        self._last = time.time()

    def on_request(
        self,
        response_time: float,
        context: dict[str, Any],
        exception: BaseException | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        self.pending.append(
            (
                context["event_id"],
                context["trace_id"],
                context["key"],
                context["version"],
                exception is None,
                start_time if start_time is not None else time.time() - response_time / 1000,
                response_time,
                None if exception is None else describe_error(exception),
            )
        )

    def add(self, rows: list[Row]) -> None:
        self.pending.extend(rows)

    def write_second(self, runner: LocalRunner) -> None:
        now = time.time()
        batch, self.pending = self.pending, []
        self.total += len(batch)
        self._events.write(encode_records(batch))  # an empty second too: line k here is line k of stats
        self._events.flush()
        summary = summarize(batch)
        second = SecondStats(
            time=now,
            requests=summary.requests,
            failures=summary.failures,
            rps=summary.requests / max(now - self._last, 1e-6),
            p50=summary.p50,
            p95=summary.p95,
            p99=summary.p99,
            users=runner.user_count,
        )
        self._last = now
        self._stats.write(second.to_line() + "\n")
        self._stats.flush()

    def every_second(self, runner: LocalRunner) -> None:
        next_at = time.monotonic() + STATS_INTERVAL_S
        while True:
            gevent.sleep(max(0.0, next_at - time.monotonic()))
            next_at += STATS_INTERVAL_S
            self.write_second(runner)

    def close(self, runner: LocalRunner) -> None:
        self.write_second(runner)
        self._events.close()
        self._stats.close()


def _own_usage() -> dict[str, float]:
    """CPU seconds of this process (every thread, librdkafka's too) and its wall time so far:
    how much of the machine the load itself took from the system under test."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "wall_s": time.time() - psutil.Process().create_time()}


def write_status(files: RunFiles, status: dict[str, Any]) -> None:
    tmp = files.status.with_suffix(".tmp")
    tmp.write_text(json.dumps(status))
    os.replace(tmp, files.status)


def run(files: RunFiles, spec: dict[str, Any]) -> dict[str, Any]:
    config = LoadConfig.from_json(spec["config"])
    parent_pid = int(spec["parent_pid"])
    faulthandler.dump_traceback_later(
        config.run_limit_s + config.request_timeout_s + config.stop_timeout_s + HARD_DEADLINE_SLACK_S,
        exit=True,
    )

    recorder = Recorder(files)
    env = Environment(
        user_classes=[users.configure(config, files.process, sink=recorder.add)],
        shape_class=ChaosShape(config, files.process),
        events=locust.events,
        host=config.target.http_url,
        stop_timeout=config.request_timeout_s,
    )
    runner = env.create_local_runner()
    env.events.init.fire(environment=env, runner=runner, web_ui=None)
    env.events.request.add_listener(recorder.on_request)

    stop_reason: list[str] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, stop_reason.append, signal.Signals(sig).name)

    runner.start_shape()
    started_at = time.time()
    write_status(files, {"state": "running", "pid": os.getpid(), "started_at": started_at})
    ticker = gevent.spawn(recorder.every_second, runner)
    deadline = time.monotonic() + config.run_limit_s + 2 * STATS_INTERVAL_S
    while not stop_reason:
        if runner.state == STATE_STOPPED:
            stop_reason.append("duration")
        elif os.getppid() != parent_pid:
            stop_reason.append("parent exited")
        elif time.monotonic() >= deadline:
            stop_reason.append("max_duration_s")
        else:
            gevent.sleep(WATCH_INTERVAL_S)

    runner.quit()  # in-flight requests finish (stop_timeout), test_stop flushes Kafka deliveries
    ticker.kill()
    recorder.close(runner)
    status = {
        "state": "stopped",
        "pid": os.getpid(),
        "started_at": started_at,
        "ended_at": time.time(),
        "reason": stop_reason[0],
        "records": recorder.total,
        "locust": {"requests": env.stats.total.num_requests, "failures": env.stats.total.num_failures},
        "cpu_warning": runner.cpu_warning_emitted,
        **_own_usage(),
    }
    write_status(files, status)
    return status


def _quiet_garbage_collector() -> None:
    """Keep Python's cyclic collector from scanning the in-flight events again and again.

    At tens of thousands of events a second up to a hundred thousand sit in librdkafka's
    queue, each holding a few tracked objects (its document, its delivery callback), so
    with the default thresholds young collections ran every few hundred events and moved
    them into generations that full collections kept walking: a quarter of the process's
    time (one process, 8 Kafka users flat out: 71k events/s before, 81-101k after). The
    hot path makes no reference cycles (what it allocates dies by reference count), so
    collections can be rare: startup's objects are frozen out of the collector, young
    collections run every 200 000 allocations and the older generations almost never.
    """
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m chaoskit.load.driver RUN_DIR/config-N.json", file=sys.stderr)
        return 2
    _quiet_garbage_collector()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    path = Path(argv[0]).resolve()
    spec = json.loads(path.read_text())
    run(RunFiles(path.parent, int(spec["process"])), spec)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
