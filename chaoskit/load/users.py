"""Locust users that send documents, one request per event, each reported to Locust.

Imported only in the load process (it imports Locust, which monkey-patches the
interpreter). Usable on its own as a locustfile::

    locust -f chaoskit/load/users.py --headless -u 10 -r 10 -t 30s \\
        --host http://127.0.0.1:8081 OrderServiceUser --key-prefix exp1

The HTTP user's requests go through Locust's ``request`` event with the document's ids
in its ``context``; the Kafka user's delivery reports are gathered and folded into
Locust's statistics in batches (:class:`Deliveries`). Either way Locust's statistics and
the driver's request records are made from the same reports: what load calls
acknowledged is exactly what the system acknowledged.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

import gevent
from confluent_kafka import KafkaError, KafkaException, Producer
from locust import FastHttpUser, User, constant_throughput, events, task
from locust import stats as locust_stats
from locust.env import Environment
from locust.stats import RequestStats, StatsEntry

from chaoskit.load.config import LoadConfig, Target
from chaoskit.load.documents import Document, KeySpace
from chaoskit.load.records import ERROR, LATENCY_MS, OK, Row, describe_error

# Where the Kafka user's rows go: the driver's recorder (None when run as a plain locustfile).
Sink = Callable[[list[Row]], None]

# librdkafka's bounded wait when its local queue is full: yield to other greenlets meanwhile.
_QUEUE_FULL_BACKOFF_S = 0.005
# How often delivery reports are served: the resolution of the Kafka user's latencies.
_DELIVERY_POLL_S = 0.001
# Above this many events/s per user, the Kafka user sends a group of events per task (one
# group per millisecond or so) instead of paying Locust's task loop for every event.
_GROUP_ABOVE_RATE = 1000.0
_MAX_GROUP = 100
# One key space for every user of the process, so versions count up per key across users.
_keys = KeySpace("load", 100, 256)


def _stagger(rate_per_user: float) -> None:
    """Start a user at a random point of its pacing interval: users spawned together would
    otherwise send in bursts, all at the same instant of every interval."""
    gevent.sleep(random.random() / rate_per_user)


class OrderServiceUser(FastHttpUser):
    """Posts documents to order-service; acknowledged means 202 naming the same event id.

    A FastHttpUser (geventhttpclient), not an HttpUser (requests): requests spent about
    0.9 ms of CPU per POST, so the load process, not order-service, was the bottleneck of
    a flat-out run (80% of a core at 950 requests/s). ``network_timeout`` and
    ``connection_timeout`` bound each request (``configure`` sets both).
    """

    host = "http://127.0.0.1:8081"
    rate_per_user: ClassVar[float] = 10.0
    wait_time = constant_throughput(rate_per_user)

    def on_start(self) -> None:
        _stagger(self.rate_per_user)

    @task
    def post_document(self) -> None:
        doc = _keys.next()
        with self.client.post(
            "/documents",
            json=doc.http_body(),
            name="/documents",
            context=doc.context(),
            catch_response=True,
        ) as response:
            problem = _ack_problem(response, doc)
            if problem:
                response.failure(problem)
            else:
                response.success()


def _ack_problem(response: Any, doc: Document) -> str | None:
    """Why a response is not an acknowledgement of ``doc``, or None if it is one."""
    if not response.status_code:  # no HTTP response at all: refused, reset, timed out
        error = getattr(response, "error", None)
        return f"{type(error).__name__}: {error}" if error is not None else "no HTTP response"
    if response.status_code != 202:
        return f"HTTP {response.status_code}: {(response.text or '')[:200]}"
    try:
        acked = response.json().get("event_id")
    except ValueError:
        return "HTTP 202 without a JSON body"
    if acked != doc.event_id:
        return f"HTTP 202 acknowledged event {acked!r}, not the one sent"
    return None


class Deliveries:
    """The delivery reports of one process's Kafka users, gathered between two flushes.

    Each report becomes a record row at once (a plain tuple of ``RequestRecord``'s fields).
    ``flush`` hands the rows to the run's recorder (``sink``) and folds them into Locust's
    statistics, under request type ``KAFKA`` and the topic's name, as one partial entry
    merged with ``StatsEntry.extend``: the path Locust's master takes to merge its workers'
    reports, so counts, failures, the response-time histogram and requests per second come
    out as if every report had been logged. Firing Locust's ``request`` event per report
    instead cost 7-9 us of Locust's own bookkeeping per event, more than everything else
    the user does, and held one process to a fifth of what the broker takes. Failures also
    go to ``RequestStats.log_error`` one by one, so Locust's error table names them.
    """

    def __init__(self, stats: RequestStats, topic: str, sink: Sink | None) -> None:
        self.stats = stats
        self.topic = topic
        self.sink = sink
        self.rows: list[Row] = []
        self.sent_bytes = 0

    def report(
        self,
        doc: Document,
        size: int,
        sent_at: float,
        started: float,
        err: KafkaError | None,
        _msg: Any,
    ) -> None:
        """librdkafka's delivery callback (bound with ``functools.partial`` per event)."""
        latency_ms = (time.perf_counter() - started) * 1000
        self.sent_bytes += size
        error = None if err is None else describe_error(KafkaException(err))
        self.rows.append((doc.event_id, doc.trace_id, doc.key, doc.version, err is None, sent_at, latency_ms, error))

    def flush(self) -> None:
        rows, self.rows = self.rows, []
        if not rows:
            return
        latencies = [row[LATENCY_MS] for row in rows]
        now = time.time()
        part = StatsEntry(self.stats, self.topic, "KAFKA")
        part.num_requests = len(rows)
        total, fastest, slowest = sum(latencies), min(latencies), max(latencies)
        # Locust annotates these as int ms; its own sums and percentiles take float ms as well
        part.total_response_time = total  # type: ignore[assignment]
        part.min_response_time = fastest  # type: ignore[assignment]
        part.max_response_time = slowest  # type: ignore[assignment]
        part.response_times = Counter(map(locust_stats.bucket_response_time, latencies))
        part.num_reqs_per_sec = {int(now): len(rows)}
        part.total_content_length, self.sent_bytes = self.sent_bytes, 0
        part.last_request_timestamp = now
        self.stats.total.extend(part)
        self.stats.get(self.topic, "KAFKA").extend(part)
        for row in rows:
            if not row[OK]:
                self.stats.log_error("KAFKA", self.topic, row[ERROR])
        if self.sink is not None:
            self.sink(rows)


class KafkaProducerUser(User):
    """Publishes documents straight to Kafka with one producer shared by the process's users.

    Nothing here blocks the gevent hub: ``produce`` enqueues, and a poller greenlet calls
    ``poll(0)`` every millisecond to serve delivery reports (polling only after each
    produce would time a report by the next produce, not by its arrival) and flushes them
    (:class:`Deliveries`). A report's latency runs from its produce call to its report.
    Only :meth:`close` (at test stop) waits, with a timeout. At high rates a task sends a
    small group of events (``group``) that share one send time, each still its own request
    in the statistics.
    """

    bootstrap: ClassVar[str] = "127.0.0.1:9092"
    topic: ClassVar[str] = "documents.requested"
    rate_per_user: ClassVar[float] = 10.0
    wait_time = constant_throughput(rate_per_user)
    delivery_timeout_s: ClassVar[float] = 15.0
    stop_timeout_s: ClassVar[float] = 5.0
    group: ClassVar[int] = 1
    sink: ClassVar[Sink | None] = None
    _producer: ClassVar[Producer | None] = None
    _deliveries: ClassVar[Deliveries | None] = None
    _poller: ClassVar[gevent.Greenlet | None] = None

    def on_start(self) -> None:
        _stagger(self.rate_per_user)

    @staticmethod
    def _serve_reports(producer: Producer, deliveries: Deliveries) -> None:
        while True:
            producer.poll(0)
            deliveries.flush()
            gevent.sleep(_DELIVERY_POLL_S)

    def _open(self) -> tuple[Producer, Deliveries]:
        cls = type(self)
        if cls._producer is None or cls._deliveries is None:  # set together; both for the type checker
            cls._producer = Producer(
                {
                    "bootstrap.servers": cls.bootstrap,
                    "acks": "all",
                    "enable.idempotence": True,
                    "linger.ms": 5,
                    "socket.nagle.disable": True,
                    "message.timeout.ms": int(cls.delivery_timeout_s * 1000),
                }
            )
            cls._deliveries = Deliveries(self.environment.stats, cls.topic, cls.sink)
            cls._poller = gevent.spawn(cls._serve_reports, cls._producer, cls._deliveries)
        return cls._producer, cls._deliveries

    @task
    def publish(self) -> None:
        producer, deliveries = self._open()
        sent_at = time.time()
        produced_at = repr(sent_at)
        for _ in range(self.group):
            self._publish_one(producer, deliveries, sent_at, produced_at)

    def _publish_one(self, producer: Producer, deliveries: Deliveries, sent_at: float, produced_at: str) -> None:
        doc = _keys.next()
        value = doc.kafka_value()
        headers = doc.kafka_headers(produced_at)
        started = time.perf_counter()
        delivered = partial(deliveries.report, doc, len(value), sent_at, started)
        deadline = started + self.delivery_timeout_s
        while True:
            try:
                producer.produce(self.topic, value, doc.key, headers=headers, on_delivery=delivered)
                return
            except BufferError:
                producer.poll(0)
                if time.perf_counter() >= deadline:
                    delivered(KafkaError(KafkaError._QUEUE_FULL, "local producer queue stayed full"), None)
                    return
                gevent.sleep(_QUEUE_FULL_BACKOFF_S)

    @classmethod
    def close(cls) -> None:
        """Wait up to ``stop_timeout_s`` for outstanding delivery reports, then purge the
        rest: purged events are reported as failures (not acknowledged), never dropped."""
        producer, deliveries = cls._producer, cls._deliveries
        cls._producer = cls._deliveries = None
        if producer is None or deliveries is None:
            return
        if cls._poller is not None:
            cls._poller.kill()
            cls._poller = None
        if producer.flush(cls.stop_timeout_s) > 0:
            producer.purge(in_queue=True, in_flight=True, blocking=False)
            producer.flush(1.0)
        deliveries.flush()


def configure(config: LoadConfig, worker: int = 0, sink: Sink | None = None) -> type[User]:
    """Set the user classes up for this process of a run (worker ``worker`` of
    ``config.workers``, or the only process); returns the class to run. The Kafka user hands
    its record rows to ``sink``; the HTTP user's come through Locust's ``request`` event."""
    global _keys
    _keys = KeySpace(
        config.key_prefix,
        config.key_count,
        config.content_bytes,
        config.seed,
        stride=max(1, config.workers),
        offset=worker,
    )
    OrderServiceUser.rate_per_user = KafkaProducerUser.rate_per_user = config.rate_per_user
    if config.user == "http":
        assert config.target.http_url is not None
        OrderServiceUser.host = config.target.http_url.rstrip("/")
        OrderServiceUser.wait_time = constant_throughput(config.rate_per_user)
        OrderServiceUser.network_timeout = OrderServiceUser.connection_timeout = config.request_timeout_s
        return OrderServiceUser
    assert config.target.bootstrap is not None and config.target.topic is not None
    KafkaProducerUser.bootstrap = config.target.bootstrap
    KafkaProducerUser.topic = config.target.topic
    KafkaProducerUser.group = max(1, min(_MAX_GROUP, int(config.rate_per_user // _GROUP_ABOVE_RATE)))
    KafkaProducerUser.wait_time = constant_throughput(config.rate_per_user / KafkaProducerUser.group)
    KafkaProducerUser.delivery_timeout_s = config.request_timeout_s
    KafkaProducerUser.stop_timeout_s = config.stop_timeout_s
    KafkaProducerUser.sink = sink
    return KafkaProducerUser


@events.test_stop.add_listener
def _close_producer(**_: Any) -> None:
    KafkaProducerUser.close()


# -- as a locustfile: the same settings from the command line ------------------------------
@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    parser.add_argument("--key-prefix", default="load", help="keys are KEY_PREFIX-0 .. KEY_PREFIX-(KEY_COUNT-1)")
    parser.add_argument("--key-count", type=int, default=100)
    parser.add_argument("--content-bytes", type=int, default=256, help="size of each document's content")
    parser.add_argument("--user-rate", type=float, default=10.0, help="requests/s of each user")
    parser.add_argument("--kafka-bootstrap", default=KafkaProducerUser.bootstrap)
    parser.add_argument("--kafka-topic", default=KafkaProducerUser.topic)


@events.init.add_listener
def _configure_from_options(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    if options is None:  # library mode: the driver called configure()
        return
    names = {cls.__name__ for cls in environment.user_classes}
    for kind, name in (("http", OrderServiceUser.__name__), ("kafka", KafkaProducerUser.__name__)):
        if name in names:
            configure(
                LoadConfig(
                    target=Target(
                        http_url=environment.host or OrderServiceUser.host,
                        bootstrap=options.kafka_bootstrap,
                        topic=options.kafka_topic,
                    ),
                    user=kind,
                    users=1,
                    rate=options.user_rate,
                    key_prefix=options.key_prefix,
                    key_count=options.key_count,
                    content_bytes=options.content_bytes,
                )
            )
