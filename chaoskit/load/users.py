"""Locust users that send documents, one request per event, each reported to Locust.

Imported only in the load process (it imports Locust, which monkey-patches the
interpreter). Usable on its own as a locustfile::

    locust -f chaoskit/load/users.py --headless -u 10 -r 10 -t 30s \\
        --host http://127.0.0.1:8081 OrderServiceUser --key-prefix exp1

Every request goes through Locust's ``request`` event with the document's ids in its
``context``, so Locust's statistics and the driver's request records are made from the
same reports: what load calls acknowledged is exactly what the system acknowledged.
"""

from __future__ import annotations

import random
import time
from typing import Any, ClassVar

import gevent
from confluent_kafka import KafkaError, KafkaException, Producer
from locust import HttpUser, User, constant_throughput, events, task
from locust.env import Environment

from chaoskit.load.config import LoadConfig, Target
from chaoskit.load.documents import Document, KeySpace

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


class OrderServiceUser(HttpUser):
    """Posts documents to order-service; acknowledged means 202 naming the same event id."""

    host = "http://127.0.0.1:8081"
    rate_per_user: ClassVar[float] = 10.0
    wait_time = constant_throughput(rate_per_user)
    request_timeout_s: ClassVar[float] = 15.0

    def on_start(self) -> None:
        _stagger(self.rate_per_user)

    @task
    def post_document(self) -> None:
        doc = _keys.next()
        with self.client.post(
            "/documents", json=doc.http_body(), name="/documents", context=doc.context(),
            timeout=self.request_timeout_s, catch_response=True,
        ) as response:
            problem = _ack_problem(response, doc)
            if problem:
                response.failure(problem)
            else:
                response.success()


def _ack_problem(response: Any, doc: Document) -> str | None:
    """Why a response is not an acknowledgement of ``doc``, or None if it is one."""
    if response.error is not None:
        return f"{type(response.error).__name__}: {response.error}"
    if response.status_code != 202:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    try:
        acked = response.json().get("event_id")
    except ValueError:
        return "HTTP 202 without a JSON body"
    if acked != doc.event_id:
        return f"HTTP 202 acknowledged event {acked!r}, not the one sent"
    return None


class KafkaProducerUser(User):
    """Publishes documents straight to Kafka with one producer shared by the process's users.

    Nothing here blocks the gevent hub: ``produce`` enqueues, and a poller greenlet calls
    ``poll(0)`` every millisecond to serve delivery reports (polling only after each
    produce would time a report by the next produce, not by its arrival). Each report
    fires Locust's ``request`` event with the time from produce to report. Only
    :meth:`close` (at test stop) waits, with a timeout. At high rates a task sends a small
    group of events (``group``), each still its own request in the statistics.
    """

    bootstrap: ClassVar[str] = "127.0.0.1:9092"
    topic: ClassVar[str] = "documents.requested"
    rate_per_user: ClassVar[float] = 10.0
    wait_time = constant_throughput(rate_per_user)
    delivery_timeout_s: ClassVar[float] = 15.0
    stop_timeout_s: ClassVar[float] = 5.0
    group: ClassVar[int] = 1
    _producer: ClassVar[Producer | None] = None
    _poller: ClassVar[gevent.Greenlet | None] = None

    def on_start(self) -> None:
        _stagger(self.rate_per_user)

    @classmethod
    def _serve_reports(cls, producer: Producer) -> None:
        while True:
            producer.poll(0)
            gevent.sleep(_DELIVERY_POLL_S)

    @classmethod
    def producer(cls) -> Producer:
        if cls._producer is None:
            cls._producer = Producer({
                "bootstrap.servers": cls.bootstrap,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 5,
                "socket.nagle.disable": True,
                "message.timeout.ms": int(cls.delivery_timeout_s * 1000),
            })
            cls._poller = gevent.spawn(cls._serve_reports, cls._producer)
        return cls._producer

    @task
    def publish(self) -> None:
        for _ in range(self.group):
            self._publish_one()

    def _publish_one(self) -> None:
        doc = _keys.next()
        value = doc.kafka_value()
        report = self.environment.events.request
        topic = self.topic
        context = doc.context()
        sent_at = time.time()
        started = time.perf_counter()

        def delivered(err: KafkaError | None, _msg: Any) -> None:
            report.fire(
                request_type="KAFKA", name=topic, start_time=sent_at,
                response_time=(time.perf_counter() - started) * 1000, response_length=len(value),
                exception=None if err is None else KafkaException(err), context=context,
            )

        producer = self.producer()
        deadline = started + self.delivery_timeout_s
        while True:
            try:
                producer.produce(
                    topic, value, key=doc.key.encode(), headers=doc.kafka_headers(sent_at), on_delivery=delivered,
                )
                break
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
        producer, cls._producer = cls._producer, None
        if producer is None:
            return
        if cls._poller is not None:
            cls._poller.kill()
            cls._poller = None
        if producer.flush(cls.stop_timeout_s) > 0:
            producer.purge(in_queue=True, in_flight=True, blocking=False)
            producer.flush(1.0)


def configure(config: LoadConfig) -> type[User]:
    """Set the user classes up for one run; returns the class to run."""
    global _keys
    _keys = KeySpace(config.key_prefix, config.key_count, config.content_bytes, config.seed)
    OrderServiceUser.rate_per_user = KafkaProducerUser.rate_per_user = config.rate_per_user
    if config.user == "http":
        assert config.target.http_url is not None
        OrderServiceUser.host = config.target.http_url.rstrip("/")
        OrderServiceUser.wait_time = constant_throughput(config.rate_per_user)
        OrderServiceUser.request_timeout_s = config.request_timeout_s
        return OrderServiceUser
    assert config.target.bootstrap is not None and config.target.topic is not None
    KafkaProducerUser.bootstrap = config.target.bootstrap
    KafkaProducerUser.topic = config.target.topic
    KafkaProducerUser.group = max(1, min(_MAX_GROUP, int(config.rate_per_user // _GROUP_ABOVE_RATE)))
    KafkaProducerUser.wait_time = constant_throughput(config.rate_per_user / KafkaProducerUser.group)
    KafkaProducerUser.delivery_timeout_s = config.request_timeout_s
    KafkaProducerUser.stop_timeout_s = config.stop_timeout_s
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
            configure(LoadConfig(
                target=Target(http_url=environment.host or OrderServiceUser.host,
                              bootstrap=options.kafka_bootstrap, topic=options.kafka_topic),
                user=kind, users=1, rate=options.user_rate, key_prefix=options.key_prefix,
                key_count=options.key_count, content_bytes=options.content_bytes,
            ))
