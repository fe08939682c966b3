"""What one ``Faults`` object has changed in the environment right now.

Faults compose: two latencies on one link stack (each has its own toxic names), a link cut
by two faults comes back only when both healed (a reference count per proxy), and process
faults on one component cannot overlap (a hold per component: killing a paused broker, or
restarting one another fault keeps down, has no sensible heal). Faults run from the test's
thread and from schedule threads at once, so the bookkeeping is guarded by locks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from chaoskit.errors import ChaoskitError, ConfigError
from chaoskit.runtime.toxiproxy import ToxiproxyAPI

if TYPE_CHECKING:
    from chaoskit.runtime.base import Runtime


class ActiveFault(Protocol):
    """What the bookkeeping needs of a fault (``fault.Fault`` is one; declared here, since
    faults and schedules hold this state, so it cannot import them back)."""

    name: str
    target: str
    params: Mapping[str, Any]
    holds: tuple[str, ...]

    def heal(self) -> None: ...


class Schedule(Protocol):
    """What the bookkeeping needs of a running schedule (``schedule.Schedule`` is one)."""

    def stop(self) -> None: ...


class TimelineWriter(Protocol):
    """The part of ``chaoskit.observe.timeline.Timeline`` faults write to."""

    def record_inject(self, name: str, target: str, params: dict[str, Any], at: float) -> Any: ...

    def record_heal(self, id: Any, at: float) -> Any: ...


class CutCounts:
    """Reference counts of cuts per proxy: disabled on the first cut, enabled on the last heal.

    The Toxiproxy call is made before the count changes, so a failed call leaves the count
    telling the truth (a failed enable keeps the proxy counted as cut, to be retried).
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def count(self, proxy: str) -> int:
        return self._counts.get(proxy, 0)

    def cut(self, proxy: str, disable: Callable[[], None]) -> None:
        if self.count(proxy) == 0:
            disable()
        self._counts[proxy] = self.count(proxy) + 1

    def uncut(self, proxy: str, enable: Callable[[], None]) -> None:
        held = self.count(proxy)
        if held == 0:
            raise ChaoskitError(f"proxy {proxy!r} is not cut by any fault; nothing to heal")
        if held == 1:
            enable()
            del self._counts[proxy]
        else:
            self._counts[proxy] = held - 1


class FaultState:
    """Shared by the faults and schedules one ``Faults`` object builds."""

    def __init__(self, runtime: Runtime, timeline: TimelineWriter | None) -> None:
        self.runtime = runtime
        self.timeline = timeline
        self.lock = threading.RLock()  # active, holds, timeline
        self.proxy_lock = threading.Lock()  # cut counts together with the enable/disable call
        self.runtime_lock = threading.RLock()  # the runtime's record is not safe for concurrent writes
        self.cuts = CutCounts()
        self.active: list[ActiveFault] = []
        self.holds: dict[str, ActiveFault] = {}
        self.schedules: list[Schedule] = []

    @property
    def toxiproxy(self) -> ToxiproxyAPI:
        return self.runtime.toxiproxy

    def begin(self, fault: ActiveFault) -> None:
        """Register ``fault`` as active, refusing a second process fault on a held component."""
        with self.lock:
            if fault in self.active:
                raise ChaoskitError(f"{fault} is already injected; heal it before injecting it again")
            for component in fault.holds:
                holder = self.holds.get(component)
                if holder is not None:
                    raise ConfigError(
                        f"{fault}: {component} is already held by {holder}; process faults on one component "
                        f"cannot overlap (heal {holder.name} first, or cut its links instead, which compose)"
                    )
            self.active.append(fault)
            for component in fault.holds:
                self.holds[component] = fault

    def end(self, fault: ActiveFault) -> None:
        with self.lock:
            if fault in self.active:
                self.active.remove(fault)
            for component in fault.holds:
                if self.holds.get(component) is fault:
                    del self.holds[component]

    def record_inject(self, fault: ActiveFault, at: float) -> Any:
        if self.timeline is None:
            return None
        with self.lock:
            return self.timeline.record_inject(fault.name, fault.target, dict(fault.params), at)

    def record_heal(self, record_id: Any, at: float) -> None:
        if self.timeline is None:
            return
        with self.lock:
            self.timeline.record_heal(record_id, at)
