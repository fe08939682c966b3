"""What every runtime derives from its environment record: the plan of ports, and from it
the endpoints (direct, or as a client reaches a component through its proxy), the
Toxiproxy API, and Kafka's observer listener. Both runtimes place components on the same
127.0.0.1 ports, so this is shared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaoskit.errors import ChaoskitError
from chaoskit.runtime.plan import HOST, Plan, addr
from chaoskit.runtime.state import EnvRecord
from chaoskit.runtime.toxiproxy import ToxiproxyAPI
from chaoskit.topology import Component, Topology


class PlannedRuntime:
    """Base of the runtimes: ``topology`` and ``record`` are set by the subclass."""

    topology: Topology
    record: EnvRecord | None

    @property
    def env_id(self) -> str:
        return self.env_record.id

    @property
    def env_record(self) -> EnvRecord:
        """The record of the environment this runtime controls; an error when it is not up."""
        if self.record is None:
            raise ChaoskitError("the environment is not up: call up() first")
        return self.record

    @property
    def plan(self) -> Plan:
        return Plan.from_json(self.env_record.plan)

    @property
    def dir(self) -> Path:
        return self.env_record.dir

    def endpoint(self, component: str, client: str | None = None) -> str:
        """``host:port`` of ``component``: direct, or as ``client`` reaches it (its proxy)."""
        self.topology.component(component)
        if client is None:
            return addr(self.plan.direct[component])
        link = self.topology.link(client, component)
        return addr(self.plan.proxies[link.name].listen_port)

    def endpoints(self, component: str) -> dict[str, str]:
        result = {"direct": self.endpoint(component)}
        for link in self.topology.links_to(component):
            result[link.name] = addr(self.plan.proxies[link.name].listen_port)
        return result

    @property
    def toxiproxy(self) -> ToxiproxyAPI:
        return ToxiproxyAPI(HOST, self.plan.direct[self._toxiproxy.name])

    def instances(self, component: str | None = None) -> dict[str, str]:
        """Instance name -> direct endpoint (extra instances of a service, e.g. canaries)."""
        return {
            name: addr(spec["port"])
            for name, spec in self.instance_specs.items()
            if component is None or spec["of"] == component
        }

    @property
    def instance_specs(self) -> dict[str, Any]:
        """The record's table of current instances: name -> ``of``, ``port``, ``env`` and
        what the backend keeps of it."""
        table: dict[str, Any] = self.env_record.extra.setdefault("instances", {})
        return table

    @property
    def kafka_bootstrap(self) -> str:
        """The INTERNAL listener: for observers and admin, never proxied."""
        return self.endpoint(self._kafka.name)

    @property
    def _toxiproxy(self) -> Component:
        tp = self.topology.of_kind("toxiproxy")
        assert tp is not None
        return tp

    @property
    def _kafka(self) -> Component:
        kafka = self.topology.of_kind("kafka")
        assert kafka is not None
        return kafka
