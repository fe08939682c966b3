"""Reading the compose file: the reference topology, and bad input that must be refused
with an error naming the field, the value and what is allowed."""

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from chaoskit.errors import ConfigError
from chaoskit.topology import load_topology, parse_topology

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = yaml.safe_load((ROOT / "docker-compose.chaos.yml").read_text())


def parse(doc):
    return parse_topology(doc, Path("/x/docker-compose.chaos.yml"))


def test_reference_topology():
    topo = load_topology(ROOT / "docker-compose.chaos.yml")
    assert {c.name for c in topo.services} == {"order-service", "document-service", "workflow-service", "redriver"}
    assert topo.of_kind("kafka").name == "kafka"
    assert topo.link("workflow-service", "kafka").proxy_name == "workflow-service--kafka"
    assert topo.topics["documents.dlq"] == 3
    order = [c.name for c in topo.start_order()]
    assert order.index("document-service") < order.index("workflow-service")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["services"]["redis"]["x-chaoskit"].update(kind="memcached"), "services.redis.x-chaoskit.kind"),
        (lambda d: d["services"]["redis"]["x-chaoskit"].update(colour="red"), "colour"),
        (lambda d: d["x-chaoskit"]["links"].append("order-service->kafak"), "'kafak'"),
        (lambda d: d["x-chaoskit"]["links"].append("order-service=>kafka"), "client->component"),
        (lambda d: d["x-chaoskit"]["links"].append("kafka->redis"), "must be a service under test"),
        (lambda d: d["x-chaoskit"].update(topics=["documents.requested"]), "x-chaoskit.topics"),
        (lambda d: d["x-chaoskit"]["topics"].update(t={"partitions": 0}), "x-chaoskit.topics.t.partitions"),
        (
            lambda d: d["services"]["order-service"]["x-chaoskit"]["env"].update(X="{link:redis}"),
            "no 'order-service->redis'",
        ),
        (lambda d: d["services"]["order-service"]["x-chaoskit"]["env"].update(X="{lnk:redis}"), "{lnk:redis}"),
        (lambda d: d["services"]["order-service"]["x-chaoskit"].pop("command"), "command is required"),
        (lambda d: d["services"]["toxiproxy"].pop("x-chaoskit"), "services.toxiproxy has no 'x-chaoskit'"),
        (lambda d: d["services"]["order-service"].update(depends_on=["nope"]), "'nope'"),
        (lambda d: d["services"]["redis"]["x-chaoskit"].update(kind="kafka"), "exactly one is allowed"),
        (lambda d: d["services"]["order-service"]["x-chaoskit"].update(health="health"), "starting with '/'"),
        (lambda d: d.update(services={}), "'services' must be a non-empty mapping"),
        (lambda d: d["services"]["redis"].pop("image"), "services.redis: needs image or build"),
        (lambda d: d["services"]["order-service"].pop("build"), "services.order-service: needs image or build"),
        (lambda d: d["services"]["kafka-init"].pop("image"), "services.kafka-init: needs image or build"),
        (lambda d: d["services"]["redis"].update(image=""), "services.redis.image must be an image name"),
        (lambda d: d["services"]["order-service"].update(build=["."]), "services.order-service.build must be"),
    ],
)
def test_bad_topology_names_the_field(mutate, expected):
    doc = copy.deepcopy(REFERENCE)
    mutate(doc)
    with pytest.raises(ConfigError) as info:
        parse(doc)
    assert expected in str(info.value)


def test_depends_on_cycle_is_named():
    doc = copy.deepcopy(REFERENCE)
    doc["services"]["document-service"]["depends_on"] = ["workflow-service"]
    with pytest.raises(ConfigError, match="cycle: .*workflow-service.*document-service"):
        parse(doc)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_topology(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("services: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_topology(bad)


_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_paths = st.sampled_from(
    [
        ("x-chaoskit",),
        ("x-chaoskit", "links"),
        ("x-chaoskit", "topics"),
        ("services",),
        ("services", "kafka"),
        ("services", "order-service", "x-chaoskit"),
        ("services", "order-service", "x-chaoskit", "env"),
        ("services", "order-service", "x-chaoskit", "kind"),
        ("services", "order-service", "depends_on"),
        ("services", "redis", "x-chaoskit", "command"),
        ("services", "redis", "image"),
        ("services", "order-service", "build"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(path=_paths, junk=_junk)
def test_fuzzed_topologies_fail_only_with_config_errors(path, junk):
    """Whatever is put anywhere, the reader either accepts it or raises ConfigError: never
    a traceback from deep inside."""
    doc = copy.deepcopy(REFERENCE)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = junk
    try:
        parse(doc)
    except ConfigError as err:
        assert str(err).startswith("invalid topology")


SHIPPED = [
    ROOT / "docker-compose.chaos.yml",
    *sorted((ROOT / "fixtures" / "topologies").glob("*.yml")),
    ROOT / "fixtures" / "broken" / "topology.yml",
]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_topologies_load(path):
    """The stricter checks (image or build, as Compose requires) refuse none of ours."""
    assert load_topology(path).components


def test_extends_may_bring_the_image_as_in_compose():
    doc = copy.deepcopy(REFERENCE)
    del doc["services"]["redriver"]["build"]
    doc["services"]["redriver"]["extends"] = {"service": "workflow-service"}
    assert parse(doc).component("redriver").kind == "service"


@pytest.mark.parametrize(
    ("mutate", "needles"),
    [
        (
            lambda d: d["services"]["order-service"]["x-chaoskit"].update(comand=["x"]),
            ["services.order-service.x-chaoskit.comand", "(did you mean 'command'?)", "kind, command, health, env"],
        ),
        (
            lambda d: d["x-chaoskit"]["topics"]["documents.dlq"].update(partitons=2),
            ["x-chaoskit.topics.documents.dlq.partitons", "(did you mean 'partitions'?)", "partitions, role"],
        ),
        (
            lambda d: d["x-chaoskit"].update(link=[]),
            ["x-chaoskit.link", "(did you mean 'links'?)", "topics, links"],
        ),
        (
            lambda d: d["services"]["workflow-service"].update(depends_on=["documnet-service"]),
            ["'documnet-service'", "(did you mean 'document-service'?)", "the services are"],
        ),
        (
            lambda d: d["x-chaoskit"]["links"].append("redriver->kafak"),
            ["'kafak'", "(did you mean 'kafka'?)", "the services are"],
        ),
    ],
)
def test_a_misspelt_name_gets_a_did_you_mean(mutate, needles):
    doc = copy.deepcopy(REFERENCE)
    mutate(doc)
    with pytest.raises(ConfigError) as info:
        parse(doc)
    for needle in needles:
        assert needle in str(info.value)


def test_unknown_components_and_links_suggest_the_close_one_and_list_all():
    topo = parse(copy.deepcopy(REFERENCE))
    with pytest.raises(ConfigError) as info:
        topo.component("ordr-service")
    assert "unknown component 'ordr-service' (did you mean 'order-service'?)" in str(info.value)
    assert "document-service, kafka, order-service" in str(info.value)
    with pytest.raises(ConfigError) as info:
        topo.link("order-service", "redis")
    assert "no proxied link order-service->redis" in str(info.value)
    assert "(did you mean 'workflow-service->redis'?)" in str(info.value)
    assert "the links are: " in str(info.value)
    with pytest.raises(ConfigError) as info:
        topo.component("zzz")
    assert "did you mean" not in str(info.value)
