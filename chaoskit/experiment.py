"""What an experiment holds: handles on the services, observer clients, and the
steady-state shape (check before, run the method under the fault, check again after heal)
that Chaos Toolkit made common.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from chaoskit.checks.consistency import check_convergence, differences
from chaoskit.errors import ConfigError, ExperimentInconclusive
from chaoskit.guard import ensure_own_endpoint
from chaoskit.observe.topic_records import Record, Topics, UnparseableRecord, observation_from_record
from chaoskit.runtime.base import Runtime
from chaoskit.runtime.health import QUIET_KAFKA_LOG, DeadlineExceeded, wait_for

if TYPE_CHECKING:
    import redis as redis_py

    from chaoskit.checks import CheckResult, LoadFigures, Slo
    from chaoskit.checks.retry import RetryPolicy
    from chaoskit.faults import Faults
    from chaoskit.load.runner import LoadRun
    from chaoskit.observe.history import History
    from chaoskit.observe.recorder import Recorder, RecorderStats
    from chaoskit.observe.timeline import Timeline
    from chaoskit.verdicts import AckedRequest, State


def namespace_for(nodeid: str) -> str:
    """A key prefix unique to one experiment run: ``x<8 hex>:``."""
    digest = hashlib.sha1(f"{nodeid}:{time.time_ns()}".encode()).hexdigest()[:8]
    return f"x{digest}:"


class ServiceHandle:
    """One component of the environment: where it is and how to control it."""

    def __init__(self, runtime: Runtime, name: str) -> None:
        self._runtime = runtime
        self.name = name

    def endpoint(self, client: str | None = None) -> str:
        """``host:port`` directly, or as ``client`` reaches it through its proxy."""
        return self._runtime.endpoint(self.name, client)

    @property
    def url(self) -> str:
        return f"http://{self.endpoint()}"

    def stop(self) -> None:
        self._runtime.stop(self.name)

    def kill(self) -> None:
        self._runtime.kill(self.name)

    def pause(self) -> None:
        self._runtime.pause(self.name)

    def resume(self) -> None:
        self._runtime.resume(self.name)

    def restart(self) -> None:
        self._runtime.restart(self.name)

    def logs(self) -> str:
        return self._runtime.logs(self.name)

    @property
    def log_path(self) -> Path:
        return self._runtime.log_path(self.name)


class Services(Mapping[str, ServiceHandle]):
    """``services["order-service"].url`` etc.; unknown names raise a ConfigError listing the known ones."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._names = list(runtime.topology.components)

    def __getitem__(self, name: str) -> ServiceHandle:
        self._runtime.topology.component(name)
        return ServiceHandle(self._runtime, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@dataclass(frozen=True)
class KafkaClients:
    """Clients on the broker's direct listener (the observer's view; never proxied)."""

    bootstrap: str

    def _base(self) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap, "logger": QUIET_KAFKA_LOG}

    def producer(self, **conf: Any) -> Producer:
        return Producer({**self._base(), **conf})

    def consumer(self, group: str | None = None, **conf: Any) -> Consumer:
        return Consumer(
            {
                **self._base(),
                "group.id": group or f"chaoskit-observer-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                **conf,
            }
        )

    def admin(self) -> AdminClient:
        return AdminClient(self._base())

    def read_all(self, topic: str, timeout_s: float = 30.0) -> list[Any]:
        """Every record of ``topic`` up to its end as of now (all partitions)."""
        consumer = self.consumer()
        try:
            metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
            if metadata is None or metadata.error is not None:
                raise ConfigError(f"topic {topic!r} does not exist on {self.bootstrap}")
            ends: dict[int, int] = {}
            for partition in metadata.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                if high > low:
                    ends[partition] = high
            consumer.assign([TopicPartition(topic, p, 0) for p in ends] or [])
            records: list[Any] = []
            done: set[int] = set()

            def drained() -> bool:
                msg = consumer.poll(0.2)
                if msg is not None and msg.error() is None:
                    records.append(msg)
                    offset, partition = msg.offset(), msg.partition()
                    if offset is not None and partition is not None and offset + 1 >= ends[partition]:
                        done.add(partition)
                return done >= set(ends)

            wait_for(drained, timeout_s, f"reading {topic} to its end", interval_s=0)
            return records
        finally:
            consumer.close()


class Load:
    """The ``load`` fixture: Locust runs against this environment, keys in the experiment's
    namespace, each run in its own process (Locust's gevent patching stays out of pytest)."""

    def __init__(self, runtime: Runtime, namespace: str, out_dir: Path, seed: int, workers: int = 0) -> None:
        self._runtime = runtime
        self._workers = workers
        self._namespace = namespace
        self._out_dir = out_dir
        self._seed = seed
        self.runs: list[LoadRun] = []

    def run(
        self, *, target: str = "order-service", user: str = "http", topic: str | None = None, **params: Any
    ) -> LoadRun:
        """A load run to enter with ``with``: ``user="http"`` posts documents to ``target``'s
        HTTP API; ``user="kafka"`` produces to ``topic`` (default: the requests topic) on the
        broker's direct listener. Other parameters go to :meth:`LoadRunner.run`
        (users, rate, shape, duration_s, ...)."""
        from chaoskit.load.config import Target
        from chaoskit.load.runner import LoadRunner

        if user == "kafka":
            kafka = self._runtime.topology.of_kind("kafka")
            assert kafka is not None
            topic = topic or self._runtime.topology.topic_roles.get("requests")
            if topic is None:
                raise ConfigError(
                    "load.run(user='kafka'): give topic=..., the topology has no topic with role: requests"
                )
            where = Target.kafka(self._runtime.endpoint(kafka.name), topic)
        elif target in self._runtime.topology.components:
            where = Target.http(f"http://{self._runtime.endpoint(target)}")
        else:
            # an address rather than a component: only this environment's own endpoints
            ensure_own_endpoint(target, self._own_endpoints(), f"load.run(target={target!r})")
            where = Target.http(target if "://" in target else f"http://{target}")
        params.setdefault("key_prefix", self._namespace)
        params.setdefault("seed", self._seed)
        if self._workers:
            params.setdefault("workers", self._workers)
        run = LoadRunner(self._out_dir, where).run(user=user, **params)
        self.runs.append(run)
        return run

    def _own_endpoints(self) -> set[str]:
        runtime = self._runtime
        own = set()
        for name in runtime.topology.components:
            own.add(runtime.endpoint(name))
            own.update(runtime.endpoint(name, link.client) for link in runtime.topology.links_to(name))
        return own

    def stop(self) -> None:
        """Stop any run still going (a test that failed inside its with-block already did)."""
        for run in self.runs:
            if run.running():
                run.__exit__(KeyboardInterrupt, None, None)

    def acked_event_ids(self) -> set[str]:
        return set().union(*(run.result.acked_event_ids() for run in self.runs if not run.running()))

    def acked_requests(self) -> dict[str, AckedRequest]:
        """Each acknowledged event's trace and when it was sent and acknowledged."""
        from chaoskit.verdicts import AckedRequest

        return {
            r.event_id: AckedRequest(r.trace_id, r.start_time, r.end_time)
            for run in self.runs
            if not run.running()
            for r in run.result.records
            if r.ok
        }

    def samples(self) -> list[tuple[float, float, bool]]:
        return [
            (r.start_time, r.latency_ms, r.ok) for run in self.runs if not run.running() for r in run.result.records
        ]

    def figures(self) -> list[LoadFigures]:
        """What the load check judges of each finished run: was its load process the bottleneck."""
        from chaoskit.checks.load import LoadFigures

        return [LoadFigures.from_result(run.result) for run in self.runs if not run.running()]


Probe = Callable[[], Any]


def conclude(results: list[CheckResult]) -> None:
    """Turn verdicts into the experiment's outcome: a failed check fails it (a resilience
    failure: fix the system), an undecided one makes it inconclusive (never a pass).

    When the evidence itself cannot be trusted (the ``evidence`` check is unknown), what the
    other checks said of it cannot decide either: the experiment is inconclusive, and the
    message still lists their verdicts for the reader."""
    failed = [r for r in results if r.outcome == "fail"]
    unknown = [r for r in results if r.outcome == "unknown"]
    if failed and not any(r.name == "evidence" for r in unknown):
        raise AssertionError("\n".join(r.explain() for r in failed))
    if unknown:
        raise ExperimentInconclusive(
            "inconclusive, no verdict: "
            + "\n".join(r.explain() for r in unknown)
            + ("\nchecks run on that evidence:\n" + "\n".join(r.explain() for r in failed) if failed else "")
        )


@dataclass
class Experiment:
    """The fixtures of one experiment, plus the steady-state helper."""

    name: str
    runtime: Runtime
    services: Services
    faults: Faults
    timeline: Timeline
    load: Load
    kafka: KafkaClients
    namespace: str
    seed: int
    redis: redis_py.Redis | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    history: History | None = None
    results: list[CheckResult] = field(default_factory=list)
    started_at: float = 0.0  # the experiment's t0 (its timeline's origin)
    workdir: Path | None = None  # where its evidence files go
    recorder_stats: RecorderStats | None = None
    provocation: CheckResult | None = None  # set once what the fault provoked was checked
    _recorder: Recorder | None = None

    def wind_down(self) -> None:
        """Stop the load, heal what is still injected and stop the recorder; safe to call
        twice (the report calls it at the end of the test, the fixture at teardown)."""
        self.load.stop()
        self.faults.heal_all()
        if self.recording_active:
            self.stop_recording()

    def report_record(self, started_at: float, ended_at: float, workdir: Path | None) -> Any:
        """This experiment's evidence, as the report files it."""
        from chaoskit.report import series
        from chaoskit.report.record import ExperimentRecord

        history_path = None
        if self.history is not None and workdir is not None:
            history_path = workdir / "history.jsonl"
            self.history.save(history_path)
        windows = [(w.name, w.injected_at, w.healed_at) for w in self.timeline.windows()]
        finished = [run.result for run in self.load.runs if not run.running()]
        return ExperimentRecord.from_run(
            self.name,
            started_at,
            ended_at,
            timeline=self.timeline,
            results=self.results,
            seconds=[s for result in finished for s in result.seconds],
            phases=[p for result in finished for p in result.phases(windows)],
            history_path=history_path,
            service_logs={
                **{
                    c.name: self.runtime.log_path(c.name)
                    for c in self.runtime.topology.components.values()
                    if c.kind != "service"
                },
                **{path.stem: path for path in self.runtime.service_logs()},
            },
            dlq_sizes=series.dlq_sizes(self.history) if self.history is not None else [],
            convergence=series.convergence(self.history) if self.history is not None else [],
            meta=self.meta,
        )

    @property
    def topics(self) -> dict[str, str]:
        """Topic name by role (requests, processed, dlq, alerts), from the topology."""
        return dict(self.runtime.topology.topic_roles)

    def wait_until(self, condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
        """Poll ``condition`` until truthy; fail the experiment naming ``what`` after ``timeout_s``."""
        try:
            return wait_for(condition, timeout_s, what, interval_s=0.25)
        except DeadlineExceeded as err:
            raise AssertionError(str(err)) from None

    @contextmanager
    def recording(self) -> Iterator[Recorder]:
        """Record every event's fate (topics + service logs) from here on.

        The recorder keeps running after the block: events the system is still working
        through when the method ends (a consumer catching up after a heal) must be seen.
        ``verify()`` stops it once the state has converged (or the experiment's teardown
        does); then ``history`` holds this experiment's observations (its key namespace)."""
        from chaoskit.observe.recorder import Recorder
        from chaoskit.observe.topic_records import Topics

        roles = self.runtime.topology.topic_roles
        missing = [r for r in ("requests", "processed", "dlq", "alerts") if r not in roles]
        if missing:
            raise ConfigError(f"recording needs topics with roles {missing} in x-chaoskit.topics (role: ...)")
        topics = Topics(
            requests=roles["requests"], processed=roles["processed"], dlq=roles["dlq"], alerts=roles["alerts"]
        )
        recorder = Recorder(self.kafka.bootstrap, topics)
        self._recorder = recorder
        recorder.start()
        yield recorder

    @property
    def recording_active(self) -> bool:
        return self._recorder is not None

    def stop_recording(self) -> History:
        """Stop the recorder (reading every service's log, canary instances included) and
        keep the history of this experiment's keys."""
        from chaoskit.verdicts import scope

        if self._recorder is None:
            if self.history is None:
                raise ConfigError("no recording: run the method inside `with experiment.recording():`")
            return self.history
        recorder, self._recorder = self._recorder, None
        recorder.add_logs(self.runtime.service_logs())
        self.history = scope(recorder.stop(), self.namespace)
        self.recorder_stats = recorder.stats
        return self.history

    def final_state(self) -> dict[str, dict[str, str]]:
        """Entity key -> document, for this experiment's keys in Redis, read directly."""
        from chaoskit.observe.redis_state import read_state

        if self.redis is None:
            return {}
        return {f"{self.namespace}{k}": v for k, v in read_state(self.redis, prefix=f"doc:{self.namespace}").items()}

    def verify(
        self,
        *,
        expected_state: Callable[[], Any] | None = None,
        retry: RetryPolicy | None = None,
        slo: Slo | None = None,
        consistency_bound_s: float = 60.0,
        provokes: object = None,
    ) -> list[CheckResult]:
        """Run the checks over what was recorded; fail the experiment with every failed
        check's explanation (the ids, trace ids, expected vs observed fate, fault window).

        ``provokes`` (default: the ``chaos`` marker's) is what the fault must have provoked
        for the hypothesis to be tested at all (see ``checks/provocation.py``); short of it,
        or when the evidence cannot decide, the experiment is inconclusive, never passed."""
        if self._recorder is None and self.history is None:
            raise ConfigError("verify() needs a recorded history: run the method inside `with experiment.recording():`")
        converged = None
        if expected_state is not None:
            # first wait until every event is decided and the state converged, with the
            # recorder still running, so the history holds the work the system finished
            # after the method ended (a consumer catching up, a redrive after its backoff)
            converged = self.settle(expected_state, consistency_bound_s)
        self.stop_recording()
        declared = self.meta.get("provokes") if provokes is None else provokes
        self.results = self.judge(consistency=converged, retry=retry, slo=slo, provokes=declared)
        conclude(self.results)
        return self.results

    def judge(
        self,
        *,
        consistency: CheckResult | None = None,
        retry: RetryPolicy | None = None,
        slo: Slo | None = None,
        provokes: object = None,
    ) -> list[CheckResult]:
        """The one judging pipeline (``verify()`` and the fault schedules both use it):
        whether there was evidence at all, what the fault provoked, then every check over
        the recorded history, the final state and the load's figures."""
        from chaoskit.checks.provocation import check_provoked, load_counts, normalize
        from chaoskit.checks.vacuity import RecordFigures, check_evidence
        from chaoskit.verdicts import judge

        history = self.stop_recording()
        ran_load = bool(self.load.runs)
        stats = self.recorder_stats
        results = [
            check_evidence(
                samples=self.load.samples() if ran_load else None,
                acked=len(self.load.acked_event_ids()) if ran_load else None,
                record=RecordFigures(stats.records, stats.skipped_records, stats.caught_up) if stats else None,
                timeline=self.timeline,
            )
        ]
        if provokes is not None:
            measured = load_counts(self.load.samples(), self.timeline) if ran_load else {}
            self.provocation = check_provoked(normalize(provokes, self.name), history, self.timeline, measured)
            results.append(self.provocation)
        results += judge(
            history,
            final_state=self.final_state,
            timeline=self.timeline,
            consistency=consistency,
            acked_by_load=self.load.acked_requests() if ran_load else None,
            samples=self.load.samples() if ran_load else None,
            retry=retry,
            slo=slo,
            load_runs=self.load.figures() if ran_load else None,
        )
        return results

    def settle(self, expected_state: Callable[[], State], bound_s: float) -> CheckResult:
        """Wait (at most ``bound_s``) until every event of the experiment is decided and its state
        matches the verifier's, and return the consistency verdict over the snapshots taken meanwhile.

        Call it after the load and the faults, with the recorder still running (before
        ``stop_recording()`` or ``verify()``): the record is complete only once the
        system has settled. Matching state alone is not settled: an older
        version parked in the DLQ is still to be redriven (and applied as a no-op) after a newer
        one already shows. ``expected_state`` is read again at every poll, narrowed to the
        experiment's keys, because an event alerted meanwhile leaves it.
        """
        since = time.time()
        snapshots: list[tuple[float, State]] = []
        expected: dict[str, Mapping[str, Any]] = {}

        def settled() -> bool:
            nonlocal expected
            expected = {key: doc for key, doc in expected_state().items() if key.startswith(self.namespace)}
            snapshots.append((time.time(), self.final_state()))
            return not differences(expected, snapshots[-1][1]) and not self._undecided()

        # past the bound, the verdict says what did not converge; the other checks name the undecided events
        with contextlib.suppress(DeadlineExceeded):
            wait_for(settled, bound_s, "the events decided and the state converged", interval_s=0.5)
        return check_convergence(expected, snapshots, bound_s, since, self.timeline)

    def _undecided(self) -> set[str]:
        """Events of the experiment in the requests topic with neither a processed record (applied
        or a no-op) nor an alert yet. Reads the topics from their start: experiment-sized."""
        roles = self.topics
        topics = Topics(
            requests=roles["requests"], processed=roles["processed"], dlq=roles["dlq"], alerts=roles["alerts"]
        )

        def observed(topic: str) -> list[Any]:
            found = []
            for message in self.kafka.read_all(topic):
                try:
                    found.append(observation_from_record(Record.from_message(message), topics))
                except UnparseableRecord:
                    continue  # not a record of this system's contract; the recorder counts those
            return found

        mine = self.namespace
        requested = {o.event_id for o in observed(topics.requests) if str(o.detail.get("key", "")).startswith(mine)}
        if not requested:
            return set()
        decided = {o.event_id for topic in (topics.processed, topics.alerts) for o in observed(topic)}
        return requested - decided

    @contextmanager
    def steady_state(self, *probes: Probe, settle_s: float = 30.0) -> Iterator[None]:
        """Hold the steady state before the block, and again (within ``settle_s``) after it.

        Each probe returns truthy (or raises AssertionError) to say the system is steady.
        Before the method, a probe that does not hold within ``settle_s`` means the
        experiment cannot start (the system was not steady to begin with); after the
        block (faults healed), a probe that does not hold again within ``settle_s`` is
        the experiment's failure, and the message names the probe.
        """
        self._hold(probes, settle_s, "before the method: the system was not steady to begin with")
        yield
        self._hold(probes, settle_s, "after the faults healed: the system did not return to its steady state")

    def _hold(self, probes: tuple[Probe, ...], settle_s: float, when: str) -> None:
        for probe in probes:
            label = (probe.__doc__ or probe.__name__).strip().splitlines()[0]
            last: list[str] = []

            def holds(probe: Probe = probe, last: list[str] = last) -> bool:
                try:
                    return bool(probe())
                except AssertionError as err:
                    last[:] = [str(err)]
                    return False

            try:
                wait_for(holds, settle_s, label, interval_s=0.25)
            except DeadlineExceeded:
                detail = f": {last[0]}" if last else ""
                raise AssertionError(
                    f"steady state '{label}' did not hold within {settle_s:.0f} s {when}{detail}"
                ) from None
