"""SLO: error rate and latency percentiles per phase, before, during and after faults."""

import pytest
from checks_stories import T0, fault

from chaoskit.checks import Slo, check_slo
from chaoskit.errors import ConfigError
from chaoskit.load.phases import phases
from chaoskit.load.records import RequestRecord
from chaoskit.observe.phases import edges, percentile, phase_of

DOWN = "down workflow-service->document-service"


def samples(start: float, end: float, latency_ms: float, ok: bool = True) -> list[tuple[float, float, bool]]:
    return [(T0 + t / 10, latency_ms, ok) for t in range(int(start * 10), int(end * 10))]


def test_nearest_rank_percentile():
    values = sorted(float(v) for v in range(1, 101))
    assert [percentile(values, p) for p in (0.50, 0.95, 0.99, 1.0)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([7.0], 0.99) == 7.0


def test_phases_follow_the_fault_windows():
    timeline = fault(DOWN, 10.0, 20.0)
    second = timeline.record_inject("latency", "x", {}, at=T0 + 30.0)
    timeline.record_heal(second, at=T0 + 35.0)
    spans = edges((w.injected_at, w.healed_at) for w in timeline.windows())
    assert [phase_of(T0 + t, T0 + t, spans) for t in (5, 10, 15, 20, 25, 30, 40)] == [
        "before",
        "during",
        "during",
        "after",
        "after",
        "during",
        "after",
    ]


def test_slo_held_everywhere_states_the_figures():
    data = samples(0, 10, 20) + samples(10, 20, 300) + samples(20, 30, 25)
    slo = {"before": Slo(0.01, {99: 50}), "during": Slo(0.5, {99: 1000}), "after": Slo(0.01, {99: 50})}
    result = check_slo(data, fault(DOWN, 10.0, 20.0), slo)
    assert result.ok, result.explain()
    assert "before: 100 samples, error rate 0.00% (≤ 1.00%), p99 20ms (≤ 50ms)" in result.summary
    assert "during: 100 samples, error rate 0.00% (≤ 50.00%), p99 300ms (≤ 1000ms)" in result.summary


def test_breach_during_the_fault_only_names_the_phase_and_window():
    data = samples(0, 10, 20) + samples(10, 15, 900) + samples(15, 20, 5000, ok=False) + samples(20, 30, 25)
    result = check_slo(data, fault(DOWN, 10.0, 20.0), Slo(0.05, {99: 500}))

    assert not result.ok
    assert result.summary.startswith("SLO breached during the faults — ")
    rate, latency = result.offenders
    assert rate.event_id is None
    assert rate.expected == "during faults: error rate ≤ 5.00%"
    assert rate.observed == "error rate 50.00% (50 of 100 samples failed)"
    assert latency.expected == "during faults: p99 ≤ 500ms"
    assert latency.observed == "p99 = 900ms over 50 successful samples"
    assert rate.fault_window == '"down workflow-service->document-service" [10.0s–20.0s]'
    assert (
        'expected during faults: p99 ≤ 500ms; observed p99 = 900ms over 50 successful samples; fell in fault window "down'
        in result.explain()
    )


def test_bad_thresholds_are_refused():
    with pytest.raises(ConfigError, match="max_error_rate=2"):
        Slo(2, {99: 100})
    with pytest.raises(ConfigError, match="phases \\['while'\\]"):
        check_slo([], fault(DOWN, 1, 2), {"while": Slo()})


def test_the_report_phase_table_and_the_slo_verdict_file_a_request_alike():
    """One definition of phases: a request sent just before the fault that hangs into it
    is *during* in both the load's phase table and the SLO check."""
    timeline = fault(DOWN, 10.0, 20.0)
    spans = edges((w.injected_at, w.healed_at) for w in timeline.windows())
    requests = [
        RequestRecord("a", "t", "k", 1, True, T0 + 5.0, 100.0),  # before
        RequestRecord("b", "t", "k", 1, True, T0 + 9.5, 1500.0),  # sent before, hangs into the fault
        RequestRecord("c", "t", "k", 1, True, T0 + 15.0, 10.0),  # during
        RequestRecord("d", "t", "k", 1, True, T0 + 25.0, 10.0),  # after
    ]
    table = {p.phase: p.requests for p in phases(requests, timeline.windows(), T0, T0 + 30)}
    slo = [phase_of(r.start_time, r.end_time, spans) for r in requests]
    assert slo == ["before", "during", "during", "after"]
    assert table == {"before": slo.count("before"), "during": slo.count("during"), "after": slo.count("after")}
