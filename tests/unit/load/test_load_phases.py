"""Statistics per phase of fault windows, and per second, on hand-made request records."""

from __future__ import annotations

import pytest

from chaoskit.errors import ConfigError
from chaoskit.load.phases import phases
from chaoskit.load.records import RequestRecord, summarize
from chaoskit.observe.phases import percentile
from chaoskit.observe.timeline import Timeline


def rec(n: int, start: float, latency_ms: float = 10.0, ok: bool = True) -> RequestRecord:
    return RequestRecord(f"e{n}", f"t{n}", "k-0", n, ok, start, latency_ms, None if ok else "HTTP 503")


def by_phase(stats: list, window: str) -> dict:
    return {p.phase: p for p in stats if p.window == window}


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) is None


def test_summarize_counts_failures_and_includes_their_latency() -> None:
    summary = summarize([rec(1, 0, 5), rec(2, 0, 100, ok=False), rec(3, 0, 10)])
    assert (summary.requests, summary.failures, summary.p50, summary.p99) == (3, 1, 10, 100)
    assert summary.error_rate == pytest.approx(1 / 3)
    empty = summarize([])
    assert (empty.requests, empty.error_rate, empty.p50) == (0, 0.0, None)


def test_one_window_partitions_every_request_by_its_span() -> None:
    records = [
        rec(1, 100.0),  # before: ends 100.01 < 110
        rec(2, 109.5, latency_ms=1000),  # started before, hung into the window: during
        rec(3, 112.0, 3000, ok=False),  # during
        rec(4, 119.9, 500),  # starts during, ends after: during
        rec(5, 120.5),  # after
        rec(6, 125.0),  # after
    ]
    stats = phases(records, [("kafka paused", 110.0, 120.0)], run_start=100.0, run_end=130.0)
    assert [(p.window, p.phase) for p in stats] == [
        ("kafka paused", "before"),
        ("kafka paused", "during"),
        ("kafka paused", "after"),
    ]
    got = by_phase(stats, "kafka paused")
    assert (got["before"].requests, got["during"].requests, got["after"].requests) == (1, 3, 2)
    assert sum(p.requests for p in stats) == len(records)
    assert got["during"].failures == 1 and got["during"].error_rate == pytest.approx(1 / 3)
    assert got["during"].p50 == 1000 and got["during"].p99 == 3000
    assert got["before"].error_rate == 0.0 and got["after"].p95 == 10.0
    assert (got["before"].start, got["before"].end) == (100.0, 110.0)
    assert (got["after"].start, got["after"].end) == (120.0, 130.0)
    assert got["during"].rps == pytest.approx(0.3)


def test_with_two_windows_before_and_after_stay_between_the_neighbours() -> None:
    records = [rec(1, 1.0), rec(2, 12.0), rec(3, 21.0), rec(4, 27.0), rec(5, 35.0), rec(6, 45.0)]
    windows = [("second", 30.0, 40.0), ("first", 10.0, 20.0)]
    stats = phases(records, windows, run_start=0.0, run_end=50.0)
    assert [p.window for p in stats] == ["first"] * 3 + ["second"] * 3
    first, second = by_phase(stats, "first"), by_phase(stats, "second")
    assert [r for r in (first["before"].requests, first["during"].requests, first["after"].requests)] == [1, 1, 2]
    assert (first["after"].start, first["after"].end) == (20.0, 30.0)
    assert [second["before"].requests, second["during"].requests, second["after"].requests] == [2, 1, 1]
    assert (second["before"].start, second["before"].end) == (20.0, 30.0)


def test_before_and_after_leave_out_requests_that_overlap_another_window() -> None:
    records = [rec(1, 5.0), rec(2, 14.0), rec(3, 17.0), rec(4, 25.0)]
    # "b" lies inside "a": request 3 (17 s) comes after "b" but while "a" is on, so it is
    # no recovery figure for "b"; request 2 (14 s) is during both.
    stats = phases(records, [("a", 10.0, 20.0), ("b", 12.0, 15.0)], run_start=0.0, run_end=30.0)
    a, b = by_phase(stats, "a"), by_phase(stats, "b")
    assert [a["before"].requests, a["during"].requests, a["after"].requests] == [1, 2, 1]
    assert [b["before"].requests, b["during"].requests, b["after"].requests] == [1, 1, 1]


def test_an_unhealed_window_lasts_to_the_end_of_the_run() -> None:
    stats = phases([rec(1, 1.0), rec(2, 8.0)], [("never healed", 5.0, None)], run_start=0.0, run_end=10.0)
    got = by_phase(stats, "never healed")
    assert (got["before"].requests, got["during"].requests, got["after"].requests) == (1, 1, 0)
    assert got["during"].end == 10.0


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ConfigError, match="'backwards'.*start=5.0 end=4.0"):
        phases([], [("backwards", 5.0, 4.0)], run_start=0.0, run_end=10.0)


def test_no_windows_no_phases() -> None:
    assert phases([rec(1, 1.0)], [], run_start=0.0, run_end=2.0) == []


def test_windows_recorded_by_the_fault_timeline_are_accepted_as_they_are() -> None:
    timeline = Timeline()
    first = timeline.record_inject("pause kafka", "kafka", {}, at=10.0)
    timeline.record_heal(first, at=20.0)
    timeline.record_inject("down document-service", "document-service", {}, at=25.0)
    stats = phases([rec(1, 5.0), rec(2, 15.0), rec(3, 22.0), rec(4, 27.0)], timeline.windows(), 0.0, 30.0)
    assert [(p.window, p.phase, p.requests) for p in stats] == [
        ("pause kafka", "before", 1),
        ("pause kafka", "during", 1),
        ("pause kafka", "after", 1),
        ("down document-service", "before", 1),
        ("down document-service", "during", 1),
        ("down document-service", "after", 0),
    ]
