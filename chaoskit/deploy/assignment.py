"""Who serves which partition: the consumer group's assignment, read from the broker.

The deployer trusts neither its own bookkeeping nor the services' self-reports to say
that a rollback is over: it asks the group coordinator (``describe_consumer_groups`` on
the direct listener, never through a proxy) and waits until every partition of the
topic is owned by a member it expects. Members are named by their Kafka client id, which
the reference services set to their ``SERVICE_NAME`` (the instance name).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient

from chaoskit.errors import ChaoskitError
from chaoskit.runtime.health import DeadlineExceeded, kafka_admin, wait_for


class AssignmentTimeout(ChaoskitError):
    """The group did not reach the wanted assignment in time; carries the last one seen."""

    def __init__(self, what: str, timeout_s: float, last: Assignment | None) -> None:
        self.last = last
        seen = last.describe() if last is not None else "the group could not be described"
        super().__init__(f"{what}: not reached within {timeout_s:g} s; last seen: {seen}")


@dataclass(frozen=True)
class Assignment:
    """One reading of a group: its state and, per member (client id), its partitions of ``topic``."""

    group: str
    topic: str
    partitions: int
    state: str
    members: tuple[tuple[str, tuple[int, ...]], ...]

    def owners(self) -> dict[int, list[str]]:
        """Partition -> the members it is assigned to (one, when the group is healthy)."""
        owners: dict[int, list[str]] = {p: [] for p in range(self.partitions)}
        for client_id, partitions in self.members:
            for partition in partitions:
                owners.setdefault(partition, []).append(client_id)
        return owners

    def partitions_of(self, client_id: str) -> tuple[int, ...]:
        return tuple(sorted(p for name, parts in self.members if name == client_id for p in parts))

    @property
    def stable(self) -> bool:
        return self.state == ConsumerGroupState.STABLE.name

    def served_only_by(self, names: Collection[str]) -> bool:
        """Stable, every partition assigned exactly once, and each to one of ``names``."""
        owners = self.owners()
        return self.stable and all(len(o) == 1 and o[0] in names for o in owners.values())

    def serves(self, name: str) -> bool:
        """Stable, every partition assigned exactly once, and ``name`` owns at least one."""
        owners = self.owners()
        return self.stable and all(len(o) == 1 for o in owners.values()) and bool(self.partitions_of(name))

    def describe(self) -> str:
        """``STABLE: workflow-service=[3,4,5] workflow-service#v2-canary=[0,1,2]``."""
        shown = " ".join(f"{name}=[{','.join(map(str, parts))}]" for name, parts in sorted(self.members))
        unassigned = [p for p, o in self.owners().items() if not o]
        tail = f" unassigned=[{','.join(map(str, unassigned))}]" if unassigned else ""
        return f"{self.state}: {shown or 'no members'}{tail}"

    def to_dict(self) -> dict[str, object]:
        return {
            "group": self.group,
            "topic": self.topic,
            "state": self.state,
            "members": {name: list(parts) for name, parts in self.members},
        }


def read_assignment(bootstrap: str, group: str, topic: str, timeout_s: float = 10.0) -> Assignment:
    """The group's current assignment of ``topic`` (raises on a broker error)."""
    return _read(kafka_admin(bootstrap), bootstrap, group, topic, timeout_s)


def _read(admin: AdminClient, bootstrap: str, group: str, topic: str, timeout_s: float) -> Assignment:
    metadata = admin.list_topics(topic, timeout=timeout_s).topics.get(topic)
    if metadata is None or metadata.error is not None:
        raise ChaoskitError(f"topic {topic!r} does not exist on {bootstrap}; the group {group!r} cannot serve it")
    description = admin.describe_consumer_groups([group], request_timeout=timeout_s)[group].result(timeout_s)
    members = tuple(
        (m.client_id, tuple(sorted(tp.partition for tp in m.assignment.topic_partitions if tp.topic == topic)))
        for m in description.members
    )
    return Assignment(group, topic, len(metadata.partitions), description.state.name, members)


def wait_for_assignment(
    bootstrap: str,
    group: str,
    topic: str,
    wanted: Callable[[Assignment], bool],
    timeout_s: float,
    what: str,
    interval_s: float = 0.25,
) -> Assignment:
    """Poll the group until ``wanted(assignment)``; AssignmentTimeout names the last state seen."""
    last: list[Assignment] = []
    admin = kafka_admin(bootstrap)

    def reached() -> Assignment | None:
        assignment = _read(admin, bootstrap, group, topic, timeout_s=5.0)
        last[:] = [assignment]
        return assignment if wanted(assignment) else None

    try:
        return wait_for(reached, timeout_s, what, interval_s=interval_s)
    except DeadlineExceeded:
        raise AssignmentTimeout(what, timeout_s, last[0] if last else None) from None
