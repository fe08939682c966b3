"""A load process: ``python -m chaoskit.load.driver RUN_DIR/config-N.json``.

Runs Locust headless through its library API (Environment, a runner, a LoadTestShape) in
a process of its own, because Locust's gevent monkey-patching breaks the pytest process.
A run is either one process (``workers=0``: a LocalRunner, the fast path) or Locust's own
master/worker mode: process 0 is the master (it runs the shape; Locust hands the users out
to the workers) and processes 1..N are workers. The master binds 127.0.0.1 only.

Everything the run produces goes to the run directory through process 0 (see
``records.RunFiles``): one ``stats-0.jsonl`` line per second, the request records as
``events-0.jsonl`` lines (a batch per line, so a killed driver loses at most its last
second), and each local process's ``status-N.json``.

Workers send their records to the master as Locust messages (``runner.send_message``,
worker -> master), not as files of their own: a worker on another host (``--master-host``)
has no way to write into the run directory, and Locust's channel is the one every worker
already has. What crosses it is cheap: once a second, a batch already encoded as the
``events`` line the master appends as it is, its latencies and its failure count, so the
master never decodes a record and its per-second percentiles stay exact (over every
latency of the second, not an average of the workers' percentiles). The same message
carries the LoadConfig the other way (master -> worker), so a worker needs nothing but the
master's address: ``python -m chaoskit.load.driver --worker HOST:PORT``.

Every local process ends by itself: when the shape's duration is over, at
``max_duration_s``, on SIGTERM or SIGINT (a clean stop: in-flight requests finish, Kafka
deliveries are flushed, the last records written; the master first stops its workers and
takes their last records), when the master quits (a worker), and when the parent that
started it goes away, so an interrupted test never leaves it behind. A hard deadline
(faulthandler) kills it even if the event loop is stuck in a blocking call.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust import LoadTestShape
from locust.env import Environment
from locust.runners import STATE_STOPPED, LocalRunner, MasterRunner, Runner

from chaoskit.load import users
from chaoskit.load.config import LoadConfig
from chaoskit.load.records import (
    LATENCY_MS,
    OK,
    Row,
    RunFiles,
    SecondStats,
    describe_error,
    encode_records,
    summarize_latencies,
)
from chaoskit.load.shapes import users_at

STATS_INTERVAL_S = 1.0
WATCH_INTERVAL_S = 0.1
# Beyond the planned end: time for in-flight requests, the Kafka flush and the last writes.
HARD_DEADLINE_SLACK_S = 30.0
# gc.set_threshold for the load process: see _quiet_garbage_collector.
_GC_THRESHOLDS = (200_000, 20, 100)
# Locust messages between master and workers (register_message / send_message).
HELLO = "chaoskit-hello"  # worker -> master: configure me
CONFIGURE = "chaoskit-config"  # master -> worker: {"config": LoadConfig, "worker": index}
RECORDS = "chaoskit-records"  # worker -> master: {"rows": bytes, "latencies": [ms], "failures": int}

logger = logging.getLogger("chaoskit.load.driver")


class ChaosShape(LoadTestShape):
    """Locust's view of ``shapes.users_at``: polled about once per second, on the master
    (or the one process), which spreads the users over the workers."""

    def __init__(self, config: LoadConfig) -> None:
        super().__init__()
        self.config = config

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
        return None if count is None else (count, config.peak_spawn_rate)


Batch = tuple[bytes, list[float], int]


class Batcher:
    """Gathers the requests this process's users report, until :meth:`take` makes a batch.

    Requests arrive as rows (plain tuples of ``RequestRecord``'s fields): from Locust's
    ``request`` event for the HTTP user (``on_request``), in batches from the Kafka user
    (``add``). A batch is the rows encoded as one ``events`` line, their latencies and
    their failure count: what the :class:`Recorder` needs, whichever process it is in.
    """

    def __init__(self) -> None:
        self.pending: list[Row] = []

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

    def take(self) -> Batch | None:
        rows, self.pending = self.pending, []
        if not rows:
            return None
        return encode_records(rows), [row[LATENCY_MS] for row in rows], sum(not row[OK] for row in rows)


class Recorder:
    """Writes the run's files in process 0: batches as they come (from this process's own
    users, or from the workers), and once a second that second's stats, with exact
    percentiles over the latencies of every batch that arrived in it."""

    def __init__(self, files: RunFiles) -> None:
        self.total = 0
        self._latencies: list[float] = []
        self._failures = 0
        self._events = files.events.open("ab")
        self._stats = files.stats.open("a")
        self._last = time.time()

    def add(self, rows: bytes, latencies: list[float], failures: int) -> None:
        self._events.write(rows)
        self._events.flush()
        self._latencies.extend(latencies)
        self._failures += failures
        self.total += len(latencies)

    def write_second(self, user_count: int) -> None:
        now = time.time()
        latencies, self._latencies = self._latencies, []
        summary = summarize_latencies(latencies, self._failures)
        self._failures = 0
        second = SecondStats(
            time=now,
            requests=summary.requests,
            failures=summary.failures,
            rps=summary.requests / max(now - self._last, 1e-6),
            p50=summary.p50,
            p95=summary.p95,
            p99=summary.p99,
            users=user_count,
        )
        self._last = now
        self._stats.write(second.to_line() + "\n")
        self._stats.flush()

    def close(self, user_count: int) -> None:
        self.write_second(user_count)
        self._events.close()
        self._stats.close()


def every_second(action: Callable[[], None]) -> None:
    """Run ``action`` once a second on the second, however long it takes (a greenlet)."""
    next_at = time.monotonic() + STATS_INTERVAL_S
    while True:
        gevent.sleep(max(0.0, next_at - time.monotonic()))
        next_at += STATS_INTERVAL_S
        action()


def _own_usage() -> dict[str, float]:
    """CPU seconds of this process (every thread, librdkafka's too) and its wall time so far:
    how much of the machine the load itself took from the system under test."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "wall_s": time.time() - psutil.Process().create_time()}


def write_status(files: RunFiles | None, status: dict[str, Any]) -> None:
    if files is None:  # a worker on another host: the master's status says it all
        return
    tmp = files.status.with_suffix(".tmp")
    tmp.write_text(json.dumps(status))
    os.replace(tmp, files.status)


def _arm_hard_deadline(config: LoadConfig) -> None:
    faulthandler.dump_traceback_later(
        config.run_limit_s + config.request_timeout_s + config.stop_timeout_s + HARD_DEADLINE_SLACK_S,
        exit=True,
    )


def _stop_on_signals() -> list[str]:
    """The reasons to stop, a signal's name among them once one arrives."""
    reasons: list[str] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, reasons.append, signal.Signals(sig).name)
    return reasons


def _watch(runner: Runner, stop_reason: list[str], parent_pid: int | None, deadline: float | None) -> None:
    """Until a reason to stop: the shape's end, the parent gone, the deadline, a signal."""
    while not stop_reason:
        if runner.state == STATE_STOPPED:
            stop_reason.append("duration")
        elif parent_pid is not None and os.getppid() != parent_pid:
            stop_reason.append("parent exited")
        elif deadline is not None and time.monotonic() >= deadline:
            stop_reason.append("max_duration_s")
        else:
            gevent.sleep(WATCH_INTERVAL_S)


def _stopped_status(started_at: float, reason: str, **figures: Any) -> dict[str, Any]:
    return {
        "state": "stopped",
        "pid": os.getpid(),
        "started_at": started_at,
        "ended_at": time.time(),
        "reason": reason,
        **figures,
        **_own_usage(),
    }


def run(files: RunFiles, spec: dict[str, Any]) -> dict[str, Any]:
    """Process 0: the one process of the run, or Locust's master."""
    config = LoadConfig.from_json(spec["config"])
    parent_pid = int(spec["parent_pid"])
    _arm_hard_deadline(config)
    stop_reason = _stop_on_signals()

    recorder = Recorder(files)
    batcher = Batcher()
    user_class = users.configure(config, sink=batcher.add)
    env = Environment(
        user_classes=[user_class],
        shape_class=ChaosShape(config),
        events=locust.events,
        host=config.target.http_url,
        stop_timeout=config.request_timeout_s,
    )
    runner: LocalRunner | MasterRunner
    if config.workers:
        runner = env.create_master_runner("127.0.0.1", config.master_port)
        configured = _serve_workers(runner, config, recorder)
        write_status(files, {"state": "listening", "pid": os.getpid(), "master_port": runner.server.port})
        while len(configured) < config.workers and not stop_reason:
            if os.getppid() != parent_pid:
                stop_reason.append("parent exited")
            gevent.sleep(WATCH_INTERVAL_S)
    else:
        runner = env.create_local_runner()
        env.events.request.add_listener(batcher.on_request)
    env.events.init.fire(environment=env, runner=runner, web_ui=None)

    def tick() -> None:
        batch = batcher.take()
        if batch is not None:
            recorder.add(*batch)
        recorder.write_second(runner.user_count)

    started_at = time.time()
    if not stop_reason:
        runner.start_shape()
        started_at = time.time()
        write_status(files, {"state": "running", "pid": os.getpid(), "started_at": started_at})
        ticker = gevent.spawn(every_second, tick)
        _watch(runner, stop_reason, parent_pid, time.monotonic() + config.run_limit_s + 2 * STATS_INTERVAL_S)
        # A master stops its workers first and waits for them (their last records come
        # before they report stopped); in-flight requests finish (stop_timeout) and
        # test_stop flushes Kafka deliveries.
        runner.stop()
        ticker.kill()
    runner.quit()
    batch = batcher.take()
    if batch is not None:
        recorder.add(*batch)
    recorder.close(runner.user_count)
    status = _stopped_status(
        started_at,
        stop_reason[0],
        records=recorder.total,
        locust={"requests": env.stats.total.num_requests, "failures": env.stats.total.num_failures},
        cpu_warning=runner.cpu_warning_emitted,
    )
    write_status(files, status)
    return status


def _serve_workers(runner: MasterRunner, config: LoadConfig, recorder: Recorder) -> set[str]:
    """The master's side of the messages: configure each worker that says hello (its index
    picks its slice of the keys) and record the batches they send. Returns the ids of the
    configured workers, which grows as they join; a worker beyond ``config.workers`` is
    told to quit, as its keys would overlap another's."""
    configured: set[str] = set()

    def on_hello(msg: Any, **_: Any) -> None:
        index = runner.get_worker_index(msg.node_id)
        if index >= config.workers:
            logger.warning("worker %s (index %d) is one too many for workers=%d", msg.node_id, index, config.workers)
            runner.send_message("quit", client_id=msg.node_id)
            return
        runner.send_message(CONFIGURE, {"config": config.to_json(), "worker": index}, client_id=msg.node_id)
        configured.add(msg.node_id)

    def on_records(msg: Any, **_: Any) -> None:
        recorder.add(msg.data["rows"], msg.data["latencies"], msg.data["failures"])

    runner.register_message(HELLO, on_hello)
    runner.register_message(RECORDS, on_records)
    return configured


def run_worker(master_host: str, master_port: int, files: RunFiles | None, parent_pid: int | None) -> dict[str, Any]:
    """A Locust worker: asks the master for the run's config, runs the users the master
    hands it, and sends their records to the master once a second and at stop."""
    stop_reason = _stop_on_signals()
    batcher = Batcher()
    env = Environment(user_classes=[users.OrderServiceUser, users.KafkaProducerUser], events=locust.events)
    env.events.request.add_listener(batcher.on_request)
    runner = env.create_worker_runner(master_host, master_port)  # returns once the master acknowledged it
    env.events.init.fire(environment=env, runner=runner, web_ui=None)
    started_at = time.time()

    def ship() -> None:
        batch = batcher.take()
        if batch is not None:
            rows, latencies, failures = batch
            runner.send_message(RECORDS, {"rows": rows, "latencies": latencies, "failures": failures})

    def on_configure(msg: Any, **_: Any) -> None:
        config = LoadConfig.from_json(msg.data["config"])
        users.configure(config, int(msg.data["worker"]), sink=batcher.add)
        _arm_hard_deadline(config)

    def on_test_stop(environment: Environment, **_: Any) -> None:
        # After the users' own test_stop listener flushed the Kafka deliveries (registered
        # first), and before the worker reports stopped: the master counts on both.
        ship()
        runner._send_stats()  # Locust's totals too, which it would otherwise send only every 3 s
        # Locust's worker then waits stop_timeout before saying it is ready again, deaf to
        # the master's quit meanwhile; this run is over, so it need not wait.
        environment.stop_timeout = 0.0

    runner.register_message(CONFIGURE, on_configure)
    env.events.test_stop.add_listener(on_test_stop)
    runner.send_message(HELLO)
    write_status(files, {"state": "running", "pid": os.getpid(), "started_at": started_at})
    ticker = gevent.spawn(every_second, ship)
    quit_by_master = gevent.spawn(runner.greenlet.join)
    quit_by_master.link(lambda _: stop_reason.append("master quit"))
    _watch_worker(stop_reason, parent_pid)
    if stop_reason[0] != "master quit":
        runner.stop()  # fires test_stop: the last records go to the master, if it is still there
        env.events.quitting.fire(environment=env, reverse=True)  # Locust's worker tells the master it quits
        gevent.sleep(0.1)
        runner.greenlet.kill(block=True)
    ticker.kill()
    status = _stopped_status(started_at, stop_reason[0], cpu_warning=runner.cpu_warning_emitted)
    write_status(files, status)
    return status


def _watch_worker(stop_reason: list[str], parent_pid: int | None) -> None:
    while not stop_reason:
        if parent_pid is not None and os.getppid() != parent_pid:
            stop_reason.append("parent exited")
        else:
            gevent.sleep(WATCH_INTERVAL_S)


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


USAGE = (
    "usage: python -m chaoskit.load.driver RUN_DIR/config-N.json\n"
    "       python -m chaoskit.load.driver --worker MASTER_HOST:MASTER_PORT   (a worker on another host)"
)


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2) or (len(argv) == 2 and argv[0] != "--worker"):
        print(USAGE, file=sys.stderr)
        return 2
    _quiet_garbage_collector()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if len(argv) == 2:
        host, _, port = argv[1].rpartition(":")
        run_worker(host, int(port), None, None)
        return 0
    path = Path(argv[0]).resolve()
    spec = json.loads(path.read_text())
    files = RunFiles(path.parent, int(spec["process"]))
    if spec["role"] == "worker":
        run_worker(spec["master_host"], int(spec["master_port"]), files, int(spec["parent_pid"]))
    else:
        run(files, spec)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
