"""An environment's life, written once for every runtime: the orchestrator.

It plans the ports, starts the components in dependency order (infrastructure, then the
services under test), waits until each is healthy, creates the topics, gives every link
its Toxiproxy proxy and checks that each Kafka proxy advertises itself, runs extra
instances of services, and brings components down and back for faults. What differs
between local processes and containers (spawning, signalling, logs, removal) is the
backend's (``backend.py``); the process and docker runtimes are this class over theirs.

Killing, stopping, restarting and wiping a component wait until its old process (or
container) is gone and its ports can be bound again: otherwise the health probe of the
"new" component could be answered by the old one, and an experiment would judge a fault
that never happened.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Self, TypedDict, Unpack

from chaoskit.errors import ChaoskitError, ComponentStartError, ConfigError
from chaoskit.runtime import health
from chaoskit.runtime.backend import Backend, SpawnError, Unit
from chaoskit.runtime.plan import HOST, Plan, addr, make_plan, ports_needed
from chaoskit.runtime.planned import PlannedRuntime
from chaoskit.runtime.ports import allocate_ports, holder, port_in_use, port_is_free, release_ports
from chaoskit.runtime.probes import answers
from chaoskit.runtime.state import EnvRecord, ProcessRecord, log_file, new_env_id
from chaoskit.runtime.topics import create_topics
from chaoskit.runtime.toxiproxy import ProxySpec, ToxiproxyError
from chaoskit.topology import Topology

STOP_GRACE_S = 10.0
GONE_TIMEOUT_S = 15.0
# Ports are free when chosen, but another program may bind one before our component does.
PORT_ATTEMPTS = 3
_INSTANCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.#-]{0,127}")


class RuntimeOptions(TypedDict, total=False):
    """How a runtime runs its environment, whatever its backend."""

    owner_pid: int | None  # the run that owns it: when it dies, the next up sweeps it
    keep: bool  # kept after the owner is gone, until `chaoskit down`
    start_timeout_s: float  # how long a unit may take to become healthy
    gone_timeout_s: float  # how long a stopped unit may take to exit and free its ports


class Orchestrator(PlannedRuntime):
    """One environment of a topology, run through a backend (see the module's docstring)."""

    name: str
    backend: Backend

    # how long a unit may take to answer its health probe, unless the options say
    default_start_timeout_s = 60.0

    def __init__(self, topology: Topology, **options: Unpack[RuntimeOptions]) -> None:
        self.topology = topology
        self.owner_pid = options.get("owner_pid")
        self.keep = options.get("keep", False)
        self.start_timeout_s = options.get("start_timeout_s", self.default_start_timeout_s)
        self.gone_timeout_s = options.get("gone_timeout_s", GONE_TIMEOUT_S)
        self.record: EnvRecord | None = None

    @classmethod
    def attach(cls, record: EnvRecord, topology: Topology) -> Self:
        """Control an environment another process started (the CLI's status and down)."""
        runtime = cls(topology, keep=record.keep)
        runtime.record = record
        return runtime

    # -- logs -----------------------------------------------------------------------------
    def log_path(self, component: str) -> Path:
        """``<env dir>/logs/<name>.log``. A service or instance writes it itself (current at
        every moment, kept after it is gone); a log the engine keeps is written to the file
        when someone asks for it."""
        path = log_file(self.dir, self._log_name(component))
        kept = self._engine_log(component)
        if kept is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(kept)
        return path

    def logs(self, component: str) -> str:
        kept = self._engine_log(self._log_name(component))
        if kept is not None:
            return kept
        path = log_file(self.dir, component)
        return path.read_text(errors="replace") if path.exists() else ""

    def service_logs(self) -> list[Path]:
        """The log of every service under test, and of every instance ever added to one
        (a canary's log outlives the canary: its events are part of the history)."""
        found = [self.log_path(c.name) for c in self.topology.services]
        for comp in self.topology.services:
            found += sorted(log_file(self.dir, name) for name, of in self._ever_instances.items() if of == comp.name)
        return found

    @property
    def _ever_instances(self) -> dict[str, str]:
        """Every instance ever added (name -> its service), current or removed."""
        ever: dict[str, str] = self.env_record.extra.get("instance_logs", {})
        return ever

    def _log_name(self, name: str) -> str:
        """``name`` if it is a component or an instance ever added; else a ConfigError naming them."""
        if name not in self._ever_instances:
            self.topology.component(name)
        return name

    def _engine_log(self, name: str) -> str | None:
        if name in self._ever_instances or self.topology.component(name).kind == "service":
            return None  # services and their instances write their own file
        return self.backend.engine_logs(name)

    def _tail(self, name: str, lines: int = 30) -> str:
        return "\n".join(self.logs(name).splitlines()[-lines:])

    # -- lifecycle ------------------------------------------------------------------------
    def up(self) -> None:
        """Start everything and wait until healthy. On any failure, remove what started.

        A start that failed while another program held one of its ports (a bind of that
        port, once this attempt is removed, fails with EADDRINUSE) is retried on new ports.
        """
        self.backend.prepare()
        for attempt in range(1, PORT_ATTEMPTS + 1):
            needed = ports_needed(self.topology)
            ports = allocate_ports(needed + self.backend.reserved_instance_ports)
            plan = make_plan(self.topology, ports[:needed])
            try:
                self._up_on(plan, ports[needed:])
                return
            except (ComponentStartError, ToxiproxyError):
                if attempt == PORT_ATTEMPTS or not any(port_in_use(port) for port in plan.ports):
                    raise
            finally:
                release_ports(ports)

    def _up_on(self, plan: Plan, instance_ports: list[int]) -> None:
        """One attempt at ``up`` on these ports; on failure nothing of it is left."""
        self.record = EnvRecord(
            id=new_env_id(),
            runtime=self.name,
            topology=str(self.topology.path),
            created=time.time(),
            owner=ProcessRecord.of(self.owner_pid) if self.owner_pid else None,
            keep=self.keep,
            plan=plan.to_json(),
            extra={**self.backend.record_extra(), "instance_ports": instance_ports},
        )
        self.record.save()
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        try:
            self.backend.open()
            self._start_infrastructure()
            self._start_services()
        except BaseException:
            self.down()
            raise

    def _start_infrastructure(self) -> None:
        tp = self._toxiproxy
        rd = self.topology.of_kind("redis")
        for comp in (self._kafka, tp, rd):
            if comp is not None:
                self._spawn(self._unit(comp.name))
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
            self._spawn(self._unit(comp.name))
        with ThreadPoolExecutor(max_workers=max(1, len(order))) as pool:
            for future in [pool.submit(self._wait_healthy, comp.name) for comp in order]:
                future.result()

    def down(self) -> None:
        """Remove every process or container of this environment, and its directory."""
        if self.record is None:
            return
        self.backend.remove(self.record)
        shutil.rmtree(self.record.dir, ignore_errors=True)
        self.record = None

    def reset(self) -> None:
        """Between experiments: every component running (Toxiproxy first: the rest of the
        reset goes through it), every proxy enabled, no toxics, no extra instances."""
        self._bring_back(self._toxiproxy.name)
        self.toxiproxy.reset()
        for instance in list(self.instance_specs):
            self.remove_instance(instance, graceful=False)
        infra = [c for c in self.topology.components.values() if c.kind not in ("service", "toxiproxy")]
        for comp in [*infra, *self.topology.start_order()]:
            self._bring_back(comp.name)

    def _bring_back(self, name: str) -> None:
        state = self.backend.state(name)
        if state == "paused":
            self.resume(name)
        elif state == "gone":
            self.start(name)

    # -- control --------------------------------------------------------------------------
    def start(self, component: str) -> None:
        """Start a component (or instance) that is not running, and wait until healthy."""
        unit = self._unit(component)
        if self.backend.state(component) != "gone":
            return
        self._spawn(unit)
        self._wait_healthy(component)
        if unit.comp.kind == "toxiproxy":
            # Toxiproxy keeps its proxies in memory: a restarted one starts with none.
            self.toxiproxy.populate(self._proxy_specs())

    def stop(self, component: str) -> None:
        """SIGTERM (a graceful shutdown), SIGKILL after a grace period; returns once the
        old process is gone and its ports are free."""
        self._halt(component, partial(self.backend.stop, grace_s=STOP_GRACE_S))

    def kill(self, component: str) -> None:
        """SIGKILL: a crash, no shutdown hooks. Returns once the old process is gone and its
        ports are free."""
        self._halt(component, self.backend.kill)

    def pause(self, component: str) -> None:
        """Freeze the component: its sockets stay open, nothing answers (a hung process)."""
        self._require_alive(component)
        self.backend.pause(component)
        self._set_desired(component, "paused")

    def resume(self, component: str) -> None:
        self._require_alive(component)
        self.backend.resume(component)
        self._set_desired(component, "running")

    def restart(self, component: str) -> None:
        """Stop (waiting until the old process and its ports are gone), then start."""
        self.stop(component)
        self.start(component)

    def wipe(self, component: str) -> None:
        """Kill a stateful component, delete its data, start it fresh (Kafka re-formatted
        with a new cluster id, topics re-created). The kill waits for the old process to be
        gone, so the fresh one is what answers."""
        comp = self.topology.component(component)
        if comp.kind not in ("kafka", "redis"):
            raise ChaoskitError(f"wipe applies to kafka and redis, not {component!r} (kind {comp.kind})")
        self.kill(component)
        shutil.rmtree(self.dir / "data" / component, ignore_errors=True)
        self.start(component)
        if comp.kind == "kafka":
            self._create_topics()

    def _halt(self, name: str, signal: Callable[[str], None]) -> None:
        self._set_desired(name, "stopped")
        pid = self.backend.pid(name)
        if self.backend.state(name) != "gone":
            signal(name)
        self._await_gone(name, pid)

    # -- instances ------------------------------------------------------------------------
    def add_instance(self, component: str, instance: str, env: dict[str, str] | None = None) -> str:
        """Run one more process of a service (e.g. a canary of workflow-service) next to it.

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
        if instance in self.topology.components or instance in self.instance_specs:
            raise ChaoskitError(f"an instance or component named {instance!r} already exists")
        overrides = dict(env or {})
        bad = sorted(key for key, value in overrides.items() if not isinstance(key, str) or not isinstance(value, str))
        if bad:
            raise ConfigError(f"env of instance {instance!r}: names and values must be strings; not so for {bad}")
        port, allocated = self.backend.instance_port()
        try:
            self.instance_specs[instance] = {
                "of": component,
                "port": port,
                "env": overrides,
                **self.backend.new_instance(instance),
            }
            self.env_record.extra.setdefault("instance_logs", {})[instance] = component
            self.env_record.save()
            self._spawn(self._unit(instance))
            self._wait_healthy(instance)
        except BaseException:
            if instance in self.instance_specs:
                self.remove_instance(instance, graceful=False)
            raise
        finally:
            release_ports(allocated)
        return addr(port)

    def remove_instance(self, instance: str, graceful: bool = True) -> None:
        """Stop an instance (SIGTERM, or SIGKILL when not graceful) and forget it; its log
        file stays (``service_logs`` still lists it)."""
        if instance not in self.instance_specs:
            raise ChaoskitError(f"no instance {instance!r}; instances: {', '.join(self.instance_specs) or 'none'}")
        try:
            if graceful:
                self.stop(instance)
            else:
                self.kill(instance)
        finally:
            self.backend.forget(instance)
            self.env_record.desired.pop(instance, None)
            del self.instance_specs[instance]
            self.env_record.save()

    # -- status ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        rec = self.env_record
        components: dict[str, Any] = {}
        for comp in self.topology.components.values():
            components[comp.name] = {**self._state_of(comp.name), "endpoints": self.endpoints(comp.name)}
        for name, spec in self.instance_specs.items():
            components[name] = {
                **self._state_of(name),
                "endpoints": {"direct": addr(spec["port"])},
                "instance_of": spec["of"],
            }
        return {"environment": rec.id, "runtime": self.name, "topology": rec.topology, "components": components}

    def _state_of(self, name: str) -> dict[str, Any]:
        state = self.backend.state(name)
        desired = self.env_record.desired.get(name, "running")
        if state == "gone":
            shown = "stopped" if desired == "stopped" else "failed"
        elif state == "paused":
            shown = "stopped"
        else:
            shown = "healthy" if self._answers(self._unit(name)) else "starting"
        entry: dict[str, Any] = {"state": shown, "pid": self.backend.pid(name), "log": str(log_file(self.dir, name))}
        if desired == "paused":
            entry["paused"] = True
        return entry

    # -- internals ------------------------------------------------------------------------
    def _unit(self, name: str) -> Unit:
        """What runs as ``name``: a component, or a current instance (else a ConfigError)."""
        spec = self.instance_specs.get(name)
        if spec is None:
            return Unit(name=name, comp=self.topology.component(name), port=self.plan.direct[name])
        return Unit(name=name, comp=self.topology.component(spec["of"]), port=spec["port"], overrides=spec["env"])

    def _spawn(self, unit: Unit) -> None:
        try:
            self.backend.spawn(unit)
        except SpawnError as err:
            raise ComponentStartError(unit.name, str(err), self._tail(unit.name)) from None
        self._set_desired(unit.name, "running")

    def _answers(self, unit: Unit) -> bool:
        """The unit's health probe; a service without a health path has none to fail."""
        return answers(unit.comp, addr(unit.port)) is not False

    def _wait_healthy(self, name: str) -> None:
        unit = self._unit(name)

        def ready() -> bool:
            # asked after the probe, so a unit that exits at once is not taken for ready
            return self._answers(unit) and self.backend.state(name) != "gone"

        try:
            health.wait_for(
                ready,
                self.start_timeout_s,
                f"{name} health",
                interval_s=self.backend.poll_s,
                abort=partial(self.backend.exit_reason, name),
            )
        except health.DeadlineExceeded as err:
            raise ComponentStartError(name, str(err), self._tail(name)) from None

    def _require_alive(self, name: str) -> None:
        self._unit(name)
        if self.backend.state(name) == "gone":
            raise ChaoskitError(f"{name} is not running in environment {self.env_id}")

    def _proxy_specs(self) -> list[ProxySpec]:
        """Every link's proxy, listening where the backend's components bind."""
        specs = [p.spec() for p in self.plan.proxies.values()]
        bind = self.backend.bind_host
        return [replace(spec, listen=spec.listen.replace(f"{HOST}:", f"{bind}:")) for spec in specs]

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

    def _ports(self, name: str) -> list[int]:
        if name in self.instance_specs:
            return [int(self.instance_specs[name]["port"])]
        return self.plan.ports_of(name, self.topology.component(name).kind)

    def _await_gone(self, name: str, pid: int | None) -> None:
        """Wait until the unit's last process has exited and, where the backend's ports are
        this host's, every port it listens on can be bound again; raise, naming the unit,
        the pid and the ports, if that does not happen within ``gone_timeout_s``."""
        ports = self._ports(name) if self.backend.host_ports else []

        def gone() -> bool:
            return self.backend.state(name) == "gone" and all(port_is_free(port) for port in ports)

        try:
            health.wait_for(gone, self.gone_timeout_s, f"{name} to exit", interval_s=self.backend.poll_s)
        except health.DeadlineExceeded:
            held = [f"{port}{holder(port)}" for port in ports if not port_is_free(port)]
            why = []
            if self.backend.state(name) != "gone":
                why.append(f"pid {pid} is still alive")
            if held:
                why.append(f"port(s) {', '.join(held)} still bound")
            raise ChaoskitError(
                f"{name} (pid {pid}, ports {', '.join(map(str, self._ports(name)))}) did not go away within "
                f"{self.gone_timeout_s:g} s: {' and '.join(why) or 'it went away just now'}; a new one "
                f"could not bind, or its health probe would be answered by the old process"
            ) from None

    def _set_desired(self, name: str, state: str) -> None:
        if name not in self.instance_specs:
            self.topology.component(name)
        self.env_record.desired[name] = state
        self.env_record.save()
