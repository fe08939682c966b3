"""A component's health probe, by kind: what "up" means for Kafka, Redis, Toxiproxy and a
service. Probes connect to the direct endpoint, so a faulted link never fails them."""

from __future__ import annotations

from chaoskit.runtime import health
from chaoskit.runtime.topics import topics_led
from chaoskit.topology import Component


def answers(comp: Component, endpoint: str, topics: dict[str, int] | None = None) -> bool | None:
    """True/False from the kind's probe; None for a service without a health path (then
    being alive is all there is to check). With ``topics``, Kafka must also lead every
    partition of them (a restarted broker answers before its topics are back)."""
    if comp.kind == "kafka":
        return health.kafka_ready(endpoint) and (topics is None or topics_led(endpoint, topics))
    if comp.kind == "redis":
        return health.redis_ping(endpoint)
    if comp.kind == "toxiproxy":
        return health.http_ok(f"http://{endpoint}/version")
    if comp.health:
        return health.http_ok(f"http://{endpoint}{comp.health}")
    return None
