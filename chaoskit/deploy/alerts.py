"""The operations alert a rollback raises: one record on the alerts topic.

It goes through the direct Kafka listener (the deployer is apparatus, not the system
under test, so a fault on the services' links cannot swallow it). The record has no
``event_id``: it is about a deployment, not an event, and ``type`` says so, so the
verifier and the recorder can tell it from the redriver's per-event alerts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from chaoskit.errors import ChaoskitError

ALERT_TYPE = "deployment"
DELIVERY_TIMEOUT_S = 10.0


class AlertNotSent(ChaoskitError):
    """The broker did not acknowledge the alert."""


def rollback_alert(
    component: str,
    reason: str,
    figures: Mapping[str, Any],
    *,
    from_version: str,
    to_version: str,
    instances: list[str],
    at: float | None = None,
) -> dict[str, Any]:
    """The alert's JSON body; ``reason`` starts with ``rollback:``."""
    if not reason.startswith("rollback:"):
        reason = f"rollback: {reason}"
    return {
        "type": ALERT_TYPE,
        "component": component,
        "reason": reason,
        "from_version": from_version,
        "to_version": to_version,
        "instances": instances,
        "figures": dict(figures),
        "time": time.time() if at is None else at,
    }


def publish_alert(bootstrap: str, topic: str, alert: Mapping[str, Any], timeout_s: float = DELIVERY_TIMEOUT_S) -> None:
    """Publish and wait for the broker's ack; AlertNotSent says why it failed."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "message.timeout.ms": int(timeout_s * 1000),
            "log_level": 3,
        }
    )
    errors: list[KafkaError | None] = []

    def on_delivery(err: KafkaError | None, _: Message) -> None:
        errors.append(err)

    producer.produce(
        topic,
        key=str(alert.get("component", "")).encode(),
        value=json.dumps(alert, separators=(",", ":"), default=str).encode(),
        headers=[("alert_type", ALERT_TYPE.encode())],
        on_delivery=on_delivery,
    )
    producer.flush(timeout_s + 2)
    if errors != [None]:
        detail = errors[0].str() if errors and errors[0] is not None else "no delivery report"
        raise AlertNotSent(f"the rollback alert to {topic} on {bootstrap} was not delivered: {detail}")
