"""Bad fault arguments are refused before anything is touched, with errors that teach.

The runtime here is only a topology: any attempt to reach Toxiproxy or a process would
fail with AttributeError, so a passing test also shows nothing was touched.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from chaoskit.errors import BlastRadiusError, ConfigError
from chaoskit.faults import Faults, TargetError
from chaoskit.topology import load_topology

MINIMAL = Path(__file__).resolve().parents[3] / "fixtures" / "topologies" / "minimal.yml"


@pytest.fixture(scope="module")
def faults() -> Faults:
    return Faults(SimpleNamespace(topology=load_topology(MINIMAL)))  # type: ignore[arg-type]


def refused(call, *needles: str) -> str:
    with pytest.raises(ConfigError) as info:
        call()
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    assert "\n" not in message
    return message


def test_negative_latency_names_the_call_the_field_and_the_bound(faults):
    assert refused(lambda: faults.latency("producer", "redis", ms=-5), "ms must be >= 0").startswith("latency(ms=-5)")


@pytest.mark.parametrize(
    "call, needles",
    [
        (lambda f: f.latency("producer", "redis", ms=1.5), ["latency(ms=1.5)", "whole number"]),
        (lambda f: f.latency("producer", "redis", ms="100"), ["latency(ms='100')", "got a str"]),
        (lambda f: f.latency("producer", "redis", ms=True), ["latency(ms=True)", "got a bool"]),
        (lambda f: f.latency("producer", "redis", ms=math.inf), ["latency(ms=inf)", "finite"]),
        (lambda f: f.latency("producer", "redis", ms=10, jitter=-1), ["latency(jitter=-1)", ">= 0"]),
        (lambda f: f.bandwidth("producer", "redis", kbps=0), ["bandwidth(kbps=0)", ">= 1", "down()"]),
        (lambda f: f.timeout("producer", "redis", ms=-1), ["timeout(ms=-1)", ">= 0"]),
        (lambda f: f.reset_peer("producer", "redis", ms=-1), ["reset_peer(ms=-1)"]),
        (lambda f: f.slicer("producer", "redis", average_size=0), ["slicer(average_size=0)", ">= 1"]),
        (
            lambda f: f.slicer("producer", "redis", 10, size_variation=10),
            ["slicer(size_variation=10)", "smaller than average_size"],
        ),
        (lambda f: f.slicer("producer", "redis", 10, delay_us=-3), ["slicer(delay_us=-3)"]),
        (lambda f: f.limit_data("producer", "redis", bytes=-1), ["limit_data(bytes=-1)"]),
        (lambda f: f.slow_close("producer", "redis", ms=-1), ["slow_close(ms=-1)"]),
    ],
)
def test_bad_numbers(faults, call, needles):
    refused(lambda: call(faults), *needles)


@pytest.mark.parametrize("value", [-0.1, 1.5, "all", None])
def test_toxicity_outside_0_to_1(faults, value):
    refused(
        lambda: faults.latency("producer", "redis", ms=10, toxicity=value),
        f"latency(toxicity={value!r})",
        "between 0 and 1",
    )


def test_unknown_direction_lists_the_directions(faults):
    refused(
        lambda: faults.bandwidth("producer", "kafka", kbps=10, direction="sideways"),
        "bandwidth(direction='sideways')",
        "'downstream'",
        "'upstream'",
        "'both'",
    )


def test_a_link_not_in_the_topology_lists_the_links(faults):
    message = refused(
        lambda: faults.latency("consumer", "redis", ms=10), "no proxied link consumer->redis", "the links are"
    )
    for link in ("producer->kafka", "consumer->kafka", "producer->redis"):
        assert link in message


def test_a_misspelt_component_names_the_components(faults):
    refused(lambda: faults.down("producer", "kafak"), "down('producer', 'kafak')", "unknown component 'kafak'", "kafka")


def test_targets_outside_the_topology_are_also_blast_radius_errors(faults):
    with pytest.raises(BlastRadiusError):
        faults.kill("prod-db")
    with pytest.raises(TargetError):
        faults.partition([("producer", "elsewhere")])


def test_toxiproxy_itself_cannot_be_process_faulted(faults):
    refused(lambda: faults.kill("toxiproxy"), "kill('toxiproxy')", "carries the network faults")


@pytest.mark.parametrize(
    "links, needles",
    [
        ([], ["partition(links=[])", "at least one"]),
        ("producer->kafka", ["partition(links='producer->kafka')", "a list of"]),
        ([("producer",)], ["partition(links[0]=('producer',))", "pair"]),
        (["producer->nowhere"], ["unknown component 'nowhere'"]),
    ],
)
def test_bad_partitions(faults, links, needles):
    refused(lambda: faults.partition(links), *needles)


def test_partition_accepts_pairs_and_arrows_and_drops_repeats(faults):
    cut = faults.partition([("producer", "kafka"), "producer->kafka", "consumer -> kafka"])
    assert [link.name for link in cut.links] == ["producer->kafka", "consumer->kafka"]
    assert cut.target == "producer->kafka, consumer->kafka"


def test_isolate_cuts_every_link_from_and_to_the_component(faults):
    assert [link.name for link in faults.isolate("producer").links] == ["producer->kafka", "producer->redis"]
    assert [link.name for link in faults.isolate("kafka").links] == ["producer->kafka", "consumer->kafka"]


def test_broker_loss_modes_and_data(faults):
    refused(lambda: faults.broker_loss(mode="explode"), "broker_loss(mode='explode')", "'kill'", "'pause'", "'cut'")
    refused(lambda: faults.redis_loss(data="gone"), "redis_loss(data='gone')", "'kept'", "'lost'")
    loss = faults.broker_loss(mode="cut", data="lost")
    assert (loss.name, loss.target, dict(loss.params)) == ("broker_loss", "kafka", {"mode": "cut", "data": "lost"})


def test_defaults_per_kind_are_filled_into_params(faults):
    assert dict(faults.latency("producer", "kafka", ms=800, jitter=200).params) == {
        "ms": 800,
        "jitter": 200,
        "direction": "downstream",
        "toxicity": 1.0,
    }
    assert faults.bandwidth("producer", "kafka", kbps=64).params["direction"] == "both"
    assert faults.timeout("producer", "kafka").params == {"ms": 0, "direction": "both", "toxicity": 1.0}
    assert faults.reset_peer("producer", "kafka").params["direction"] == "upstream"
    assert str(faults.down("producer", "redis")) == "down(producer->redis)"
    assert faults.kill("kafka").holds == ("kafka",)
    assert faults.broker_loss(mode="cut").holds == ()
    assert faults.broker_loss(mode="cut", data="lost").holds == ("kafka",)


def test_building_a_fault_touches_nothing(faults):
    fault = faults.latency("producer", "redis", ms=10)
    assert not fault.active and faults.active == []


def test_every_fault_prints_as_the_call_that_builds_it_again(faults):
    built = [
        faults.latency("producer", "kafka", ms=800, jitter=200),
        faults.bandwidth("producer", "redis", kbps=64, direction="upstream", toxicity=0.5),
        faults.timeout("producer", "redis"),
        faults.reset_peer("producer", "redis", ms=10),
        faults.slicer("producer", "redis", 16, size_variation=4, delay_us=100),
        faults.limit_data("producer", "redis", bytes=100),
        faults.slow_close("producer", "redis", ms=5),
        faults.down("producer", "redis"),
        faults.partition([("producer", "kafka"), ("consumer", "kafka")]),
        faults.isolate("producer"),
        faults.kill("kafka"),
        faults.restart("consumer"),
        faults.broker_loss(mode="pause", data="lost"),
        faults.redis_loss(mode="cut"),
    ]
    for fault in built:
        again = eval(fault.code, {"faults": faults})
        assert (again.name, again.target, dict(again.params)) == (fault.name, fault.target, dict(fault.params))
    assert (
        built[0].code == "faults.latency('producer', 'kafka', ms=800, jitter=200, direction='downstream', toxicity=1.0)"
    )


def test_a_schedule_prints_as_code_that_replays_it(faults):
    schedule = faults.schedule([(0.5, faults.down("producer", "redis"), 2.0), (1, faults.kill("kafka"), 3)])
    assert (
        schedule.code
        == "[\n    (0.5, faults.down('producer', 'redis'), 2.0),\n    (1.0, faults.kill('kafka'), 3.0),\n]"
    )
    assert [step.fault.code for step in faults.schedule(eval(schedule.code, {"faults": faults})).steps] == [
        "faults.down('producer', 'redis')",
        "faults.kill('kafka')",
    ]
