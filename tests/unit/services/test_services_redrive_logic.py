"""Backoff schedule and the commit tracker: the redriver's pure logic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.offsets import CommitTracker
from services.redriver import retry_delay_s

TP = ("documents.dlq", 0)


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (50, 8.0)],
)
def test_backoff_doubles_up_to_the_cap(attempts: int, expected: float) -> None:
    assert retry_delay_s(attempts, base_s=1.0, factor=2.0, cap_s=8.0) == expected


def test_backoff_with_factor_1_is_constant_and_huge_exponents_hit_the_cap() -> None:
    assert [retry_delay_s(a, 0.5, 1.0, 10.0) for a in (1, 2, 10)] == [0.5, 0.5, 0.5]
    assert retry_delay_s(100, 1.0, 100.0, 30.0) == 30.0


def test_commit_point_stops_at_the_first_unresolved_offset() -> None:
    tracker: CommitTracker[str] = CommitTracker()
    tracker.assign([TP])
    for offset in (10, 11, 12, 13):
        tracker.add(TP, offset, f"e{offset}")
    tracker.resolve(TP, 11)
    tracker.resolve(TP, 13)
    assert tracker.ready() == {}  # 10 still waits
    tracker.resolve(TP, 10)
    assert tracker.ready() == {TP: 12}
    assert tracker.mark_committed(TP, 12) == ["e10", "e11"]
    assert tracker.ready() == {}
    tracker.resolve(TP, 12)
    assert tracker.ready() == {TP: 14}
    assert tracker.mark_committed(TP, 14) == ["e12", "e13"]
    assert tracker.ready() == {}


def test_a_failed_commit_is_offered_again_and_covers_everything_since() -> None:
    tracker: CommitTracker[str] = CommitTracker()
    tracker.assign([TP])
    tracker.add(TP, 0, "a")
    tracker.resolve(TP, 0)
    assert tracker.ready() == {TP: 1}  # suppose this commit failed: nothing marked
    tracker.add(TP, 1, "b")
    tracker.resolve(TP, 1)
    assert tracker.ready() == {TP: 2}
    assert tracker.mark_committed(TP, 2) == ["a", "b"]


def test_revoked_partitions_are_forgotten_and_get_a_new_generation() -> None:
    tracker: CommitTracker[str] = CommitTracker()
    tracker.assign([TP])
    before = tracker.generation(TP)
    tracker.add(TP, 5, "x")
    tracker.revoke([TP])
    assert tracker.generation(TP) is None
    tracker.resolve(TP, 5)  # late resolution of revoked work is ignored
    assert tracker.ready() == {} and tracker.mark_committed(TP, 6) == []
    tracker.assign([TP])
    assert tracker.generation(TP) not in (None, before)


def test_ready_can_be_limited_to_some_partitions() -> None:
    other = ("documents.dlq", 1)
    tracker: CommitTracker[str] = CommitTracker()
    tracker.assign([TP, other])
    for tp in (TP, other):
        tracker.add(tp, 0, "x")
        tracker.resolve(tp, 0)
    assert tracker.ready([other]) == {other: 1}


@given(
    st.lists(st.integers(min_value=0, max_value=30), unique=True, min_size=1, max_size=30).flatmap(
        lambda offsets: st.tuples(
            st.just(sorted(offsets)), st.permutations(sorted(offsets)), st.integers(0, len(offsets))
        )
    )
)
def test_commit_point_never_passes_an_unresolved_offset(case: tuple[list[int], list[int], int]) -> None:
    offsets, resolution_order, resolved_count = case
    tracker: CommitTracker[int] = CommitTracker()
    tracker.assign([TP])
    for offset in offsets:
        tracker.add(TP, offset, offset)
    committed: list[int] = []
    resolved: set[int] = set()
    for offset in resolution_order[:resolved_count]:
        tracker.resolve(TP, offset)
        resolved.add(offset)
        point = tracker.ready().get(TP)
        if point is not None:
            committed += tracker.mark_committed(TP, point)
            assert all(o in resolved for o in offsets if o < point)
            assert point == max(committed) + 1
    # Exactly the resolved prefix is committed, each offset once, in order.
    prefix = []
    for offset in offsets:
        if offset not in resolved:
            break
        prefix.append(offset)
    assert committed == prefix
