"""Process faults through the runtime: kill (SIGKILL), stop (SIGTERM), pause (SIGSTOP), restart.

A killed or stopped component is started again on heal, a paused one resumed, and the heal
returns only when the component answers its health probe again, so whatever follows the
fault block meets a working system. The probes connect directly, never through a proxy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaoskit.faults.fault import Fault
from chaoskit.runtime import health
from chaoskit.runtime.probes import answers

if TYPE_CHECKING:
    from chaoskit.faults.bookkeeping import FaultState
    from chaoskit.runtime.base import Runtime

HEAL_TIMEOUT_S = 90.0
KINDS = ("kill", "stop", "pause", "restart")


def wait_answers(runtime: Runtime, component: str) -> None:
    comp = runtime.topology.component(component)
    endpoint = runtime.endpoint(component)
    health.wait_for(
        lambda: answers(comp, endpoint, runtime.topology.topics) is not False,
        HEAL_TIMEOUT_S,
        f"{component} healthy after heal",
    )


def bring_back(state: FaultState, component: str) -> None:
    """Start a killed or stopped component (restart is a start when nothing runs) and wait for it."""
    with state.runtime_lock:
        state.runtime.restart(component)
    wait_answers(state.runtime, component)


def resume(state: FaultState, component: str) -> None:
    with state.runtime_lock:
        state.runtime.resume(component)
    wait_answers(state.runtime, component)


def wipe(state: FaultState, component: str) -> None:
    """Lose the component's data and start it fresh (Kafka gets its topics re-created)."""
    with state.runtime_lock:
        state.runtime.wipe(component)
    wait_answers(state.runtime, component)


class ProcessFault(Fault):
    """``kill``, ``stop``, ``pause`` or ``restart`` of one component."""

    def __init__(self, state: FaultState, name: str, component: str) -> None:
        super().__init__(state, name, component, {})
        self.component = component
        self.holds = (component,)

    @property
    def code(self) -> str:
        return f"faults.{self.name}({self.component!r})"

    def _apply(self) -> None:
        state, component = self._state, self.component
        if self.name in ("kill", "stop"):
            self._on_heal(f"start {component} and wait until healthy", lambda: bring_back(state, component))
        elif self.name == "pause":
            self._on_heal(f"resume {component} and wait until healthy", lambda: resume(state, component))
        with state.runtime_lock:
            getattr(state.runtime, self.name)(component)
        if self.name == "restart":
            wait_answers(state.runtime, component)
