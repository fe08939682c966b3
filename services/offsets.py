"""Which offsets may be committed: the highest contiguous resolved offset per partition.

A consumer that finishes records out of order (the redriver's due-time heap) or not at
all (a publish interrupted by shutdown) must never commit past an unfinished record,
or a crash would skip it. Kafka commits "everything below N", so the commit point of a
partition is the first offset not yet resolved.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

P = TypeVar("P")
TP = tuple[str, int]


@dataclass
class _Partition(Generic[P]):
    generation: int
    arrived: deque[int] = field(default_factory=deque)
    payloads: dict[int, P] = field(default_factory=dict)
    resolved: set[int] = field(default_factory=set)
    commit_point: int | None = None
    committed: int | None = None
    done: list[P] = field(default_factory=list)  # resolved below commit_point, not yet committed


class CommitTracker(Generic[P]):
    """Offsets per assigned partition, in arrival order, with a payload each (for logs)."""

    def __init__(self) -> None:
        self._partitions: dict[TP, _Partition[P]] = {}
        self._generations = 0

    def assign(self, tps: Iterable[TP]) -> None:
        for tp in tps:
            self._generations += 1
            self._partitions[tp] = _Partition(generation=self._generations)

    def revoke(self, tps: Iterable[TP]) -> None:
        for tp in tps:
            self._partitions.pop(tp, None)

    def generation(self, tp: TP) -> int | None:
        """A token that changes with every assignment; None if `tp` is not assigned.

        Work queued under an older generation belongs to an assignment that was revoked:
        the partition's new owner redelivers it, so it must be dropped.
        """
        partition = self._partitions.get(tp)
        return None if partition is None else partition.generation

    def add(self, tp: TP, offset: int, payload: P) -> None:
        partition = self._partitions.get(tp)
        if partition is None:  # a record fetched before an assignment we did not see
            self.assign([tp])
            partition = self._partitions[tp]
        partition.arrived.append(offset)
        partition.payloads[offset] = payload

    def resolve(self, tp: TP, offset: int) -> None:
        partition = self._partitions.get(tp)
        if partition is not None and offset in partition.payloads:
            partition.resolved.add(offset)

    def ready(self, only: Iterable[TP] | None = None) -> dict[TP, int]:
        """Commit points (next offset to read) that are ahead of the last commit."""
        wanted = self._partitions.keys() if only is None else [tp for tp in only if tp in self._partitions]
        points: dict[TP, int] = {}
        for tp in wanted:
            partition = self._partitions[tp]
            while partition.arrived and partition.arrived[0] in partition.resolved:
                offset = partition.arrived.popleft()
                partition.resolved.discard(offset)
                partition.done.append(partition.payloads.pop(offset))
                partition.commit_point = offset + 1
            if partition.commit_point is not None and partition.commit_point != partition.committed:
                points[tp] = partition.commit_point
        return points

    def mark_committed(self, tp: TP, offset: int) -> list[P]:
        """Record a successful commit; returns the payloads it covered (to log `committed`)."""
        partition = self._partitions.get(tp)
        if partition is None or partition.commit_point != offset:
            return []
        partition.committed = offset
        covered, partition.done = partition.done, []
        return covered
