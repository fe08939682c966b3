"""Fuzzed bad input: fault parameters, schedules, gate policies, CLI flags and pytest
options. Whatever is given, the answer is either a valid object or one ConfigError
paragraph naming what was wrong: never a traceback from deep inside, and (faults)
nothing touched, since the runtime here is only a topology."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaoskit import cli, pytest_plugin
from chaoskit.errors import ConfigError
from chaoskit.faults import Faults
from chaoskit.report.policy import parse_policy
from chaoskit.topology import load_topology

ROOT = Path(__file__).resolve().parents[3]
TOPOLOGY = load_topology(ROOT / "fixtures" / "topologies" / "minimal.yml")
NAMES = st.sampled_from(["producer", "consumer", "kafka", "redis", "toxiproxy", "kafak", "", "db", "producer->kafka"])
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
FAULT_KINDS = {
    "latency": ("ms", "jitter"),
    "bandwidth": ("kbps",),
    "timeout": ("ms",),
    "reset_peer": ("ms",),
    "slicer": ("average_size", "size_variation", "delay_us"),
    "limit_data": ("bytes",),
    "slow_close": ("ms",),
}
ONE_PARAGRAPH = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def faults() -> Faults:
    return Faults(SimpleNamespace(topology=TOPOLOGY))  # type: ignore[arg-type]


def assert_teaches(err: ConfigError) -> None:
    message = str(err)
    assert message and "\n" not in message.strip() and "Traceback" not in message


@ONE_PARAGRAPH
@given(kind=st.sampled_from(sorted(FAULT_KINDS)), client=NAMES, component=NAMES, data=st.data())
def test_network_fault_parameters(kind: str, client: str, component: str, data: st.DataObject) -> None:
    values = {name: data.draw(st.one_of(JUNK, st.integers(-5, 5000)), label=name) for name in FAULT_KINDS[kind]}
    extra = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                "direction": st.one_of(st.sampled_from(["upstream", "downstream", "both", "sideways"]), JUNK),
                "toxicity": st.one_of(st.floats(-1, 2), JUNK),
            },
        ),
        label="options",
    )
    try:
        fault = getattr(faults(), kind)(client, component, **values, **extra)
    except ConfigError as err:
        assert_teaches(err)
        return
    assert fault.name == kind and fault.target == f"{client}->{component}"


@ONE_PARAGRAPH
@given(
    kind=st.sampled_from(["kill", "stop", "pause", "restart", "down", "partition", "isolate", "broker_loss"]),
    args=st.lists(st.one_of(NAMES, JUNK), max_size=3),
)
def test_process_cut_and_loss_faults(kind: str, args: list[Any]) -> None:
    try:
        getattr(faults(), kind)(*args)
    except ConfigError as err:
        assert_teaches(err)
    except TypeError as err:  # a wrong number of arguments is Python's own, clear error
        assert kind in str(err) or "argument" in str(err)


@ONE_PARAGRAPH
@given(
    steps=st.lists(
        st.tuples(
            st.one_of(st.integers(-5, 30), JUNK),
            st.sampled_from(["latency", "down", "kill", "junk"]),
            st.one_of(st.integers(-5, 30), JUNK),
        ),
        max_size=4,
    )
    | st.one_of(JUNK, st.lists(JUNK, max_size=3))
)
def test_schedules(steps: Any) -> None:
    entry = faults()
    built = {
        "latency": lambda: entry.latency("producer", "kafka", ms=100),
        "down": lambda: entry.down("consumer", "kafka"),
        "kill": lambda: entry.kill("consumer"),
        "junk": lambda: "not a fault",
    }
    if isinstance(steps, list) and all(isinstance(s, tuple) and len(s) == 3 for s in steps):
        steps = [(at, built[kind](), duration) for at, kind, duration in steps]
    try:
        schedule = entry.schedule(steps)
    except ConfigError as err:
        assert_teaches(err)
        return
    assert not entry.active, "building a schedule must not inject anything"
    assert schedule is not None


@ONE_PARAGRAPH
@given(
    table=st.one_of(
        JUNK,
        st.dictionaries(
            st.sampled_from(
                ["required_severities", "required", "max_failed", "min_experiments", "max_failures", "severity"]
            ),
            st.one_of(
                JUNK, st.lists(st.sampled_from(["blocker", "critical", "normal", "urgent", "test_*", ""]), max_size=3)
            ),
            max_size=4,
        ),
    )
)
def test_gate_policies(table: Any) -> None:
    try:
        parse_policy(table, "pyproject.toml [tool.chaoskit.gate]")
    except ConfigError as err:
        assert_teaches(err)


@ONE_PARAGRAPH
@given(
    argv=st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "up",
                    "down",
                    "status",
                    "install",
                    "gate",
                    "report",
                    "run",
                    "launch",
                    "--all",
                    "--json",
                    "--runtime",
                    "docker",
                    "k8s",
                    "--topology",
                    "--policy",
                    "--bogus",
                    "-x",
                    "--results",
                ]
            ),
            st.text(max_size=5),
        ),
        max_size=4,
    )
)
def test_cli_flags(argv: list[str]) -> None:
    """The parser either accepts the flags or raises one ConfigError naming the problem
    (nothing is run here: only parsing, so no environment can be half-started)."""
    try:
        cli._parser().parse_known_args(argv)
    except ConfigError as err:
        assert_teaches(err)
    except SystemExit as exit_:  # --help
        assert exit_.code == 0


@ONE_PARAGRAPH
@given(
    runtime=st.one_of(st.none(), st.sampled_from(["process", "docker", "kubernetes", "", "PROCESS"])),
    seed=st.one_of(st.none(), st.integers(), st.text(max_size=6), st.floats(allow_nan=True)),
)
def test_pytest_options(runtime: Any, seed: Any) -> None:
    opts = {
        "--chaos-runtime": runtime,
        "--chaos-topology": None,
        "--chaos-seed": None if seed is None else str(seed),
        "--chaos-keep": None,
        "--load-workers": None,
    }
    ini = {
        "chaos_runtime": "process",
        "chaos_topology": "docker-compose.chaos.yml",
        "chaos_seed": "",
        "chaos_keep": False,
        "load_workers": "0",
    }
    config = SimpleNamespace(getoption=opts.__getitem__, getini=ini.__getitem__, rootpath=ROOT)
    try:
        options = pytest_plugin._options(config)  # type: ignore[arg-type]
    except ConfigError as err:
        assert_teaches(err)
        return
    assert options.runtime in pytest_plugin.RUNTIMES and isinstance(options.seed, int)
    assert not (isinstance(seed, float) and math.isnan(seed))
