"""One small class per component kind: what its container runs.

Every component listens on the port the plan assigns and is reached at 127.0.0.1 from
both the host and the other components (see ``docker.py`` for the two network modes), so
the commands, the Kafka listener-per-link config and the health probes are the process
runtime's (probed from the host, directly, never through a proxy). Only the address a
component binds differs: 127.0.0.1 on the host network, 0.0.0.0 in the shared network
namespace of the bridge mode, where published ports arrive on the container's interface.
The environment directory is bind-mounted at the same path, so config and data paths in
the plan are valid on both sides and the data outlives a container restart.

A service (the topology's own, or an extra instance of one, e.g. a canary) writes its
output straight to ``<env dir>/logs/<name>.log``, as a local process does: the file is
current at every moment and outlives the container, so a deploy's evidence can read a
removed canary's log, and a path taken early is still the whole log later. (``docker
logs`` of a service container is therefore empty; the file is its log.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from chaoskit.runtime.docker_images import Images
from chaoskit.runtime.plan import (
    HOST,
    KAFKA_HEAP,
    KAFKA_LOG4J2,
    Plan,
    cluster_id,
    kafka_properties,
    redis_arguments,
    render_properties,
    resolve_template,
)
from chaoskit.runtime.state import log_file
from chaoskit.topology import Component, Topology

# Formats the storage only when it is not formatted (first start, and after a wipe), so a
# restart keeps the log and costs no extra JVM start. The cluster id is read from a file
# so a wipe can give the fresh storage a new one, as the process runtime does.
_KAFKA_START = """set -e
if [ ! -f "$CHAOSKIT_KAFKA_DATA/meta.properties" ]; then
  "$CHAOSKIT_JAVA" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \\
    -Dlog4j2.configurationFile="$CHAOSKIT_KAFKA_CONF/log4j2.properties" -cp "$CHAOSKIT_KAFKA_LIBS/*" \\
    kafka.tools.StorageTool format --standalone --ignore-formatted \\
    --cluster-id="$(cat "$CHAOSKIT_KAFKA_CONF/cluster.id")" -c "$CHAOSKIT_KAFKA_CONF/server.properties"
fi
exec "$CHAOSKIT_JAVA" $CHAOSKIT_KAFKA_HEAP -XX:+UseSerialGC -Djava.awt.headless=true \\
  -Dlog4j2.configurationFile="$CHAOSKIT_KAFKA_CONF/log4j2.properties" -cp "$CHAOSKIT_KAFKA_LIBS/*" \\
  kafka.Kafka "$CHAOSKIT_KAFKA_CONF/server.properties"
"""


@dataclass(frozen=True)
class ContainerSpec:
    """What ``containers.create`` needs; ``binds`` maps a host path to its mode, mounted at
    the same path inside."""

    image: str
    argv: list[str]
    environment: dict[str, str] = field(default_factory=dict)
    binds: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None


class ComponentContainer:
    """A component of one environment, as a container."""

    def __init__(
        self, comp: Component, topology: Topology, plan: Plan, images: Images, env_dir: Path, bind: str = HOST
    ) -> None:
        self.comp = comp
        self.topology = topology
        self.plan = plan
        self.images = images
        self.env_dir = env_dir
        self.bind = bind

    @property
    def port(self) -> int:
        return self.plan.direct[self.comp.name]

    @property
    def data_dir(self) -> Path:
        return self.env_dir / "data" / self.comp.name

    def prepare(self) -> None:
        """Host-side files the container needs before it is created."""
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def spec(self) -> ContainerSpec:
        raise NotImplementedError


class KafkaContainer(ComponentContainer):
    """A single-node KRaft broker: a listener per proxied link (see plan.py)."""

    @property
    def conf_dir(self) -> Path:
        return self.env_dir / "kafka"

    def prepare(self) -> None:
        super().prepare()
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        props = kafka_properties(self.plan, self.comp.name, str(self.data_dir))
        # bind where the network mode needs it; advertised addresses stay 127.0.0.1:<port>
        props["listeners"] = props["listeners"].replace(f"://{HOST}:", f"://{self.bind}:")
        (self.conf_dir / "server.properties").write_text(render_properties(props))
        (self.conf_dir / "log4j2.properties").write_text(KAFKA_LOG4J2)
        if not (self.data_dir / "meta.properties").exists():
            # fresh storage (first start, or after a wipe) gets a fresh cluster id
            (self.conf_dir / "cluster.id").write_text(cluster_id())

    def spec(self) -> ContainerSpec:
        return ContainerSpec(
            image=self.images.kafka,
            argv=["/bin/sh", "-c", _KAFKA_START, "kafka"],
            environment={
                "CHAOSKIT_JAVA": self.images.java,
                "CHAOSKIT_KAFKA_LIBS": self.images.kafka_libs,
                "CHAOSKIT_KAFKA_CONF": str(self.conf_dir),
                "CHAOSKIT_KAFKA_DATA": str(self.data_dir),
                "CHAOSKIT_KAFKA_HEAP": KAFKA_HEAP,
            },
            binds={str(self.env_dir): "rw"},
        )


class RedisContainer(ComponentContainer):
    def spec(self) -> ContainerSpec:
        return ContainerSpec(
            image=self.images.redis,
            argv=["redis-server", *redis_arguments(self.bind, self.port, str(self.data_dir))],
            binds={str(self.env_dir): "rw"},
        )


class ToxiproxyContainer(ComponentContainer):
    def spec(self) -> ContainerSpec:
        return ContainerSpec(
            image=self.images.toxiproxy,
            argv=[self.images.toxiproxy_server, "-host", self.bind, "-port", str(self.port)],
            environment={"LOG_LEVEL": os.environ.get("CHAOSKIT_TOXIPROXY_LOG_LEVEL", "warn")},
        )


# ``exec`` keeps the service the init's direct child, so a stop's SIGTERM reaches it.
_LOG_TO_FILE = 'exec "$@" >>"$CHAOSKIT_LOG" 2>&1'


class ServiceContainer(ComponentContainer):
    """A service under test: its x-chaoskit command and env, templates resolved as the
    process runtime resolves them, ``{python}`` being the image's interpreter."""

    @property
    def name(self) -> str:
        """Its container's component name; also its ``SERVICE_NAME`` and Kafka client id."""
        return self.comp.name

    @property
    def overrides(self) -> Mapping[str, str]:
        return {}

    @property
    def log_file(self) -> Path:
        return log_file(self.env_dir, self.name)

    def prepare(self) -> None:
        super().prepare()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)

    def spec(self) -> ContainerSpec:
        python = self.images.python
        # ``{port}`` is the port this container listens on (an instance's own, not the service's)
        plan = replace(self.plan, direct={**self.plan.direct, self.comp.name: self.port})
        env = {key: resolve_template(value, self.comp.name, plan, python) for key, value in self.comp.env}
        env.update(
            {
                "HTTP_HOST": self.bind,
                "HTTP_PORT": str(self.port),
                "SERVICE_NAME": self.name,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.overrides)
        env["CHAOSKIT_LOG"] = str(self.log_file)
        source = str(self.topology.path.parent)
        argv = [resolve_template(part, self.comp.name, plan, python) for part in self.comp.command]
        binds = {str(self.log_file.parent): "rw"}
        if self.images.mount_source:
            binds[source] = "ro"
        return ContainerSpec(
            image=self.images.services[self.comp.name],
            argv=["/bin/sh", "-c", _LOG_TO_FILE, "sh", *argv],
            environment=env,
            binds=binds,
            working_dir=source if self.images.mount_source else None,
        )


class InstanceContainer(ServiceContainer):
    """One more process of a service (a canary, a second member): the service's command,
    environment and proxied links, with its own name, HTTP port, log and ``overrides``
    of the service's environment (``SERVICE_VERSION``, ``FAIL_RATE``...)."""

    def __init__(
        self,
        comp: Component,
        topology: Topology,
        plan: Plan,
        images: Images,
        env_dir: Path,
        bind: str = HOST,
        *,
        name: str,
        port: int,
        overrides: Mapping[str, str],
    ) -> None:
        super().__init__(comp, topology, plan, images, env_dir, bind)
        self._name = name
        self._port = port
        self._overrides = dict(overrides)

    @property
    def name(self) -> str:
        return self._name

    @property
    def port(self) -> int:
        return self._port

    @property
    def overrides(self) -> Mapping[str, str]:
        return self._overrides


_BY_KIND: dict[str, type[ComponentContainer]] = {
    "kafka": KafkaContainer,
    "redis": RedisContainer,
    "toxiproxy": ToxiproxyContainer,
    "service": ServiceContainer,
}


def container_for(
    comp: Component, topology: Topology, plan: Plan, images: Images, env_dir: Path, bind: str = HOST
) -> ComponentContainer:
    return _BY_KIND[comp.kind](comp, topology, plan, images, env_dir, bind)
