"""The docker runtime: the environment as containers, driven through the Docker Engine API.

The same topology, port plan and probes as the process runtime (``process.py``), with each
component in a container. Every component is reached at 127.0.0.1:<plan port>, from the
host and from the other components alike, so endpoints, per-link proxies and the Kafka
listener per link (advertised at its proxy's port) are identical, and network faults go
through Toxiproxy exactly as before. Container faults (stop, kill, pause, restart, wipe)
go through the API. Two network modes (``network=`` or ``CHAOSKIT_DOCKER_NETWORK``):

* ``host`` (default): the containers share the host's network; nothing is published.
* ``bridge``: for engines without host networking (Docker Desktop) or to keep the
  containers off the host's interfaces. A named user network (never the default
  ``bridge``: Podman's compat API cannot attach to it, podman#23453) holds one small
  container that owns the network namespace and publishes every plan port on the
  host's 127.0.0.1; the components join that namespace (``container:<holder>``), so
  127.0.0.1 means the same thing inside and out. Components bind 0.0.0.0 there, since
  published traffic arrives on the namespace's interface, not its loopback.

Extra instances of a service (``add_instance``: a canary, a second member) run as one
more container each, with the service's command, environment and proxied links (so a
link fault hits them too), their own HTTP port, log file and ``SERVICE_NAME``. In bridge
mode the namespace holder's published ports are fixed when it is created, so ``up``
reserves ``BRIDGE_INSTANCE_PORTS`` extra ports for instances; host mode takes a free
port per instance. A container name cannot hold ``#`` (``workflow-service#canary``):
it becomes ``.`` in the name (``chaoskit-<env>-workflow-service.canary``); the labels and
the environment record keep the real name.

The environment's life (order, health, proxies, instances, waiting for an old container to
be gone) is the orchestrator's (``orchestrator.py``); this module only creates, signals
and removes containers.

Podman's Docker-compatible API works as the engine (see ``podman.py`` and
``images/build.sh``).

Every container is labelled with its project, environment, component and owning run
(``docker_api.py``), so ``down`` removes exactly what this environment made, and a crashed
run's containers are swept at the next ``up`` even if their record is gone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from typing import Any, Unpack

import docker
from docker.errors import APIError, NotFound
from docker.models.containers import Container

from chaoskit.errors import ChaoskitError, ConfigError
from chaoskit.runtime import docker_api
from chaoskit.runtime.backend import SpawnError, Unit, UnitState
from chaoskit.runtime.docker_components import ComponentContainer, InstanceContainer, container_for
from chaoskit.runtime.docker_images import Images
from chaoskit.runtime.orchestrator import STOP_GRACE_S, Orchestrator, RuntimeOptions
from chaoskit.runtime.plan import HOST
from chaoskit.runtime.planned import PlannedRuntime
from chaoskit.runtime.ports import allocate_ports
from chaoskit.runtime.state import EnvRecord, all_records, state_root
from chaoskit.topology import Topology

# Each poll of a container's state is an API call; 0.2 s keeps a 2-core machine's
# engine (podman runs one process per call) out of the way of the components.
POLL_S = 0.2
_UP = ("running", "paused")
NETWORK_MODES = ("host", "bridge")
# Ports the bridge mode's namespace holder publishes for instances: at most this many
# instances run at once in a bridge-mode environment (a canary deploy needs one per
# stable member, a rolling deploy one more than that).
BRIDGE_INSTANCE_PORTS = 8


class DockerRuntime(Orchestrator):
    """Runs one environment of a topology as containers."""

    name = "docker"
    backend: DockerBackend

    default_start_timeout_s = 120.0

    def __init__(
        self,
        topology: Topology,
        *,
        images: Images | None = None,
        client: docker.DockerClient | None = None,
        network: str | None = None,
        **options: Unpack[RuntimeOptions],
    ) -> None:
        super().__init__(topology, **options)
        self.backend = DockerBackend(self, images=images, client=client, network=network)

    @property
    def network(self) -> str:
        return self.backend.network


class DockerBackend:
    """Creates, signals and removes the containers of one environment (see ``backend.py``)."""

    name = "docker"
    poll_s = POLL_S

    def __init__(
        self,
        env: PlannedRuntime,
        *,
        images: Images | None = None,
        client: docker.DockerClient | None = None,
        network: str | None = None,
    ) -> None:
        network = network or os.environ.get("CHAOSKIT_DOCKER_NETWORK", "").strip() or "host"
        if network not in NETWORK_MODES:
            raise ConfigError(
                f"docker network mode {network!r} (CHAOSKIT_DOCKER_NETWORK) is not one; "
                f"allowed: {', '.join(NETWORK_MODES)}"
            )
        self.env = env
        self._network = network
        self._images = images
        self._client = client

    @property
    def network(self) -> str:
        """The mode asked for; an attached environment's, from its record."""
        if self.env.record is not None:
            return str(self.env.record.extra.get("network", "host"))
        return self._network

    @property
    def bind_host(self) -> str:
        return HOST if self.network == "host" else "0.0.0.0"

    @property
    def host_ports(self) -> bool:
        """In bridge mode the namespace holder publishes every port for as long as it runs."""
        return self.network == "host"

    @property
    def reserved_instance_ports(self) -> int:
        return BRIDGE_INSTANCE_PORTS if self.network == "bridge" else 0

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker_api.connect()
        return self._client

    @property
    def images(self) -> Images:
        if self._images is None:
            self._images = Images.from_json(self._rec.extra["images"])
        return self._images

    def prepare(self) -> None:
        sweep_orphans(self.client)
        images = self._images or Images.from_env(self.env.topology, self.client)
        images.ensure(self.client, self.env.topology)
        self._images = images

    def record_extra(self) -> dict[str, Any]:
        return {"images": self.images.to_json(), "network": self.network}

    def open(self) -> None:
        """The bridge mode's named network and the container that owns the shared network
        namespace, publishing every plan port on the host's 127.0.0.1."""
        if self.network != "bridge":
            return
        name = f"chaoskit-{self._rec.id}"
        published = [*self.env.plan.ports, *self._rec.extra.get("instance_ports", [])]
        try:
            self.client.networks.create(name, driver="bridge", labels=self._labels(docker_api.NETNS))
            holder = self.client.containers.create(
                self.images.kafka,  # any image with a shell; Kafka's is there anyway
                entrypoint=["/bin/sh"],
                command=["-c", "while :; do sleep 3600; done"],
                name=self._container_name(docker_api.NETNS),
                labels=self._labels(docker_api.NETNS),
                network=name,
                ports={f"{port}/tcp": (HOST, port) for port in published},
                init=True,
            )
            holder.start()
        except APIError as err:
            raise ChaoskitError(f"the docker runtime could not set up network {name} (bridge mode): {err}") from None

    def spawn(self, unit: Unit) -> None:
        """Start the unit's container, creating it first if it does not exist."""
        definition = self._definition(unit)
        definition.prepare()
        container = self._container(unit.name) or self._create(unit.name, definition)
        try:
            container.start()
        except APIError as err:
            raise SpawnError(f"the engine could not start its container: {err}") from None

    def stop(self, name: str, grace_s: float) -> None:
        container = self._container(name)
        if container is None:
            return
        if container.status == "paused":
            container.unpause()  # a frozen process cannot act on SIGTERM
        if container.status in _UP:
            container.stop(timeout=int(grace_s))

    def kill(self, name: str) -> None:
        container = self._container(name)
        if container is None or container.status not in _UP:
            return
        container.kill()  # a paused one too: the engines thaw it once the SIGKILL is sent
        container.wait(timeout=STOP_GRACE_S)

    def pause(self, name: str) -> None:
        """Freeze the container (cgroup freezer)."""
        container = self._container(name)
        if container is not None and container.status == "running":
            container.pause()

    def resume(self, name: str) -> None:
        container = self._container(name)
        if container is not None and container.status == "paused":
            container.unpause()

    def state(self, name: str) -> UnitState:
        container = self._container(name)
        if container is None or container.status not in _UP:
            return "gone"
        return "paused" if container.status == "paused" else "running"

    def pid(self, name: str) -> int | None:
        """The running container's main process, as the host sees it."""
        container = self._container(name)
        if container is None or container.status != "running":
            return None
        return container.attrs.get("State", {}).get("Pid") or None

    def exit_reason(self, name: str) -> str | None:
        container = self._container(name)
        if container is None:
            return "its container is gone"
        if container.status in ("exited", "dead", "stopped"):
            code = container.attrs.get("State", {}).get("ExitCode")
            return f"the container exited with code {code}"
        return None

    def engine_logs(self, name: str) -> str | None:
        """What the container wrote so far ("" if it has none, or the engine cannot say)."""
        container = self._container(name)
        try:
            return container.logs(stdout=True, stderr=True).decode(errors="replace") if container else ""
        except APIError:
            return ""

    def instance_port(self) -> tuple[int, list[int]]:
        """A free one on the host network; one of the holder's published spares in bridge mode."""
        if self.network == "host":
            allocated = allocate_ports(1)
            return allocated[0], allocated
        specs = self.env.instance_specs
        used = {spec["port"] for spec in specs.values()}
        reserved = self._rec.extra.get("instance_ports", [])
        spare = [port for port in reserved if port not in used]
        if not spare:
            raise ChaoskitError(
                f"bridge-mode environment {self._rec.id} has no free instance port: its namespace holder publishes "
                f"{len(reserved)} for instances, used by {', '.join(specs) or 'none'}; remove an instance "
                "first, or use the host network mode (CHAOSKIT_DOCKER_NETWORK=host)"
            )
        return spare[0], []

    def new_instance(self, instance: str) -> dict[str, Any]:
        """Its container's name: ``#`` is not allowed there, so ``.`` instead, and a short
        hash when that alone would collide with another container of this environment."""
        name = f"chaoskit-{self._rec.id}-{instance.replace('#', '.')}"
        taken = {self._container_name(c) for c in self.env.topology.components}
        taken |= {spec["container"] for spec in self.env.instance_specs.values()}
        if name in taken:
            name += "-" + hashlib.sha1(instance.encode()).hexdigest()[:8]
        return {"container": name}

    def forget(self, name: str) -> None:
        container = self._container(name)
        if container is not None:
            docker_api.remove([container])

    def remove(self, record: EnvRecord) -> None:
        docker_api.remove(docker_api.containers(self.client, record.id))
        docker_api.remove_networks(self.client, record.id)

    # -- internals ------------------------------------------------------------------------
    @property
    def _rec(self) -> EnvRecord:
        return self.env.env_record

    def _definition(self, unit: Unit) -> ComponentContainer:
        """What the unit's container runs."""
        env = self.env
        if not unit.is_instance:
            return container_for(unit.comp, env.topology, env.plan, self.images, env.dir, self.bind_host)
        return InstanceContainer(
            unit.comp,
            env.topology,
            env.plan,
            self.images,
            env.dir,
            self.bind_host,
            name=unit.name,
            port=unit.port,
            overrides=unit.overrides,
        )

    def _container_name(self, name: str) -> str:
        """The container of a component, an instance (its recorded name) or the namespace holder."""
        spec = self.env.instance_specs.get(name)
        return spec["container"] if spec else f"chaoskit-{self._rec.id}-{name}"

    def _container(self, name: str) -> Container | None:
        try:
            return self.client.containers.get(self._container_name(name))
        except NotFound:
            return None

    def _labels(self, name: str) -> dict[str, str]:
        spec = self.env.instance_specs.get(name)
        return docker_api.labels_for(
            self.env.topology.name,
            self._rec.id,
            name,
            self._rec.owner,
            self._rec.keep,
            instance_of=spec["of"] if spec else None,
        )

    def _create(self, name: str, definition: ComponentContainer) -> Container:
        spec = definition.spec()
        shared = "host" if self.network == "host" else f"container:{self._container_name(docker_api.NETNS)}"
        try:
            return self.client.containers.create(
                spec.image,
                entrypoint=spec.argv[:1],
                command=spec.argv[1:],
                name=self._container_name(name),
                labels=self._labels(name),
                environment=spec.environment,
                network_mode=shared,
                # an init as PID 1, so the component gets a process's signal semantics: as
                # PID 1 itself a program without a SIGTERM handler would ignore `stop`
                init=True,
                # files the container writes in the bind-mounted env dir stay removable by us
                user=f"{os.getuid()}:{os.getgid()}",
                working_dir=spec.working_dir,
                volumes={path: {"bind": path, "mode": mode} for path, mode in spec.binds.items()},
            )
        except APIError as err:
            raise SpawnError(f"the engine could not create its container: {err}") from None


def sweep_orphans(client: docker.DockerClient | None = None) -> list[str]:
    """Remove every docker environment whose owning run died (and is not kept): its
    containers, found by label, and its directory. Returns their ids."""
    client = client or docker_api.connect()
    swept = {
        env_id for env_id, found in docker_api.by_environment(client).items() if docker_api.orphaned(found[0].labels)
    }
    swept |= {r.id for r in all_records() if r.runtime == DockerRuntime.name and r.orphaned()}
    for env_id in sorted(swept):
        docker_api.remove(docker_api.containers(client, env_id))
        docker_api.remove_networks(client, env_id)
        shutil.rmtree(state_root() / env_id, ignore_errors=True)
    return sorted(swept)


def down_all(client: docker.DockerClient | None = None) -> list[str]:
    """Remove every container and network chaoskit labelled, kept or not, and every docker environment's
    directory. Returns the environment ids."""
    client = client or docker_api.connect()
    ids = set(docker_api.by_environment(client))
    ids |= {r.id for r in all_records() if r.runtime == DockerRuntime.name}
    docker_api.remove(docker_api.containers(client))
    docker_api.remove_networks(client)
    for env_id in ids:
        shutil.rmtree(state_root() / env_id, ignore_errors=True)
    return sorted(ids)
