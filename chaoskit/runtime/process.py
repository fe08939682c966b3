"""The process runtime: the whole environment as local processes on 127.0.0.1.

Kafka (KRaft, from the pinned jars), Redis and Toxiproxy run from the install cache; the
services under test run with the commands their ``x-chaoskit`` blocks give. Every process
gets its own session (so a signal reaches its whole tree), a log file in the environment
directory, and a ``CHAOSKIT_ENV`` tag in its environment so a crashed run's leftovers can
be found and swept (see :func:`chaoskit.runtime.state.stray_processes` for how).

The environment's life (order, health, proxies, instances, waiting for an old process to
be gone) is the orchestrator's; this module only spawns, signals and removes processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Unpack

import psutil

from chaoskit import install
from chaoskit.errors import ComponentStartError
from chaoskit.runtime.backend import SpawnError, Unit, UnitState
from chaoskit.runtime.orchestrator import STOP_GRACE_S, Orchestrator, RuntimeOptions
from chaoskit.runtime.plan import (
    HOST,
    KAFKA_HEAP,
    KAFKA_LOG4J2,
    cluster_id,
    kafka_properties,
    redis_arguments,
    render_properties,
    resolve_template,
)
from chaoskit.runtime.planned import PlannedRuntime
from chaoskit.runtime.ports import allocate_ports
from chaoskit.runtime.state import EnvRecord, ProcessRecord, all_records, log_file, stray_processes, terminate
from chaoskit.topology import Topology


class ProcessRuntime(Orchestrator):
    """Runs one environment of a topology as local processes."""

    name = "process"

    def __init__(self, topology: Topology, **options: Unpack[RuntimeOptions]) -> None:
        super().__init__(topology, **options)
        self.backend = ProcessBackend(self)


class ProcessBackend:
    """Spawns and signals the processes of one environment (see ``backend.py``)."""

    name = "process"
    poll_s = 0.05
    bind_host = HOST
    host_ports = True
    reserved_instance_ports = 0

    def __init__(self, env: PlannedRuntime) -> None:
        self.env = env
        self._popen: dict[str, subprocess.Popen[bytes]] = {}
        self._components: install.Components | None = None

    @property
    def _parts(self) -> install.Components:
        if self._components is None:
            self._components = install.locate()
        return self._components

    def prepare(self) -> None:
        sweep_orphans()
        self._components = install.locate()

    def record_extra(self) -> dict[str, Any]:
        return {}

    def open(self) -> None:
        """Nothing: processes share the host's loopback."""

    def spawn(self, unit: Unit) -> None:
        argv, env, cwd = self._command(unit)
        with log_file(self.env.dir, unit.name).open("ab") as log:
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
                raise SpawnError(f"could not run {argv[0]}: {err}") from None
        self._popen[unit.name] = proc
        self._rec.processes[unit.name] = ProcessRecord.of(proc.pid)

    def stop(self, name: str, grace_s: float) -> None:
        proc = self._live(name)
        if proc is not None:
            terminate([proc, *_children(proc)], grace_s=grace_s)
        self._reap(name)

    def kill(self, name: str) -> None:
        """SIGKILL the unit's whole process group."""
        self._signal(name, signal.SIGKILL)
        self._reap(name)

    def pause(self, name: str) -> None:
        """SIGSTOP: the process hangs, its sockets stay open."""
        self._signal(name, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self._signal(name, signal.SIGCONT)

    def state(self, name: str) -> UnitState:
        proc = self._live(name)
        try:
            if proc is None or proc.status() == psutil.STATUS_ZOMBIE:
                return "gone"
            return "paused" if proc.status() == psutil.STATUS_STOPPED else "running"
        except psutil.Error:
            return "gone"

    def pid(self, name: str) -> int | None:
        """The last recorded pid, alive or not (a stopped component shows which one ran)."""
        rec = self._rec.processes.get(name)
        return rec.pid if rec else None

    def exit_reason(self, name: str) -> str | None:
        proc = self._popen.get(name)
        code = proc.poll() if proc is not None else None
        return f"the process exited with code {code}" if code is not None else None

    def engine_logs(self, name: str) -> str | None:
        return None  # every process writes its log file

    def instance_port(self) -> tuple[int, list[int]]:
        allocated = allocate_ports(1)
        return allocated[0], allocated

    def new_instance(self, instance: str) -> dict[str, Any]:
        return {}

    def forget(self, name: str) -> None:
        self._reap(name)
        self._rec.processes.pop(name, None)

    def remove(self, record: EnvRecord) -> None:
        _terminate_environment(record.id)
        for proc in self._popen.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=STOP_GRACE_S)
        self._popen.clear()

    # -- internals ------------------------------------------------------------------------
    @property
    def _rec(self) -> EnvRecord:
        return self.env.env_record

    def _command(self, unit: Unit) -> tuple[list[str], dict[str, str], Path]:
        parts = self._parts
        comp = unit.comp
        data = self.env.dir / "data" / comp.name
        data.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "CHAOSKIT_ENV": self._rec.id}
        if comp.kind == "kafka":
            conf = self._kafka_conf(data)
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
            argv = [str(parts.redis_server), *redis_arguments(HOST, unit.port, str(data))]
            return argv, env, data
        if comp.kind == "toxiproxy":
            env["LOG_LEVEL"] = env.get("CHAOSKIT_TOXIPROXY_LOG_LEVEL", "warn")
            return [str(parts.toxiproxy_server), "-host", HOST, "-port", str(unit.port)], env, data
        python = sys.executable
        # {port} is the unit's own port (an instance's, not its service's)
        plan = replace(self.env.plan, direct={**self.env.plan.direct, comp.name: unit.port})
        argv = [resolve_template(part, comp.name, plan, python) for part in comp.command]
        env.update({key: resolve_template(value, comp.name, plan, python) for key, value in comp.env})
        env.update({"HTTP_HOST": HOST, "HTTP_PORT": str(unit.port), "SERVICE_NAME": unit.name, "PYTHONUNBUFFERED": "1"})
        env.update(unit.overrides)
        return argv, env, self.env.topology.path.parent

    def _kafka_conf(self, data: Path) -> Path:
        """Kafka's config, and its storage formatted if it is not (first start, after a wipe)."""
        kafka = self.env.topology.of_kind("kafka")
        assert kafka is not None
        conf = self.env.dir / "kafka"
        conf.mkdir(parents=True, exist_ok=True)
        props = kafka_properties(self.env.plan, kafka.name, str(data))
        (conf / "server.properties").write_text(render_properties(props))
        (conf / "log4j2.properties").write_text(KAFKA_LOG4J2)
        if not (data / "meta.properties").exists():
            self._format_kafka(kafka.name, conf)
        return conf

    def _format_kafka(self, kafka: str, conf: Path) -> None:
        argv = [
            str(self._parts.java),
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            f"-Dlog4j2.configurationFile={conf / 'log4j2.properties'}",
            "-cp",
            self._parts.kafka_classpath,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "--ignore-formatted",
            # "=": a base64url id may start with "-", which would read as an option
            f"--cluster-id={cluster_id()}",
            "-c",
            str(conf / "server.properties"),
        ]
        log = log_file(self.env.dir, kafka)
        with log.open("ab") as out:
            proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False)
        if proc.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise ComponentStartError(kafka, f"formatting its storage failed (exit {proc.returncode})", tail)

    def _live(self, name: str) -> psutil.Process | None:
        rec = self._rec.processes.get(name)
        return rec.process() if rec else None

    def _signal(self, name: str, sig: signal.Signals) -> None:
        """``sig`` to the unit's process group (its session: it leads one)."""
        proc = self._live(name)
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)

    def _reap(self, name: str) -> None:
        popen = self._popen.pop(name, None)
        if popen is not None:
            try:
                popen.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(timeout=STOP_GRACE_S)


def _children(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.Error:
        return []


def _terminate_environment(env_id: str) -> None:
    """Stop every process of a recorded environment (by pid and start time, session, log or
    tag) and what they forked."""
    procs = {}
    for proc in stray_processes(env_id):
        procs.update({p.pid: p for p in [proc, *_children(proc)]})
    terminate(list(procs.values()), grace_s=STOP_GRACE_S)


def sweep_orphans() -> list[str]:
    """Down every environment whose owning run died (not kept); returns their ids."""
    swept = []
    for record in all_records():
        if record.runtime == ProcessRuntime.name and record.orphaned():
            _terminate_environment(record.id)
            shutil.rmtree(record.dir, ignore_errors=True)
            swept.append(record.id)
    return swept


def down_all() -> list[str]:
    """Down every environment chaoskit left on this machine, kept or not, and any stray."""
    ids = []
    for record in all_records():
        if record.runtime != ProcessRuntime.name:
            continue  # each runtime sweeps its own (a docker env's data is under live containers)
        _terminate_environment(record.id)
        shutil.rmtree(record.dir, ignore_errors=True)
        ids.append(record.id)
    terminate(stray_processes(), grace_s=2.0)
    return ids
