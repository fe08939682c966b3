"""What workflow-service and redriver both run, started and stopped in one place.

Start: the /health and /metrics endpoint (first, so a health check sees the process
at once), the document-service client, the Redis store, an idempotent producer and a
manual-commit consumer. Stop (SIGTERM): close the consumer (leaves the group, so its
partitions move on at once), flush the producer, close the clients, stop HTTP. The
caller commits what is done before leaving the `with` block.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from aiohttp import web
from confluent_kafka import Consumer, Producer
from pydantic import Field

from services.config import Bootstrap, CommonConfig, HttpUrl, RedisUrl, Text, number_in
from services.kafka_io import DurablePublisher, consumer_config, producer_config
from services.log import JsonLog
from services.processing import DocumentServiceClient, Processor
from services.redis_apply import DocumentStore, redis_client
from services.status_http import LoopThread, add_status_routes, start_site

SHUTDOWN_FLUSH_S = 5.0


class ConsumerSettings(CommonConfig):
    """The settings both consumer services read, with the same names and rules.

    Each service's class gives SERVICE_NAME and CONSUMER_GROUP their default, its name.
    """

    bootstrap: Bootstrap = Field(alias="KAFKA_BOOTSTRAP_SERVERS")
    consumer_group: Text
    redis_url: RedisUrl
    document_service_url: HttpUrl
    document_timeout_s: Annotated[float, number_in(0.0, 300.0, exclusive_minimum=True)] = 2.0
    service_version: Text = "stable"

    @property
    def settings(self) -> ConsumerSettings:
        """These settings under the name the services (and the planted bugs) read them by."""
        return self


@dataclass(frozen=True)
class ConsumerRuntime:
    consumer: Consumer
    producer: Producer
    publisher: DurablePublisher
    processor: Processor


@contextmanager
def consumer_runtime(
    settings: ConsumerSettings,
    metrics: Callable[[], dict[str, Any]],
    log: JsonLog,
    stop: threading.Event,
    fail_rate: float = 0.0,
) -> Iterator[ConsumerRuntime]:
    name = settings.common.service_name
    loop_thread = LoopThread("http")
    loop_thread.start()
    app = web.Application()
    add_status_routes(app, metrics)
    runner = loop_thread.run(start_site(app, settings.common, log))
    documents = DocumentServiceClient(settings.document_service_url, settings.document_timeout_s, loop_thread)
    documents.open()
    store = DocumentStore(redis_client(settings.redis_url))
    producer = Producer(producer_config(settings.bootstrap, name, log))
    consumer = Consumer(consumer_config(settings.bootstrap, settings.consumer_group, name, log))
    try:
        yield ConsumerRuntime(
            consumer=consumer,
            producer=producer,
            publisher=DurablePublisher(producer, log, stop),
            processor=Processor(documents, store, log, fail_rate=fail_rate),
        )
    finally:
        consumer.close()
        left = producer.flush(SHUTDOWN_FLUSH_S)
        if left:
            log.warning("records left undelivered at shutdown", count=left)
        documents.close()
        store.close()
        loop_thread.run(runner.cleanup(), timeout=5)
        loop_thread.stop()
