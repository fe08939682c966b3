"""Where every component of an environment listens, and the configs that follow from it.

A plan is pure data, computed from the topology and a list of free ports, so the layout
(Kafka listeners, proxies, service addresses) is unit-tested without starting anything.

Kafka gets one listener per proxied link, advertised at that link's proxy port: a client
that bootstraps through its proxy is told the proxy's address in every metadata response
(KIP-103: a broker answers with the endpoint of the listener the request arrived on), so
it never goes around the proxy. The INTERNAL listener is for the framework's observer and
inter-broker traffic, CONTROLLER for the KRaft quorum; neither is ever proxied.
"""

from __future__ import annotations

import base64
import os
import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from chaoskit.runtime.toxiproxy import ProxySpec
from chaoskit.topology import Link, Topology

HOST = "127.0.0.1"
KAFKA_HEAP = os.environ.get("CHAOSKIT_KAFKA_HEAP", "-Xms256m -Xmx1g")
# The broker logs to stdout, which the runtime sends to the component's log file.
KAFKA_LOG4J2 = """status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
"""


def addr(port: int) -> str:
    return f"{HOST}:{port}"


@dataclass(frozen=True)
class ProxyPlan:
    link: str
    proxy: str
    listen_port: int
    upstream_port: int

    def spec(self) -> ProxySpec:
        return ProxySpec(name=self.proxy, listen=addr(self.listen_port), upstream=addr(self.upstream_port))


@dataclass(frozen=True)
class Plan:
    """Ports of one environment. ``direct`` is the unproxied port of each component."""

    direct: dict[str, int]
    kafka_controller_port: int
    kafka_link_ports: dict[str, int]
    proxies: dict[str, ProxyPlan] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Plan:
        return cls(
            direct=dict(raw["direct"]),
            kafka_controller_port=int(raw["kafka_controller_port"]),
            kafka_link_ports=dict(raw["kafka_link_ports"]),
            proxies={k: ProxyPlan(**v) for k, v in raw["proxies"].items()},
        )

    @property
    def ports(self) -> list[int]:
        used = [*self.direct.values(), self.kafka_controller_port, *self.kafka_link_ports.values()]
        used += [p.listen_port for p in self.proxies.values()]
        return used

    def ports_of(self, component: str, kind: str) -> list[int]:
        """Every port ``component`` (of ``kind``) listens on: Kafka's INTERNAL, CONTROLLER
        and per-link listeners, Toxiproxy's API and every proxy, else its one port."""
        if kind == "kafka":
            return [self.direct[component], self.kafka_controller_port, *self.kafka_link_ports.values()]
        if kind == "toxiproxy":
            return [self.direct[component], *(p.listen_port for p in self.proxies.values())]
        return [self.direct[component]]


def ports_needed(topology: Topology) -> int:
    kafka = topology.of_kind("kafka")
    kafka_links = len(topology.links_to(kafka.name)) if kafka else 0
    return len(topology.components) + 1 + kafka_links + len(topology.links)


def make_plan(topology: Topology, ports: list[int]) -> Plan:
    """Assign ``ports`` (at least :func:`ports_needed` of them) to the topology."""
    if len(ports) < ports_needed(topology):
        raise ValueError(f"need {ports_needed(topology)} ports, got {len(ports)}")
    free = iter(ports)
    direct = {name: next(free) for name in topology.components}
    controller = next(free)
    kafka = topology.of_kind("kafka")
    kafka_name = kafka.name if kafka else None
    kafka_link_ports = {link.name: next(free) for link in topology.links if link.target == kafka_name}
    proxies: dict[str, ProxyPlan] = {}
    for link in topology.links:
        upstream = kafka_link_ports[link.name] if link.target == kafka_name else direct[link.target]
        proxies[link.name] = ProxyPlan(
            link=link.name, proxy=link.proxy_name, listen_port=next(free), upstream_port=upstream
        )
    return Plan(direct=direct, kafka_controller_port=controller, kafka_link_ports=kafka_link_ports, proxies=proxies)


def cluster_id() -> str:
    """A Kafka cluster id (base64url of a random UUID), without starting a JVM to make one."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def listener_name(link: Link | str) -> str:
    """A Kafka listener name for a link: upper-case letters, digits and underscores."""
    text = link.name if isinstance(link, Link) else link
    return "L_" + re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()


def kafka_properties(plan: Plan, kafka_name: str, log_dir: str) -> dict[str, str]:
    """server.properties for a single-node KRaft broker with one listener per proxied link."""
    internal = plan.direct[kafka_name]
    listeners = [f"INTERNAL://{addr(internal)}", f"CONTROLLER://{addr(plan.kafka_controller_port)}"]
    advertised = [f"INTERNAL://{addr(internal)}", f"CONTROLLER://{addr(plan.kafka_controller_port)}"]
    protocols = ["INTERNAL:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
    for link, port in plan.kafka_link_ports.items():
        name = listener_name(link)
        listeners.append(f"{name}://{addr(port)}")
        advertised.append(f"{name}://{addr(plan.proxies[link].listen_port)}")
        protocols.append(f"{name}:PLAINTEXT")
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.listener.names": "CONTROLLER",
        "controller.quorum.bootstrap.servers": addr(plan.kafka_controller_port),
        "listeners": ",".join(listeners),
        "advertised.listeners": ",".join(advertised),
        "listener.security.protocol.map": ",".join(protocols),
        "inter.broker.listener.name": "INTERNAL",
        "log.dirs": log_dir,
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "share.coordinator.state.topic.num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",
        # a restarted broker waits for its previous registration to expire (default 9 s)
        "broker.session.timeout.ms": "3000",
        "broker.heartbeat.interval.ms": "500",
        "auto.create.topics.enable": "false",
    }


def redis_arguments(bind: str, port: int, data_dir: str) -> list[str]:
    """redis-server's options: AOF persistence (what a wipe must lose), no RDB snapshots."""
    return [
        "--bind",
        bind,
        "--port",
        str(port),
        "--dir",
        data_dir,
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--protected-mode",
        "no",
    ]


def render_properties(props: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in props.items())


def resolve_template(value: str, client: str, plan: Plan, python: str) -> str:
    """Expand ``{python}``, ``{port}`` (the component's own port, also in $HTTP_PORT),
    ``{link:X}`` (this client's proxy to X) and ``{direct:X}``."""

    def sub(match: re.Match[str]) -> str:
        kind, target = match.group(1), match.group(2)
        if match.group(0) == "{port}":
            return str(plan.direct[client])
        if kind is None:
            return python
        if kind == "link":
            return addr(plan.proxies[f"{client}->{target}"].listen_port)
        return addr(plan.direct[target])

    return re.sub(r"\{(link|direct):([A-Za-z0-9_.-]+)\}|\{python\}|\{port\}", sub, value)
