"""order-service: HTTP `POST /documents` -> DocumentRequested on Kafka.

    POST /documents {"key": str, "content": str, "version": int >= 0,
                     "event_id"?: str, "trace_id"?: str}
        -> 202 {"event_id", "trace_id"} once the broker acknowledged the record
        -> 400 {"error", "field"} for a bad body
        -> 503 {"error", "event_id", "trace_id"} if delivery failed or timed out
    GET /health -> 200 {"status": "ok"}

202 means durable in Kafka (idempotent producer, acks=all): load generators count an
event as sent only then, so "acked but never applied" is a real loss. Callers may
supply event and trace ids so every id is known before the request is made.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Annotated

from aiohttp import web
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from pydantic import Field

from services.config import Bootstrap, CommonConfig, Text, Topic, load_config, number_in
from services.kafka_io import producer_config
from services.log import JsonLog
from services.messages import DocumentEvent, InvalidEvent, check_id, encode_headers, trace_headers
from services.status_http import add_status_routes, serve_until_signalled

SERVICE = "order-service"
SHUTDOWN_FLUSH_S = 10.0


class OrderServiceConfig(CommonConfig):
    """order-service's variables; PRODUCE_TIMEOUT_S bounds how long a request waits for its ack."""

    service_name: Text = SERVICE
    bootstrap: Bootstrap = Field(alias="KAFKA_BOOTSTRAP_SERVERS")
    requests_topic: Topic = "documents.requested"
    produce_timeout_s: Annotated[float, number_in(0.0, 300.0, exclusive_minimum=True)] = 10.0


class DeliveryBridge:
    """Hands librdkafka delivery reports to the asyncio futures of the waiting requests.

    Delivery callbacks run inside `Producer.poll()`, which blocks, so a thread polls
    and passes each report to the event loop with `call_soon_threadsafe`.
    """

    def __init__(self, producer: Producer, loop: asyncio.AbstractEventLoop) -> None:
        self._producer = producer
        self._loop = loop
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="delivery-poll", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _poll(self) -> None:
        while not self._closing.is_set():
            self._producer.poll(0.1)

    @staticmethod
    def _settle(future: asyncio.Future[Message], err: KafkaError | None, msg: Message) -> None:
        if future.done():  # the request already gave up waiting
            return
        if err is not None:
            future.set_exception(KafkaException(err))
        else:
            future.set_result(msg)

    def produce(
        self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[Message]:
        """Queue a record; raises BufferError (queue full) or KafkaException."""
        future: asyncio.Future[Message] = self._loop.create_future()

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            self._loop.call_soon_threadsafe(self._settle, future, err, msg)

        self._producer.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
        return future

    def close(self, flush_timeout_s: float) -> int:
        """Stop polling and flush; returns the number of records left undelivered."""
        self._closing.set()
        self._thread.join(timeout=5)
        return self._producer.flush(flush_timeout_s)


def _error(status: int, message: str, **fields: str) -> web.Response:
    return web.json_response({"error": message, **fields}, status=status)


def build_app(config: OrderServiceConfig, log: JsonLog) -> web.Application:
    bridge_key = web.AppKey("bridge", DeliveryBridge)

    async def start_producer(app: web.Application) -> None:
        conf = producer_config(
            config.bootstrap, config.common.service_name, log, message_timeout_s=config.produce_timeout_s
        )
        app[bridge_key] = DeliveryBridge(Producer(conf), asyncio.get_running_loop())
        app[bridge_key].start()

    async def flush_producer(app: web.Application) -> None:
        left = await asyncio.get_running_loop().run_in_executor(None, app[bridge_key].close, SHUTDOWN_FLUSH_S)
        if left:
            log.warning("records left undelivered at shutdown", count=left)

    async def post_document(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "body: must be a JSON object", field="body")
        if not isinstance(body, dict):
            return _error(400, "body: must be a JSON object", field="body")
        try:
            event_id = check_id("event_id", body["event_id"]) if body.get("event_id") is not None else uuid.uuid4().hex
            trace_id = check_id("trace_id", body["trace_id"]) if body.get("trace_id") is not None else uuid.uuid4().hex
            event = DocumentEvent.from_fields(body, event_id)
        except InvalidEvent as exc:
            return _error(400, str(exc), field=exc.field)

        ids = {"event_id": event_id, "trace_id": trace_id}
        produced_at = time.time()
        headers = encode_headers(trace_headers(event_id, trace_id, produced_at))
        try:
            bridge = request.app[bridge_key]
            delivery = bridge.produce(config.requests_topic, event.key.encode(), event.to_value(), headers)
        except BufferError:
            log.warning("producer queue full", **ids)
            return _error(503, "producer queue full", **ids)
        except KafkaException as exc:
            log.error("produce failed", error=exc.args[0].str(), **ids)
            return _error(503, f"produce failed: {exc.args[0].str()}", **ids)
        log.info("produced", kind="produced", key=event.key, version=event.version, topic=config.requests_topic, **ids)

        try:
            # librdkafka's message.timeout.ms is PRODUCE_TIMEOUT_S, so the report comes
            # by then; the margin only guards against a lost callback.
            msg = await asyncio.wait_for(delivery, timeout=config.produce_timeout_s + 2.0)
        except TimeoutError:
            log.error("delivery timed out", timeout_s=config.produce_timeout_s, **ids)
            return _error(503, f"delivery not confirmed within {config.produce_timeout_s:g}s", **ids)
        except KafkaException as exc:
            log.error("delivery failed", error=exc.args[0].str(), **ids)
            return _error(503, f"delivery failed: {exc.args[0].str()}", **ids)
        log.info(
            "acked",
            kind="acked",
            partition=msg.partition(),
            offset=msg.offset(),
            latency_ms=round((time.time() - produced_at) * 1000, 3),
            **ids,
        )
        return web.json_response(ids, status=202)

    app = web.Application()
    app.on_startup.append(start_producer)
    app.on_cleanup.append(flush_producer)
    app.router.add_post("/documents", post_document)
    add_status_routes(app)
    return app


def main() -> None:
    config = load_config(OrderServiceConfig.from_env)
    log = JsonLog(config.common.service_name)
    asyncio.run(serve_until_signalled(build_app(config, log), config.common, log))


if __name__ == "__main__":
    main()
