"""The topology's topics on a broker: created when missing, and ready only once every
partition has a leader (right after a start or a wipe the broker answers before its
metadata shows them, and a client producing then gets UNKNOWN_TOPIC_OR_PART)."""

from __future__ import annotations

from confluent_kafka.cimpl import NewTopic

from chaoskit.errors import ComponentStartError
from chaoskit.runtime import health


def topics_led(bootstrap: str, wanted: dict[str, int]) -> bool:
    """Every wanted topic exists with its partitions, each with a leader."""
    if not wanted:
        return True
    found = health.kafka_admin(bootstrap).list_topics(timeout=2).topics
    return all(
        name in found
        and len(found[name].partitions) == count
        and all(p.leader >= 0 for p in found[name].partitions.values())
        for name, count in wanted.items()
    )


def create_topics(bootstrap: str, wanted: dict[str, int], kafka: str, timeout_s: float = 30.0) -> None:
    """Create the missing topics (replication 1) and wait until all have leaders."""
    if not wanted:
        return
    admin = health.kafka_admin(bootstrap)
    existing = set(admin.list_topics(timeout=10).topics)
    missing = [
        NewTopic(name, num_partitions=n, replication_factor=1) for name, n in wanted.items() if name not in existing
    ]
    for name, future in admin.create_topics(missing, request_timeout=15).items() if missing else ():
        try:
            future.result(timeout=20)
        except Exception as err:
            raise ComponentStartError(kafka, f"creating topic {name!r} failed: {err}") from None
    try:
        health.wait_for(lambda: topics_led(bootstrap, wanted), timeout_s, "every topic partition to have a leader")
    except health.DeadlineExceeded as err:
        raise ComponentStartError(kafka, str(err)) from None
