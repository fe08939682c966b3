"""The environment layout: Kafka listeners per link, proxies, templates, port use."""

from pathlib import Path

import pytest

from chaoskit.runtime.plan import (
    kafka_properties,
    listener_name,
    make_plan,
    ports_needed,
    render_properties,
    resolve_template,
)
from chaoskit.runtime.ports import PORT_RANGE, allocate_ports, port_is_free, release_ports
from chaoskit.topology import load_topology

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def topology():
    return load_topology(ROOT / "docker-compose.chaos.yml")


@pytest.fixture(scope="module")
def plan(topology):
    return make_plan(topology, list(range(21000, 21000 + ports_needed(topology))))


def test_every_port_is_used_once(topology, plan):
    assert len(plan.ports) == ports_needed(topology) == len(set(plan.ports))


def test_each_kafka_link_has_its_own_listener_advertised_at_its_proxy(topology, plan):
    props = kafka_properties(plan, "kafka", "/data")
    listeners = dict(item.split("://") for item in props["listeners"].split(","))
    advertised = dict(item.split("://") for item in props["advertised.listeners"].split(","))
    kafka_links = [link for link in topology.links if link.target == "kafka"]
    assert len(kafka_links) == 3
    for link in kafka_links:
        name = listener_name(link)
        proxy = plan.proxies[link.name]
        assert listeners[name] == f"127.0.0.1:{proxy.upstream_port}"
        assert advertised[name] == f"127.0.0.1:{proxy.listen_port}"
    assert listeners["INTERNAL"] == advertised["INTERNAL"] == f"127.0.0.1:{plan.direct['kafka']}"
    assert props["inter.broker.listener.name"] == "INTERNAL"
    protocols = props["listener.security.protocol.map"].split(",")
    assert sorted(p.split(":")[0] for p in protocols) == sorted(listeners)


def test_proxies_of_plain_tcp_components_point_at_their_direct_port(plan):
    redis_proxy = plan.proxies["workflow-service->redis"]
    assert redis_proxy.upstream_port == plan.direct["redis"]
    doc_proxy = plan.proxies["redriver->document-service"]
    assert doc_proxy.upstream_port == plan.direct["document-service"]
    assert doc_proxy.spec().name == "redriver--document-service"
    assert doc_proxy.spec().listen == f"127.0.0.1:{doc_proxy.listen_port}"


def test_templates_resolve_to_the_clients_own_proxy(plan):
    wf = resolve_template("redis://{link:redis}/0", "workflow-service", plan, "/py")
    rd = resolve_template("redis://{link:redis}/0", "redriver", plan, "/py")
    assert wf == f"redis://127.0.0.1:{plan.proxies['workflow-service->redis'].listen_port}/0"
    assert rd != wf
    assert resolve_template("{python} {port} {direct:kafka}", "redriver", plan, "/py") == (
        f"/py {plan.direct['redriver']} 127.0.0.1:{plan.direct['kafka']}"
    )


def test_properties_render_one_per_line(plan):
    text = render_properties(kafka_properties(plan, "kafka", "/d"))
    assert "process.roles=broker,controller\n" in text
    assert "auto.create.topics.enable=false\n" in text


def test_listener_names_are_valid_kafka_names():
    assert listener_name("order-service->kafka") == "L_ORDER_SERVICE_KAFKA"
    assert listener_name("a.b->kafka") == "L_A_B_KAFKA"


def test_allocated_ports_are_free_distinct_and_outside_the_ephemeral_range():
    ports = allocate_ports(20)
    more = allocate_ports(5)
    try:
        assert len(set(ports)) == 20
        assert all(PORT_RANGE[0] <= p <= PORT_RANGE[1] < 32768 for p in ports)
        assert all(port_is_free(p) for p in ports)
        assert not set(ports) & set(more)
    finally:
        release_ports(ports + more)


def test_ports_of_a_component_are_every_port_it_listens_on(topology, plan):
    kafka = plan.ports_of("kafka", "kafka")
    assert kafka == [plan.direct["kafka"], plan.kafka_controller_port, *plan.kafka_link_ports.values()]
    toxiproxy = plan.ports_of("toxiproxy", "toxiproxy")
    assert toxiproxy[0] == plan.direct["toxiproxy"]
    assert sorted(toxiproxy[1:]) == sorted(p.listen_port for p in plan.proxies.values())
    assert plan.ports_of("redis", "redis") == [plan.direct["redis"]]
    assert sorted(p for c in topology.components.values() for p in plan.ports_of(c.name, c.kind)) == sorted(plan.ports)
