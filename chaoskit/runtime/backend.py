"""What a runtime needs from the thing that runs its components: the backend.

The orchestrator (``orchestrator.py``) owns an environment's life: the plan, start-up
order, health, topics, proxies, instances, waiting for an old process to be gone, reset,
status and down. A backend only runs one unit (a component, or an extra instance of a
service) as a local process or a container, signals it, reads what the engine keeps of
its log, says whether it is alive, and removes what it made. So a behaviour is written
once, and the process and docker runtimes cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from chaoskit.runtime.state import EnvRecord
from chaoskit.topology import Component

# What a backend reports of a unit: running, frozen (its sockets open, nothing answers),
# or gone (never started, exited, killed or removed).
UnitState = Literal["running", "paused", "gone"]


class SpawnError(Exception):
    """A backend could not start a unit at all (no program, the engine refused); the
    orchestrator reports it as the unit's ComponentStartError, with its log's tail."""


@dataclass(frozen=True)
class Unit:
    """One thing to run: a component of the topology, or an extra instance of a service
    (its own ``name``, ``port`` and ``overrides`` of the service's environment)."""

    name: str
    comp: Component
    port: int
    overrides: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_instance(self) -> bool:
        return self.name != self.comp.name


class Backend(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def poll_s(self) -> float:
        """How often the orchestrator may ask for a unit's state while it waits."""

    @property
    def bind_host(self) -> str:
        """The address components bind (127.0.0.1, or 0.0.0.0 where traffic arrives on
        another interface)."""

    @property
    def host_ports(self) -> bool:
        """Whether a unit's ports are bound on this host itself, so that binding one here
        tells whether the unit let go of it (not so behind a port publisher)."""

    @property
    def reserved_instance_ports(self) -> int:
        """Ports to reserve at ``up`` for instances, where none can be had later (0: a free one then)."""

    def prepare(self) -> None:
        """Before an environment is planned: sweep crashed runs' leftovers, and find (or
        fetch) what the components run from, so a missing piece is named before anything starts."""

    def record_extra(self) -> dict[str, Any]:
        """What the environment record must keep so another process can attach."""

    def open(self) -> None:
        """Once the record is saved, before the first unit: what every unit shares."""

    def spawn(self, unit: Unit) -> None:
        """Start the unit (re-using its stopped container, or creating one); do not wait."""

    def stop(self, name: str, grace_s: float) -> None:
        """SIGTERM (a paused unit thawed first), SIGKILL after ``grace_s``."""

    def kill(self, name: str) -> None:
        """SIGKILL: a crash, no shutdown hooks."""

    def pause(self, name: str) -> None: ...
    def resume(self, name: str) -> None: ...
    def state(self, name: str) -> UnitState: ...
    def pid(self, name: str) -> int | None:
        """The unit's main process id (as the host sees it), when there is one to show."""

    def exit_reason(self, name: str) -> str | None:
        """Why a unit being started is no longer there ("exited with code 3"), or None."""

    def engine_logs(self, name: str) -> str | None:
        """The log the engine keeps of an infrastructure component; None when the unit
        writes its own log file (``<env dir>/logs/<name>.log``)."""

    def instance_port(self) -> tuple[int, list[int]]:
        """A port for a new instance, and the ports to release once it listens."""

    def new_instance(self, instance: str) -> dict[str, Any]:
        """Backend fields to record with a new instance (e.g. its container's name)."""

    def forget(self, name: str) -> None:
        """After an instance was stopped: drop what the backend holds of it."""

    def remove(self, record: EnvRecord) -> None:
        """Remove every process or container of the environment (its directory stays)."""
