"""Losing a stateful component (the Kafka broker, Redis) and getting it back.

``mode`` is how it is lost: ``kill`` (the process crashes), ``pause`` (it hangs with its
sockets open) or ``cut`` (it runs, but every proxied link to it is down, so no client
reaches it while the framework's direct observers still do). ``data`` is what the heal
finds: ``kept`` (a restart recovers its log from disk) or ``lost`` (the runtime wipes it
and starts it empty; Kafka's topics are re-created, empty).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from chaoskit.faults.fault import Fault
from chaoskit.faults.partition import cut_link
from chaoskit.faults.process import bring_back, resume, wipe

if TYPE_CHECKING:
    from chaoskit.faults.bookkeeping import FaultState
    from chaoskit.topology import Link

MODES = ("kill", "pause", "cut")
DATA = ("kept", "lost")


class ComponentLoss(Fault):
    def __init__(
        self, state: FaultState, name: str, component: str, mode: str, data: str, links: Sequence[Link]
    ) -> None:
        super().__init__(state, name, component, {"mode": mode, "data": data})
        self.component = component
        self.mode = mode
        self.data = data
        self.links = tuple(links)
        # A cut with data kept leaves the process alone, so it composes with process faults.
        self.holds = (component,) if mode != "cut" or data == "lost" else ()

    @property
    def code(self) -> str:
        return f"faults.{self.name}(mode={self.mode!r}, data={self.data!r})"

    def _apply(self) -> None:
        state, component = self._state, self.component
        if self.mode == "cut":
            for link in self.links:
                self._on_heal(f"enable proxy {link.proxy_name} ({link.name})", cut_link(state, link))
        elif self.data == "kept":
            back = bring_back if self.mode == "kill" else resume
            self._on_heal(f"bring {component} back with its data", lambda: back(state, component))
        if self.data == "lost":
            # Registered last so it runs first on heal: a cut link reopens on an empty component.
            self._on_heal(f"wipe {component} and start it empty", lambda: wipe(state, component))
        if self.mode != "cut":
            with state.runtime_lock:
                getattr(state.runtime, self.mode)(component)
