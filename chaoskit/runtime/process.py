"""The process runtime: the whole environment as local processes on 127.0.0.1.

Kafka (KRaft, from the pinned jars), Redis and Toxiproxy run from the install cache; the
services under test run with the commands their ``x-chaoskit`` blocks give. Every process
gets its own session (so a signal reaches its whole tree), a log file in the environment
directory, and a ``CHAOSKIT_ENV`` tag in its environment so a crashed run's leftovers can
be found and swept (see :func:`chaoskit.runtime.state.stray_processes` for how).

Killing, stopping, restarting and wiping a component wait until its old process has exited
and its ports can be bound again: otherwise the health probe of the "new" component could
be answered by the old one, and an experiment would judge a fault that never happened.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import psutil

from chaoskit import install
from chaoskit.errors import ChaoskitError, ComponentStartError
from chaoskit.runtime import health
from chaoskit.runtime.plan import (
    HOST,
    KAFKA_HEAP,
    KAFKA_LOG4J2,
    addr,
    kafka_properties,
    make_plan,
    ports_needed,
    render_properties,
    resolve_template,
)
from chaoskit.runtime.planned import PlannedRuntime
from chaoskit.runtime.ports import allocate_ports, port_is_free, release_ports
from chaoskit.runtime.probes import answers
from chaoskit.runtime.state import EnvRecord, ProcessRecord, all_records, new_env_id, stray_processes, terminate
from chaoskit.runtime.topics import create_topics
from chaoskit.runtime.toxiproxy import ToxiproxyError
from chaoskit.topology import Component, Topology

STOP_GRACE_S = 10.0
GONE_TIMEOUT_S = 15.0
PORT_ATTEMPTS = 3
_PORT_TAKEN = ("address already in use", "Address already in use", "BindException")


def cluster_id() -> str:
    """A Kafka cluster id (base64url of a random UUID), without starting a JVM to make one."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class ProcessRuntime(PlannedRuntime):
    """Runs one environment of a topology as local processes."""

    name = "process"

    def __init__(
        self,
        topology: Topology,
        *,
        owner_pid: int | None = None,
        keep: bool = False,
        start_timeout_s: float = 60.0,
        gone_timeout_s: float = GONE_TIMEOUT_S,
    ) -> None:
        self.topology = topology
        self.owner_pid = owner_pid
        self.keep = keep
        self.start_timeout_s = start_timeout_s
        self.gone_timeout_s = gone_timeout_s
        self.record: EnvRecord | None = None
        self._popen: dict[str, subprocess.Popen[bytes]] = {}
        self._components: install.Components | None = None

    # -- identity -------------------------------------------------------------------------
    @classmethod
    def attach(cls, record: EnvRecord, topology: Topology) -> ProcessRuntime:
        """Control an environment another process started (the CLI's status and down)."""
        runtime = cls(topology, keep=record.keep)
        runtime.record = record
        return runtime

    def log_path(self, component: str) -> Path:
        path = self.dir / "logs" / f"{component}.log"
        if component not in self._instances and not path.exists():  # a removed instance's log stays
            self.topology.component(component)
        return path

    def service_logs(self) -> list[Path]:
        """The log of every service under test, and of every instance ever added to one
        (a canary's log outlives the canary: its events are part of the history)."""
        logs = self.dir / "logs"
        found = [self.log_path(c.name) for c in self.topology.services]
        for comp in self.topology.services:
            found += sorted(logs.glob(f"{comp.name}#*.log"))
        return found

    def logs(self, component: str) -> str:
        path = self.log_path(component)
        return path.read_text(errors="replace") if path.exists() else ""

    # -- lifecycle ------------------------------------------------------------------------
    def up(self) -> None:
        """Start everything and wait until healthy. On any failure, stop what started.

        Ports are free when chosen but another program (another run on this machine) may
        bind one before our component does: that start is undone and retried on new ports.
        """
        sweep_orphans()
        self._components = install.locate()
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self._up_once()
                return
            except (ComponentStartError, ToxiproxyError) as err:
                if attempt == PORT_ATTEMPTS or not any(sign in str(err) for sign in _PORT_TAKEN):
                    raise

    def _up_once(self) -> None:
        ports = allocate_ports(ports_needed(self.topology))
        plan = make_plan(self.topology, ports)
        owner = ProcessRecord.of(self.owner_pid) if self.owner_pid else None
        self.record = EnvRecord(
            id=new_env_id(),
            runtime=self.name,
            topology=str(self.topology.path),
            created=time.time(),
            owner=owner,
            keep=self.keep,
            plan=plan.to_json(),
        )
        self.record.save()
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        try:
            self._start_infrastructure()
            self._start_services()
        except BaseException:
            self.down()
            raise
        finally:
            release_ports(ports)

    def _start_infrastructure(self) -> None:
        kafka = self._kafka
        tp = self.topology.of_kind("toxiproxy")
        rd = self.topology.of_kind("redis")
        assert tp is not None
        self._format_kafka()
        for comp in (kafka, tp, rd):
            if comp is not None:
                self._spawn(comp)
        self._wait_healthy(tp)
        self.toxiproxy.populate([p.spec() for p in self.plan.proxies.values()])
        self._wait_healthy(kafka)
        self._create_topics()
        self._verify_kafka_links()
        if rd is not None:
            self._wait_healthy(rd)

    def _start_services(self) -> None:
        order = self.topology.start_order()
        for comp in order:
            self._spawn(comp)
        with ThreadPoolExecutor(max_workers=max(1, len(order))) as pool:
            for future in [pool.submit(self._wait_healthy, comp) for comp in order]:
                future.result()

    def down(self) -> None:
        """Stop every process of this environment and delete its directory."""
        if self.record is None:
            return
        _down_record(self.record)
        for proc in self._popen.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=STOP_GRACE_S)
        self._popen.clear()
        self.record = None

    def reset(self) -> None:
        """Between experiments: every proxy enabled, no toxics, no extra instances, every
        component running."""
        self.toxiproxy.reset()
        for instance in list(self._instances):
            self.remove_instance(instance, graceful=False)
        for comp in self.topology.components.values():
            proc = self._live(comp.name)
            if proc is None:
                self.start(comp.name)
            elif proc.status() == psutil.STATUS_STOPPED:
                self.resume(comp.name)

    # -- process control ------------------------------------------------------------------
    def start(self, component: str) -> None:
        comp = self.topology.component(component)
        if self._live(component) is not None:
            return
        self._spawn(comp)
        self._wait_healthy(comp)

    def stop(self, component: str) -> None:
        """SIGTERM (a graceful shutdown), SIGKILL after a grace period; returns once the
        process is gone and its ports are free."""
        self._set_desired(component, "stopped")
        proc = self._live(component)
        if proc is not None:
            terminate([proc, *_children(proc)], grace_s=STOP_GRACE_S)
        self._await_gone(component, proc)
        self._reap(component)

    def kill(self, component: str) -> None:
        """SIGKILL the component's whole process group: a crash, no shutdown hooks. Returns
        once the process is gone and its ports are free."""
        self._set_desired(component, "stopped")
        proc = self._live(component)
        if proc is not None:
            self._signal(proc, signal.SIGKILL)
        self._await_gone(component, proc)
        self._reap(component)

    def pause(self, component: str) -> None:
        """SIGSTOP: the process hangs, its sockets stay open (a hung process, not a dead one)."""
        proc = self._require_live(component)
        self._signal(proc, signal.SIGSTOP)
        self._set_desired(component, "paused")

    def resume(self, component: str) -> None:
        proc = self._require_live(component)
        self._signal(proc, signal.SIGCONT)
        self._set_desired(component, "running")

    def restart(self, component: str) -> None:
        """Stop (waiting until the old process and its ports are gone), then start."""
        self.stop(component)
        self.start(component)

    def wipe(self, component: str) -> None:
        """Kill a stateful component, delete its data, start it fresh (topics re-created).
        The kill waits for the old process to be gone, so the fresh one is what answers."""
        comp = self.topology.component(component)
        if comp.kind not in ("kafka", "redis"):
            raise ChaoskitError(f"wipe applies to kafka and redis, not {component!r} (kind {comp.kind})")
        self.kill(component)
        shutil.rmtree(self.dir / "data" / component, ignore_errors=True)
        if comp.kind == "kafka":
            self._format_kafka()
        self.start(component)
        if comp.kind == "kafka":
            self._create_topics()

    # -- instances ------------------------------------------------------------------------
    def add_instance(self, component: str, instance: str, env: dict[str, str] | None = None) -> str:
        """Run one more process of a service (e.g. a canary of workflow-service) next to it.

        The instance shares the service's links (its traffic goes through the same proxies,
        so link faults hit it too), gets its own HTTP port, log and ``SERVICE_NAME``, and
        ``env`` overrides the service's environment (``SERVICE_VERSION``, ``FAIL_RATE``...).
        Returns its direct endpoint once healthy.
        """
        comp = self.topology.component(component)
        if comp.kind != "service":
            raise ChaoskitError(f"instances are for services under test; {component!r} is kind {comp.kind}")
        if instance in self.topology.components or instance in self._instances:
            raise ChaoskitError(f"an instance or component named {instance!r} already exists")
        port = allocate_ports(1)[0]
        try:
            self._instances[instance] = {"of": component, "port": port, "env": dict(env or {})}
            self._rec.save()
            self._spawn(comp, instance)
            self._wait_healthy(comp, instance)
        except BaseException:
            self.remove_instance(instance)
            raise
        finally:
            release_ports([port])
        return addr(port)

    def remove_instance(self, instance: str, graceful: bool = True) -> None:
        """Stop an instance (SIGTERM, or SIGKILL when not graceful) and forget it."""
        if instance not in self._instances:
            raise ChaoskitError(f"no instance {instance!r}; instances: {', '.join(self._instances) or 'none'}")
        proc = self._live(instance)
        if proc is not None:
            if graceful:
                terminate([proc, *_children(proc)], grace_s=STOP_GRACE_S)
            else:
                self._signal(proc, signal.SIGKILL)
                psutil.wait_procs([proc], timeout=STOP_GRACE_S)
        self._reap(instance)
        self._rec.processes.pop(instance, None)
        self._rec.desired.pop(instance, None)
        del self._instances[instance]
        self._rec.save()

    # -- status ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        rec = self._rec
        components: dict[str, Any] = {}
        for comp in self.topology.components.values():
            proc = self._live(comp.name)
            desired = rec.desired.get(comp.name, "running")
            if proc is None:
                state = "stopped" if desired == "stopped" else "failed"
            elif proc.status() == psutil.STATUS_STOPPED:
                state = "stopped"
            else:
                state = "healthy" if self._healthy(comp) else "starting"
            entry: dict[str, Any] = {
                "state": state,
                "pid": rec.processes[comp.name].pid if comp.name in rec.processes else None,
                "endpoints": self.endpoints(comp.name),
                "log": str(self.log_path(comp.name)),
            }
            if desired == "paused":
                entry["paused"] = True
            components[comp.name] = entry
        for name, spec in self._instances.items():
            proc = self._live(name)
            components[name] = {
                "state": "healthy"
                if proc is not None and self._healthy(self.topology.component(spec["of"]), name)
                else "failed"
                if proc is None
                else "starting",
                "pid": rec.processes[name].pid if name in rec.processes else None,
                "endpoints": {"direct": addr(spec["port"])},
                "log": str(self.log_path(name)),
                "instance_of": spec["of"],
            }
        return {"environment": rec.id, "runtime": self.name, "topology": rec.topology, "components": components}

    # -- internals ------------------------------------------------------------------------
    def _command(self, comp: Component, instance: str | None = None) -> tuple[list[str], dict[str, str], Path]:
        parts = self._components or install.locate()
        self._components = parts
        plan = self.plan
        data = self.dir / "data" / comp.name
        data.mkdir(parents=True, exist_ok=True)
        port = self._instances[instance]["port"] if instance else plan.direct[comp.name]
        env = {**os.environ, "CHAOSKIT_ENV": self._rec.id}
        cwd = self.topology.path.parent
        if comp.kind == "kafka":
            conf = self.dir / "kafka"
            argv = [
                str(parts.java),
                *KAFKA_HEAP.split(),
                "-XX:+UseSerialGC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={conf / 'log4j2.properties'}",
                "-cp",
                parts.kafka_classpath,
                "kafka.Kafka",
                str(conf / "server.properties"),
            ]
            return argv, env, conf
        if comp.kind == "redis":
            argv = [
                str(parts.redis_server),
                "--bind",
                HOST,
                "--port",
                str(port),
                "--dir",
                str(data),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--protected-mode",
                "no",
            ]
            return argv, env, data
        if comp.kind == "toxiproxy":
            env["LOG_LEVEL"] = env.get("CHAOSKIT_TOXIPROXY_LOG_LEVEL", "warn")
            return [str(parts.toxiproxy_server), "-host", HOST, "-port", str(port)], env, data
        python = sys.executable
        if instance:  # {port} is the instance's own port
            plan = replace(plan, direct={**plan.direct, comp.name: port})
        argv = [resolve_template(part, comp.name, plan, python) for part in comp.command]
        env.update({key: resolve_template(value, comp.name, plan, python) for key, value in comp.env})
        env.update(
            {
                "HTTP_HOST": HOST,
                "HTTP_PORT": str(port),
                "SERVICE_NAME": instance or comp.name,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if instance:
            env.update(self._instances[instance]["env"])
        return argv, env, cwd

    def _format_kafka(self) -> None:
        parts = self._components or install.locate()
        conf = self.dir / "kafka"
        conf.mkdir(parents=True, exist_ok=True)
        data = self.dir / "data" / self._kafka.name
        props = kafka_properties(self.plan, self._kafka.name, str(data))
        (conf / "server.properties").write_text(render_properties(props))
        (conf / "log4j2.properties").write_text(KAFKA_LOG4J2)
        argv = [
            str(parts.java),
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            f"-Dlog4j2.configurationFile={conf / 'log4j2.properties'}",
            "-cp",
            parts.kafka_classpath,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "--ignore-formatted",
            # "=": a base64url id may start with "-", which would read as an option
            f"--cluster-id={cluster_id()}",
            "-c",
            str(conf / "server.properties"),
        ]
        log = self.log_path(self._kafka.name)
        with log.open("ab") as out:
            proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False)
        if proc.returncode != 0:
            raise ComponentStartError(
                self._kafka.name, f"formatting its storage failed (exit {proc.returncode})", _tail(log)
            )

    def _spawn(self, comp: Component, instance: str | None = None) -> None:
        name = instance or comp.name
        argv, env, cwd = self._command(comp, instance)
        with self.log_path(name).open("ab") as log:
            try:
                proc = subprocess.Popen(
                    argv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    cwd=cwd,
                    start_new_session=True,
                )
            except OSError as err:
                raise ComponentStartError(name, f"could not run {argv[0]}: {err}") from None
        self._popen[name] = proc
        self._rec.processes[name] = ProcessRecord.of(proc.pid)
        self._rec.desired[name] = "running"
        self._rec.save()

    def _healthy(self, comp: Component, instance: str | None = None) -> bool:
        endpoint = self.instances()[instance] if instance else self.endpoint(comp.name)
        probed = answers(comp, endpoint)
        return probed if probed is not None else self._live(instance or comp.name) is not None

    def _wait_healthy(self, comp: Component, instance: str | None = None) -> None:
        name = instance or comp.name

        def exited() -> str | None:
            proc = self._popen.get(name)
            code = proc.poll() if proc is not None else None
            return f"the process exited with code {code}" if code is not None else None

        try:
            health.wait_for(lambda: self._healthy(comp, instance), self.start_timeout_s, f"{name} health", abort=exited)
        except health.DeadlineExceeded as err:
            raise ComponentStartError(name, str(err), _tail(self.log_path(name))) from None

    def _create_topics(self) -> None:
        create_topics(self.kafka_bootstrap, self.topology.topics, self._kafka.name)

    def _verify_kafka_links(self) -> None:
        """Each Kafka proxy must advertise itself, or its clients would go around it."""
        for link in self.topology.links_to(self._kafka.name):
            through = self.endpoint(self._kafka.name, link.client)
            try:
                brokers = health.wait_for(partial(health.kafka_brokers, through), 15, f"metadata via {link.name}")
            except health.DeadlineExceeded as err:
                raise ComponentStartError(self._kafka.name, str(err), _tail(self.log_path(self._kafka.name))) from None
            if brokers != [through]:
                raise ComponentStartError(
                    self._kafka.name,
                    f"a metadata request through the {link.name} proxy ({through}) returned brokers "
                    f"{brokers}; clients would bypass the proxy",
                )

    def _live(self, component: str) -> psutil.Process | None:
        rec = self._rec.processes.get(component)
        return rec.process() if rec else None

    def _require_live(self, component: str) -> psutil.Process:
        proc = self._live(component)
        if proc is None:
            raise ChaoskitError(f"{component} is not running in environment {self.env_id}")
        return proc

    def _ports(self, component: str) -> list[int]:
        if component in self._instances:
            return [int(self._instances[component]["port"])]
        return self.plan.ports_of(component, self.topology.component(component).kind)

    def _await_gone(self, component: str, old: psutil.Process | None) -> None:
        """Wait until ``old`` (the component's last process) has exited and every port the
        component listens on can be bound again; raise, naming the component, the pid and the
        ports, if that does not happen within ``gone_timeout_s``."""
        ports = self._ports(component)

        def gone() -> bool:
            return (old is None or not _running(old)) and all(port_is_free(port) for port in ports)

        try:
            health.wait_for(gone, self.gone_timeout_s, f"{component} to exit")
        except health.DeadlineExceeded:
            pid = old.pid if old is not None else None
            held = [f"{port}{_holder(port)}" for port in ports if not port_is_free(port)]
            why = []
            if old is not None and _running(old):
                why.append(f"pid {pid} is still alive")
            if held:
                why.append(f"port(s) {', '.join(held)} still bound")
            raise ChaoskitError(
                f"{component} (pid {pid}, ports {', '.join(map(str, ports))}) did not go away within "
                f"{self.gone_timeout_s:g} s: {' and '.join(why) or 'it went away just now'}; a new one "
                f"could not bind, or its health probe would be answered by the old process"
            ) from None

    def _signal(self, proc: psutil.Process, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    def _reap(self, component: str) -> None:
        popen = self._popen.pop(component, None)
        if popen is not None:
            try:
                popen.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(timeout=STOP_GRACE_S)

    def _set_desired(self, component: str, state: str) -> None:
        if component not in self._instances:
            self.topology.component(component)
        self._rec.desired[component] = state
        self._rec.save()


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _holder(port: int) -> str:
    """`` (by pid N: name)`` for the process listening on ``port``, when it can be seen."""
    try:
        for conn in psutil.net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return f" (by pid {conn.pid}: {psutil.Process(conn.pid).name()})"
    except psutil.Error:
        pass
    return ""


def _children(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.Error:
        return []


def _down_record(record: EnvRecord) -> None:
    """Stop every process of a recorded environment (by pid and start time, session, log or
    tag) and what they forked, and delete its directory."""
    procs = {}
    for proc in stray_processes(record.id):
        procs.update({p.pid: p for p in [proc, *_children(proc)]})
    terminate(list(procs.values()), grace_s=STOP_GRACE_S)
    shutil.rmtree(record.dir, ignore_errors=True)


def sweep_orphans() -> list[str]:
    """Down every environment whose owning run died (not kept); returns their ids."""
    swept = []
    for record in all_records():
        if record.runtime == "process" and record.orphaned():
            _down_record(record)
            swept.append(record.id)
    return swept


def down_all() -> list[str]:
    """Down every environment chaoskit left on this machine, kept or not, and any stray."""
    ids = []
    for record in all_records():
        if record.runtime != "process":
            continue  # each runtime sweeps its own (a docker env's data is under live containers)
        _down_record(record)
        ids.append(record.id)
    terminate(stray_processes(), grace_s=2.0)
    return ids
