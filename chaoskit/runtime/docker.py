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

Podman's Docker-compatible API works as the engine (see ``podman.py`` and
``images/build.sh``).

Every container is labelled with its project, environment, component and owning run
(``docker_api.py``), so ``down`` removes exactly what this environment made, and a crashed
run's containers are swept at the next ``up`` even if their record is gone.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, NotFound
from docker.models.containers import Container

from chaoskit.errors import ChaoskitError, ComponentStartError, ConfigError
from chaoskit.runtime import docker_api, health
from chaoskit.runtime.docker_components import (
    ComponentContainer,
    InstanceContainer,
    KafkaContainer,
    container_for,
    log_file,
)
from chaoskit.runtime.docker_images import Images
from chaoskit.runtime.plan import HOST, addr, make_plan, ports_needed
from chaoskit.runtime.planned import PlannedRuntime
from chaoskit.runtime.ports import allocate_ports, release_ports
from chaoskit.runtime.state import (
    EnvRecord,
    ProcessRecord,
    all_records,
    new_env_id,
    state_root,
)
from chaoskit.runtime.topics import create_topics
from chaoskit.runtime.toxiproxy import ProxySpec
from chaoskit.topology import Component, Topology

STOP_GRACE_S = 10
# Each poll of a container's state is an API call; 0.2 s keeps a 2-core machine's
# engine (podman runs one process per call) out of the way of the components.
POLL_S = 0.2
_UP = ("running", "paused")
NETWORK_MODES = ("host", "bridge")
# Ports the bridge mode's namespace holder publishes for instances: at most this many
# instances run at once in a bridge-mode environment (a canary deploy needs one per
# stable member, a rolling deploy one more than that).
BRIDGE_INSTANCE_PORTS = 8
_INSTANCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.#-]{0,127}")


class DockerRuntime(PlannedRuntime):
    """Runs one environment of a topology as containers."""

    name = "docker"

    def __init__(
        self,
        topology: Topology,
        *,
        owner_pid: int | None = None,
        keep: bool = False,
        start_timeout_s: float = 120.0,
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
        self.network = network
        self.topology = topology
        self.owner_pid = owner_pid
        self.keep = keep
        self.start_timeout_s = start_timeout_s
        self.record: EnvRecord | None = None
        self._images = images
        self._client = client

    # -- identity -------------------------------------------------------------------------
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

    @classmethod
    def attach(cls, record: EnvRecord, topology: Topology) -> DockerRuntime:
        """Control an environment another process started (the CLI's status and down)."""
        runtime = cls(topology, keep=record.keep, network=record.extra.get("network", "host"))
        runtime.record = record
        return runtime

    def container_name(self, component: str) -> str:
        """The container of a component, an instance (its recorded name) or the namespace holder."""
        spec = self._instances.get(component) if self.record is not None else None
        return spec["container"] if spec else f"chaoskit-{self.env_id}-{component}"

    def logs(self, component: str) -> str:
        """What the component (or instance) wrote so far: a service's log file, another
        component's container output ("" if it has no container)."""
        if self._is_service(component):
            path = self._log_file(component)
            return path.read_text(errors="replace") if path.exists() else ""
        container = self._container(component)
        if container is None:
            return ""
        return container.logs(stdout=True, stderr=True).decode(errors="replace")

    def log_path(self, component: str) -> Path:
        """``<env dir>/logs/<name>.log``. A service or instance writes it itself (current at
        every moment, kept after its container is gone); for Kafka, Redis and Toxiproxy the
        engine keeps the log, and it is written to the file when someone asks for it."""
        path = self._log_file(component)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self._is_service(component):
            path.write_text(self.logs(component))
        return path

    def service_logs(self) -> list[Path]:
        """The log of every service under test, and of every instance ever added to one
        (a canary's log outlives the canary: its events are part of the history)."""
        found = [self.log_path(c.name) for c in self.topology.services]
        ever = self._rec.extra.get("instance_logs", {})
        for comp in self.topology.services:
            found += sorted(self._log_file(name) for name, of in ever.items() if of == comp.name)
        return found

    def _log_file(self, component: str) -> Path:
        if component not in self._rec.extra.get("instance_logs", {}):
            self.topology.component(component)
        return log_file(self.dir, component)

    def _is_service(self, name: str) -> bool:
        """A service under test or an instance of one (ever added): they log to their file."""
        return name in self._rec.extra.get("instance_logs", {}) or self.topology.component(name).kind == "service"

    # -- lifecycle ------------------------------------------------------------------------
    def up(self) -> None:
        """Create and start every container, wait until all are healthy. On any failure,
        remove what was made and raise (a ComponentStartError names the component)."""
        sweep_orphans(self.client)
        images = self._images or Images.from_env(self.topology, self.client)
        images.ensure(self.client, self.topology)
        self._images = images
        needed = ports_needed(self.topology)
        ports = allocate_ports(needed + (BRIDGE_INSTANCE_PORTS if self.network == "bridge" else 0))
        plan = make_plan(self.topology, ports[:needed])
        self.record = EnvRecord(
            id=new_env_id(),
            runtime=self.name,
            topology=str(self.topology.path),
            created=time.time(),
            owner=ProcessRecord.of(self.owner_pid) if self.owner_pid else None,
            keep=self.keep,
            plan=plan.to_json(),
            extra={"images": images.to_json(), "network": self.network, "instance_ports": ports[needed:]},
        )
        self.record.save()
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        try:
            if self.network == "bridge":
                self._start_network()
            self._start_infrastructure()
            self._start_services()
        except BaseException:
            self.down()
            raise
        finally:
            release_ports(ports)

    def _start_infrastructure(self) -> None:
        tp = self.topology.of_kind("toxiproxy")
        rd = self.topology.of_kind("redis")
        assert tp is not None
        for comp in (self._kafka, tp, rd):
            if comp is not None:
                self._run(comp.name)
        self._wait_healthy(tp.name)
        self.toxiproxy.populate(self._proxy_specs())
        self._wait_healthy(self._kafka.name)
        self._create_topics()
        self._verify_kafka_links()
        if rd is not None:
            self._wait_healthy(rd.name)

    def _start_services(self) -> None:
        order = self.topology.start_order()
        for comp in order:
            self._run(comp.name)
        with ThreadPoolExecutor(max_workers=max(1, len(order))) as pool:
            for future in [pool.submit(self._wait_healthy, comp.name) for comp in order]:
                future.result()

    def down(self) -> None:
        """Remove every container of this environment (by label) and its directory."""
        if self.record is None:
            return
        docker_api.remove(docker_api.containers(self.client, self.record.id))
        docker_api.remove_networks(self.client, self.record.id)
        shutil.rmtree(self.record.dir, ignore_errors=True)
        self.record = None

    def reset(self) -> None:
        """Between experiments: every component running (Toxiproxy first: the rest of the
        reset goes through it), every proxy enabled, no toxics, no extra instances."""
        tp = self.topology.of_kind("toxiproxy")
        assert tp is not None
        self._bring_back(tp.name)
        self.toxiproxy.reset()
        for instance in list(self._instances):
            self.remove_instance(instance, graceful=False)
        for comp in self._infra_then_services():
            if comp.kind != "toxiproxy":
                self._bring_back(comp.name)

    def _bring_back(self, component: str) -> None:
        container = self._container(component)
        if container is not None and container.status == "paused":
            self.resume(component)
        elif container is None or container.status != "running":
            self.start(component)

    def _infra_then_services(self) -> list[Component]:
        infra = [c for c in self.topology.components.values() if c.kind != "service"]
        return [*infra, *self.topology.start_order()]

    # -- container control ----------------------------------------------------------------
    def start(self, component: str) -> None:
        """Start the component's (or instance's) container (re-created if it was removed),
        wait until healthy."""
        unit = self._unit_of(component)
        container = self._container(component)
        if container is not None and container.status in _UP:
            return
        self._run(component, container)
        self._wait_healthy(component)
        if unit.comp.kind == "toxiproxy":
            # Toxiproxy keeps its proxies in memory: a restarted one starts with none.
            self.toxiproxy.populate(self._proxy_specs())

    def stop(self, component: str) -> None:
        """SIGTERM (a graceful shutdown), SIGKILL after a grace period."""
        self._set_desired(component, "stopped")
        container = self._container(component)
        if container is None:
            return
        if container.status == "paused":
            container.unpause()  # a frozen process cannot act on SIGTERM
        if container.status in _UP:
            container.stop(timeout=STOP_GRACE_S)

    def kill(self, component: str) -> None:
        """SIGKILL the container's processes: a crash, no shutdown hooks."""
        self._set_desired(component, "stopped")
        container = self._container(component)
        if container is None or container.status not in _UP:
            return
        container.kill()  # a paused one too: the engines thaw it once the SIGKILL is sent
        container.wait(timeout=STOP_GRACE_S)

    def pause(self, component: str) -> None:
        """Freeze the container (cgroup freezer): its sockets stay open, nothing answers,
        as with a hung process."""
        self._check_name(component)
        self._require_running(component).pause()
        self._set_desired(component, "paused")

    def resume(self, component: str) -> None:
        self._check_name(component)
        container = self._container(component)
        if container is None or container.status not in _UP:
            raise ChaoskitError(f"{component} is not running in environment {self.env_id}")
        if container.status == "paused":
            container.unpause()
        self._set_desired(component, "running")

    def restart(self, component: str) -> None:
        self.stop(component)
        self.start(component)

    def wipe(self, component: str) -> None:
        """Kill a stateful component, delete its data, start it fresh (Kafka re-formatted
        with a new cluster id, topics re-created)."""
        comp = self.topology.component(component)
        if comp.kind not in ("kafka", "redis"):
            raise ChaoskitError(f"wipe applies to kafka and redis, not {component!r} (kind {comp.kind})")
        self.kill(component)
        unit = self._unit(comp)
        shutil.rmtree(unit.data_dir, ignore_errors=True)
        unit.data_dir.mkdir(parents=True, exist_ok=True)
        if isinstance(unit, KafkaContainer):
            unit.new_cluster_id()
        self.start(component)
        if comp.kind == "kafka":
            self._create_topics()

    # -- instances ------------------------------------------------------------------------
    def add_instance(self, component: str, instance: str, env: dict[str, str] | None = None) -> str:
        """Run one more container of a service (e.g. a canary of workflow-service) next to it.

        The instance shares the service's links (its traffic goes through the same proxies,
        so link faults hit it too), gets its own HTTP port, log and ``SERVICE_NAME``, and
        ``env`` overrides the service's environment (``SERVICE_VERSION``, ``FAIL_RATE``...).
        Returns its direct endpoint once healthy; if it does not get healthy, it is removed
        and a ComponentStartError names it, with its log's tail.
        """
        comp = self.topology.component(component)
        if comp.kind != "service":
            raise ChaoskitError(f"instances are for services under test; {component!r} is kind {comp.kind}")
        if not isinstance(instance, str) or not _INSTANCE_NAME.fullmatch(instance):
            raise ConfigError(
                f"instance name {instance!r} is not valid: up to 128 of letters, digits, '_', '.', '#', '-', "
                "starting with a letter or digit (e.g. 'workflow-service#canary')"
            )
        if instance in self.topology.components or instance in self._instances:
            raise ChaoskitError(f"an instance or component named {instance!r} already exists")
        overrides = dict(env or {})
        bad = sorted(key for key, value in overrides.items() if not isinstance(key, str) or not isinstance(value, str))
        if bad:
            raise ConfigError(f"env of instance {instance!r}: names and values must be strings; not so for {bad}")
        port, allocated = self._instance_port()
        try:
            self._instances[instance] = {
                "of": component,
                "port": port,
                "env": overrides,
                "container": self._new_container_name(instance),
            }
            self._rec.extra.setdefault("instance_logs", {})[instance] = component
            self._rec.save()
            self._run(instance)
            self._wait_healthy(instance)
        except BaseException:
            if instance in self._instances:
                self.remove_instance(instance, graceful=False)
            raise
        finally:
            release_ports(allocated)
        return addr(port)

    def remove_instance(self, instance: str, graceful: bool = True) -> None:
        """Stop an instance (SIGTERM, or SIGKILL when not graceful), remove its container
        and forget it; its log file stays (``service_logs`` still lists it)."""
        if instance not in self._instances:
            raise ChaoskitError(f"no instance {instance!r}; instances: {', '.join(self._instances) or 'none'}")
        container = self._container(instance)
        if container is not None:
            try:
                if graceful:
                    if container.status == "paused":
                        container.unpause()  # a frozen process cannot act on SIGTERM
                    if container.status in _UP:
                        container.stop(timeout=STOP_GRACE_S)
                elif container.status in _UP:
                    # explicitly: a forced remove may send SIGTERM first (podman does)
                    container.kill()
                    container.wait(timeout=STOP_GRACE_S)
            except NotFound:
                pass
            finally:
                docker_api.remove([container])
        self._rec.desired.pop(instance, None)
        del self._instances[instance]
        self._rec.save()

    def _instance_port(self) -> tuple[int, list[int]]:
        """A port for a new instance, and what to release once it listens: a free one on
        the host network; one of the holder's published spares in bridge mode."""
        if self.network == "host":
            allocated = allocate_ports(1)
            return allocated[0], allocated
        used = {spec["port"] for spec in self._instances.values()}
        reserved = self._rec.extra.get("instance_ports", [])
        spare = [port for port in reserved if port not in used]
        if not spare:
            raise ChaoskitError(
                f"bridge-mode environment {self.env_id} has no free instance port: its namespace holder publishes "
                f"{len(reserved)} for instances, used by {', '.join(self._instances) or 'none'}; remove an instance "
                "first, or use the host network mode (CHAOSKIT_DOCKER_NETWORK=host)"
            )
        return spare[0], []

    def _new_container_name(self, instance: str) -> str:
        """``#`` is not allowed in container names: ``.`` instead, and a short hash when that
        alone would collide with another container of this environment."""
        name = f"chaoskit-{self.env_id}-{instance.replace('#', '.')}"
        taken = {self.container_name(c) for c in self.topology.components}
        taken |= {spec["container"] for spec in self._instances.values()}
        if name in taken:
            name += "-" + hashlib.sha1(instance.encode()).hexdigest()[:8]
        return name

    # -- status ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        rec = self._rec
        components: dict[str, Any] = {}
        for comp in self.topology.components.values():
            components[comp.name] = {**self._state_of(comp.name), "endpoints": self.endpoints(comp.name)}
        for name, spec in self._instances.items():
            components[name] = {
                **self._state_of(name),
                "endpoints": {"direct": addr(spec["port"])},
                "instance_of": spec["of"],
            }
        return {"environment": rec.id, "runtime": self.name, "topology": rec.topology, "components": components}

    def _state_of(self, name: str) -> dict[str, Any]:
        container = self._container(name)
        desired = self._rec.desired.get(name, "running")
        pid = None
        if container is None or container.status not in _UP:
            state = "stopped" if desired == "stopped" else "failed"
        elif container.status == "paused":
            state = "stopped"
        else:
            pid = container.attrs.get("State", {}).get("Pid") or None
            state = "healthy" if self._unit_of(name).healthy() else "starting"
        entry: dict[str, Any] = {"state": state, "pid": pid, "log": str(self._log_file(name))}
        if desired == "paused":
            entry["paused"] = True
        return entry

    # -- internals ------------------------------------------------------------------------
    @property
    def _bind(self) -> str:
        return HOST if self.network == "host" else "0.0.0.0"

    def _unit(self, comp: Component) -> ComponentContainer:
        return container_for(comp, self.topology, self.plan, self.images, self.dir, self._bind)

    def _unit_of(self, name: str) -> ComponentContainer:
        """The container definition of a component or of an instance."""
        spec = self._instances.get(name)
        if spec is None:
            return self._unit(self.topology.component(name))
        return InstanceContainer(
            self.topology.component(spec["of"]),
            self.topology,
            self.plan,
            self.images,
            self.dir,
            self._bind,
            name=name,
            port=spec["port"],
            overrides=spec["env"],
        )

    def _check_name(self, name: str) -> None:
        """A component of the topology or a current instance; else a ConfigError naming them."""
        if name not in self._instances:
            self.topology.component(name)

    def _proxy_specs(self) -> list[ProxySpec]:
        specs = [p.spec() for p in self.plan.proxies.values()]
        if self.network == "host":
            return specs
        return [replace(spec, listen=spec.listen.replace(f"{HOST}:", f"{self._bind}:")) for spec in specs]

    def _labels(self, component: str) -> dict[str, str]:
        spec = self._instances.get(component)
        return docker_api.labels_for(
            self.topology.name,
            self.env_id,
            component,
            self._rec.owner,
            self._rec.keep,
            instance_of=spec["of"] if spec else None,
        )

    def _start_network(self) -> None:
        """The bridge mode's named network and the container that owns the shared network
        namespace, publishing every plan port on the host's 127.0.0.1."""
        name = f"chaoskit-{self.env_id}"
        try:
            self.client.networks.create(name, driver="bridge", labels=self._labels(docker_api.NETNS))
            holder = self.client.containers.create(
                self.images.kafka,  # any image with a shell; Kafka's is there anyway
                entrypoint=["/bin/sh"],
                command=["-c", "while :; do sleep 3600; done"],
                name=self.container_name(docker_api.NETNS),
                labels=self._labels(docker_api.NETNS),
                network=name,
                ports={f"{port}/tcp": (HOST, port) for port in self._published_ports},
                init=True,
            )
            holder.start()
        except APIError as err:
            raise ChaoskitError(f"the docker runtime could not set up network {name} (bridge mode): {err}") from None

    @property
    def _published_ports(self) -> list[int]:
        """What the bridge mode's holder publishes: the plan's ports and the instances' spares."""
        return [*self.plan.ports, *self._rec.extra.get("instance_ports", [])]

    def _container(self, component: str) -> Container | None:
        try:
            return self.client.containers.get(self.container_name(component))
        except NotFound:
            return None

    def _require_running(self, component: str) -> Container:
        container = self._container(component)
        if container is None or container.status != "running":
            raise ChaoskitError(f"{component} is not running in environment {self.env_id}")
        return container

    def _run(self, name: str, existing: Container | None = None) -> None:
        """Start the container of a component or instance, creating it first if it does not exist."""
        unit = self._unit_of(name)
        unit.prepare()
        container = existing or self._container(name) or self._create(name, unit)
        try:
            container.start()
        except APIError as err:
            reason = f"the engine could not start its container: {err}"
            raise ComponentStartError(name, reason, self._tail(name)) from None
        self._set_desired(name, "running")

    def _create(self, name: str, unit: ComponentContainer) -> Container:
        spec = unit.spec()
        try:
            return self.client.containers.create(
                spec.image,
                entrypoint=spec.argv[:1],
                command=spec.argv[1:],
                name=self.container_name(name),
                labels=self._labels(name),
                environment=spec.environment,
                network_mode="host" if self.network == "host" else f"container:{self.container_name(docker_api.NETNS)}",
                # an init as PID 1, so the component gets a process's signal semantics: as
                # PID 1 itself a program without a SIGTERM handler would ignore `stop`
                init=True,
                # files the container writes in the bind-mounted env dir stay removable by us
                user=f"{os.getuid()}:{os.getgid()}",
                working_dir=spec.working_dir,
                volumes={path: {"bind": path, "mode": mode} for path, mode in spec.binds.items()},
            )
        except APIError as err:
            raise ComponentStartError(name, f"the engine could not create its container: {err}") from None

    def _tail(self, component: str, lines: int = 30) -> str:
        try:
            return "\n".join(self.logs(component).splitlines()[-lines:])
        except APIError:
            return ""

    def _wait_healthy(self, name: str) -> None:
        unit = self._unit_of(name)

        def exited() -> str | None:
            container = self._container(name)
            if container is None:
                return "its container is gone"
            if container.status in ("exited", "dead", "stopped"):
                code = container.attrs.get("State", {}).get("ExitCode")
                return f"the container exited with code {code}"
            return None

        def ready() -> bool:
            # a service without a health path is ready when running; checked after the
            # probe, so a container that exits at once is not taken for ready
            return unit.healthy() and exited() is None

        try:
            health.wait_for(ready, self.start_timeout_s, f"{name} health", interval_s=POLL_S, abort=exited)
        except health.DeadlineExceeded as err:
            raise ComponentStartError(name, str(err), self._tail(name)) from None

    def _create_topics(self) -> None:
        create_topics(self.kafka_bootstrap, self.topology.topics, self._kafka.name)

    def _verify_kafka_links(self) -> None:
        """Each Kafka proxy must advertise itself, or its clients would go around it."""
        for link in self.topology.links_to(self._kafka.name):
            through = self.endpoint(self._kafka.name, link.client)
            try:
                brokers = health.wait_for(partial(health.kafka_brokers, through), 15, f"metadata via {link.name}")
            except health.DeadlineExceeded as err:
                raise ComponentStartError(self._kafka.name, str(err), self._tail(self._kafka.name)) from None
            if brokers != [through]:
                raise ComponentStartError(
                    self._kafka.name,
                    f"a metadata request through the {link.name} proxy ({through}) returned brokers "
                    f"{brokers}; clients would bypass the proxy",
                )

    def _set_desired(self, component: str, state: str) -> None:
        self._check_name(component)
        self._rec.desired[component] = state
        self._rec.save()


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
