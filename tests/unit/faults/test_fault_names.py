"""A misspelt fault, keyword, component or link is an experiment error that teaches.

The runtime here is only a topology (nothing is running), so every refusal below comes
from validation against the topology: the same errors an experiment gets before any
fault touches its environment.
"""

from __future__ import annotations

import copy
import inspect
from pathlib import Path
from types import SimpleNamespace

import pytest

from chaoskit.errors import ConfigError
from chaoskit.faults import Faults, TargetError
from chaoskit.faults.factory import FAULT_NAMES
from chaoskit.faults.fault import Fault
from chaoskit.report.categories import EXPERIMENT_ERROR, categorize
from chaoskit.topology import load_topology

MINIMAL = Path(__file__).resolve().parents[3] / "fixtures" / "topologies" / "minimal.yml"


@pytest.fixture(scope="module")
def faults() -> Faults:
    return Faults(SimpleNamespace(topology=load_topology(MINIMAL)))  # type: ignore[arg-type]


def refused(call, *needles: str, kind: type[Exception] = ConfigError) -> str:
    with pytest.raises(kind) as info:
        call()
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


def test_a_misspelt_fault_names_the_close_one_and_lists_every_fault(faults):
    message = refused(lambda: faults.latnecy("producer", "kafka", 300), "unknown fault 'latnecy'")
    assert "(did you mean 'latency'?)" in message
    for name in FAULT_NAMES:
        assert name in message


def test_a_name_close_to_no_fault_gets_no_guess(faults):
    message = refused(lambda: faults.earthquake, "unknown fault 'earthquake'", "the faults are")
    assert "did you mean" not in message


def test_the_other_members_are_suggested_too(faults):
    refused(lambda: faults.heal, "(did you mean 'heal_all'?)", "heal_all", "schedule")


def test_the_unknown_fault_error_is_filed_as_input_rejected(faults):
    """The gate (exit 4) and the report read the exception's type name, as Allure records it."""
    with pytest.raises(ConfigError) as info:
        faults.latnecy  # noqa: B018
    category = categorize("broken", f"chaoskit.errors.{type(info.value).__name__}: {info.value}")
    assert category is not None and category.kind == EXPERIMENT_ERROR
    assert category.name.startswith("Experiment error: input rejected")


def test_private_names_keep_pythons_attribute_error(faults):
    """copy, pickle, pytest and mocks probe underscore names and expect AttributeError."""
    assert not hasattr(faults, "_nope")
    assert not hasattr(faults, "__wrapped__")
    assert copy.copy(faults).runtime is faults.runtime
    with pytest.raises(AttributeError, match="'Faults' object has no attribute '_nope'"):
        faults._nope  # noqa: B018


def test_fault_names_are_every_method_that_builds_a_fault():
    built = {
        name
        for name, member in vars(Faults).items()
        if inspect.isfunction(member)
        and not name.startswith("_")
        and isinstance(inspect.signature(member).return_annotation, str)
        and inspect.signature(member).return_annotation in {"ToxicFault", "Cut", "ProcessFault", "ComponentLoss"}
    }
    assert set(FAULT_NAMES) == built


@pytest.mark.parametrize(
    ("call", "needles"),
    [
        (
            lambda f: f.latency("producer", "kafka", milis=300),
            ["latency(milis=300)", "unknown parameter 'milis' (did you mean 'ms'?)", "jitter=0", "toxicity=1.0"],
        ),
        (
            lambda f: f.latency("producer", "kafka", 300, jiter=50),
            ["unknown parameter 'jiter' (did you mean 'jitter'?)"],
        ),
        (
            lambda f: f.bandwidth("producer", "kafka", kbps=10, directon="both"),
            ["unknown parameter 'directon' (did you mean 'direction'?)", "bandwidth(client, component, kbps"],
        ),
        (
            lambda f: f.slicer("producer", "kafka", 10, delay=5),
            ["unknown parameter 'delay' (did you mean 'delay_us'?)"],
        ),
        (lambda f: f.broker_loss(modes="cut"), ["unknown parameter 'modes' (did you mean 'mode'?)"]),
        (lambda f: f.schedule(step=[]), ["unknown parameter 'step' (did you mean 'steps'?)", "schedule(steps)"]),
        (
            lambda f: f.latency("producer", "kafka"),
            ["latency(): missing a required argument: 'ms'", "call it as latency(client, component, ms"],
        ),
        (lambda f: f.kill("producer", "kafka"), ["kill(): too many positional arguments", "kill(component)"]),
    ],
)
def test_arguments_that_do_not_fit_name_the_parameters(faults, call, needles):
    refused(lambda: call(faults), *needles)


def test_a_keyword_nothing_is_close_to_gets_no_guess(faults):
    message = refused(lambda: faults.kill("producer", violently=True), "unknown parameter 'violently'")
    assert "did you mean" not in message
    assert "kill(component)" in message


@pytest.mark.parametrize(
    ("call", "needles"),
    [
        (lambda f: f.kill("consumr"), ["kill('consumr')", "(did you mean 'consumer'?)", "consumer, kafka, producer"]),
        (lambda f: f.down("producer", "kafak"), ["(did you mean 'kafka'?)"]),
        (
            lambda f: f.latency("consumer", "redis", 10),
            ["no proxied link consumer->redis", "(did you mean 'producer->redis'?)", "the links are"],
        ),
        (lambda f: f.partition(["producer->redsi"]), ["(did you mean 'redis'?)"]),
        (lambda f: f.isolate("prodcer"), ["(did you mean 'producer'?)"]),
    ],
)
def test_misspelt_targets_are_target_errors_with_a_guess(faults, call, needles):
    refused(lambda: call(faults), *needles, kind=TargetError)


@pytest.mark.parametrize(
    ("call", "needles"),
    [
        (lambda f: f.broker_loss(mode="kil"), ["unknown mode (did you mean 'kill'?)", "'pause'"]),
        (lambda f: f.redis_loss(data="lots"), ["unknown data (did you mean 'lost'?)", "'kept'"]),
        (
            lambda f: f.latency("producer", "kafka", 10, direction="down"),
            ["unknown direction (did you mean 'downstream'?)", "'both'"],
        ),
    ],
)
def test_misspelt_choices_get_a_guess(faults, call, needles):
    refused(lambda: call(faults), *needles)


def test_the_check_keeps_each_methods_signature_and_docstring_for_help(faults):
    """The argument check wraps each method without hiding what ``help()`` shows."""
    assert str(inspect.signature(Faults.latency)).startswith("(self, client")
    assert "Delay data" in (Faults.latency.__doc__ or "")
    assert isinstance(faults.latency("producer", "kafka", 10), Fault)
