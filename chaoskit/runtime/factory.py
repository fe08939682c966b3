"""The one place a runtime is chosen by name: for a new environment (the pytest plugin,
``chaoskit up``) and for an existing one, from its record (``chaoskit status``/``down``).
The docker runtime is imported only when asked for: the docker SDK is not needed otherwise."""

from __future__ import annotations

from pathlib import Path

from chaoskit.errors import ConfigError
from chaoskit.runtime.orchestrator import Orchestrator
from chaoskit.runtime.state import EnvRecord
from chaoskit.topology import Topology, load_topology

RUNTIMES = ("process", "docker")


def _runtime_class(name: str) -> type[Orchestrator]:
    if name == "process":
        from chaoskit.runtime.process import ProcessRuntime

        return ProcessRuntime
    if name == "docker":
        from chaoskit.runtime.docker import DockerRuntime

        return DockerRuntime
    raise ConfigError(f"runtime {name!r} is not one; allowed: {', '.join(RUNTIMES)}")


def make_runtime(name: str, topology: Topology, *, owner_pid: int | None = None, keep: bool = False) -> Orchestrator:
    """A runtime of kind ``name`` for a new environment of ``topology`` (not started yet)."""
    return _runtime_class(name)(topology, owner_pid=owner_pid, keep=keep)


def attach_runtime(record: EnvRecord) -> Orchestrator:
    """A runtime controlling the recorded environment, of the kind that started it."""
    return _runtime_class(record.runtime).attach(record, load_topology(Path(record.topology)))
