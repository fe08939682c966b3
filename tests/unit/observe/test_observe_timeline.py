"""Timeline: fault windows, which one a moment fell in, and the JSON round trip."""

import pytest

from chaoskit.observe.timeline import FaultWindow, Timeline

T = 1_800_000_000.0


def timeline() -> Timeline:
    line = Timeline(origin=T)
    down = line.record_inject("down workflow-service->kafka", "workflow-service->kafka", {}, at=T + 12.3)
    line.record_heal(down, at=T + 17.9)
    slow = line.record_inject("latency redis", "workflow-service->redis", {"latency_ms": 500}, at=T + 15.0)
    line.record_heal(slow, at=T + 30.0)
    line.record_inject("kill redriver", "redriver", {"signal": "KILL"}, at=T + 40.0)
    return line


def test_window_of_names_the_fault_a_moment_fell_in():
    line = timeline()
    assert line.window_of(T + 1.0) is None
    assert line.window_of(T + 12.3) == "down workflow-service->kafka"  # injection inclusive
    assert line.window_of(T + 16.0) == "latency redis"  # overlapping: the latest injected
    assert line.window_of(T + 17.9) == "latency redis"  # heal exclusive
    assert line.window_of(T + 35.0) is None
    assert line.window_of(T + 1e6) == "kill redriver"  # never healed: still open
    assert [w.name for w in line.windows_at(T + 16.0)] == ["down workflow-service->kafka", "latency redis"]


def test_labels_are_seconds_since_the_origin():
    down, _, kill = timeline().windows()
    assert down.label(T) == '"down workflow-service->kafka" [12.3s–17.9s]'
    assert kill.label(T) == '"kill redriver" [40.0s–not healed]'


def test_origin_defaults_to_the_first_injection():
    line = Timeline()
    assert line.origin is None
    line.record_inject("a", "x", {}, at=T + 5)
    line.record_inject("b", "x", {}, at=T + 2)
    assert line.origin == T + 2
    assert [w.name for w in line.windows()] == ["b", "a"]


def test_heal_is_idempotent_and_unknown_ids_are_refused():
    line = Timeline(origin=T)
    window = line.record_inject("down", "x", {}, at=T)
    line.record_heal(window, at=T + 1)
    line.record_heal(window, at=T + 9)
    assert line.windows()[0].healed_at == T + 1
    with pytest.raises(KeyError, match="no fault window with id 7"):
        line.record_heal(7)


def test_json_round_trip_keeps_windows_ids_and_origin():
    line = timeline()
    copy = Timeline.from_json(line.to_json())
    assert copy.windows() == line.windows()
    assert copy.origin == T
    open_id = copy.windows()[-1].id
    copy.record_heal(open_id, at=T + 50.0)
    assert copy.windows()[-1] == FaultWindow(
        open_id, "kill redriver", "redriver", {"signal": "KILL"}, T + 40.0, T + 50.0
    )
    assert copy.record_inject("next", "x", {}) == 3
