"""``Faults``: where an experiment gets its faults, for one runtime and one timeline.

Every method checks its arguments against the topology and returns a ``Fault`` without
touching anything; the fault acts when injected (``with``, ``inject()`` or a schedule).
Only ``runtime.topology`` is read until then, so a misspelt fault (``faults.latnecy``), an
unknown keyword (``milis=300``), component or link is a ``ConfigError`` that needs no
running component, names the likely intent and lists what there is.
Every inject and heal is recorded on the timeline, and ``heal_all()`` heals whatever is
still active, schedules included (the pytest plugin calls it in teardown).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from chaoskit.errors import ConfigError, did_you_mean
from chaoskit.faults import params
from chaoskit.faults.bookkeeping import ActiveFault, FaultState, TimelineWriter
from chaoskit.faults.fault import Fault, HealError
from chaoskit.faults.loss import DATA, MODES, ComponentLoss
from chaoskit.faults.network import ToxicFault
from chaoskit.faults.params import Direction
from chaoskit.faults.partition import Cut
from chaoskit.faults.process import ProcessFault
from chaoskit.faults.schedule import Schedule, ScheduleError, parse_steps
from chaoskit.faults.signals import deferred_interrupts

if TYPE_CHECKING:
    from chaoskit.runtime.base import Runtime
    from chaoskit.topology import Link

_P = ParamSpec("_P")
_R = TypeVar("_R")
_FAULT_NAMES: list[str] = []


def _checked(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Arguments that do not fit ``method`` are a ConfigError naming the parameters there are,
    not Python's bare TypeError: the signature is bound before the method runs, so a TypeError
    from inside it is never mistaken for the caller's."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            signature.bind(*args, **kwargs)
        except TypeError as err:
            raise ConfigError(params.arguments(method.__name__, signature, kwargs, err)) from None
        return method(*args, **kwargs)

    return call


def _fault(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """A method that builds a fault: its arguments are checked, its name is one of FAULT_NAMES."""
    _FAULT_NAMES.append(method.__name__)
    return _checked(method)


class Faults:
    """Builds faults against ``runtime``'s topology and records them on ``timeline``."""

    def __init__(self, runtime: Runtime, timeline: TimelineWriter | None = None) -> None:
        self.runtime = runtime
        self.timeline = timeline
        self._state = FaultState(runtime, timeline)

    if not TYPE_CHECKING:  # mypy keeps refusing unknown attributes in typed experiments

        def __getattr__(self, name: str) -> Any:
            """``faults.latnecy(...)`` is an experiment error naming the faults there are, not a
            bare AttributeError. Private and dunder names keep Python's AttributeError: copy,
            pickle, pytest and mocks probe them and rely on it."""
            if name.startswith("_"):
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            others = sorted({n for n in dir(self) if not n.startswith("_")} - set(FAULT_NAMES))
            raise ConfigError(
                f"faults.{name}: unknown fault {name!r}{did_you_mean(name, [*FAULT_NAMES, *others])}; "
                f"the faults are {', '.join(FAULT_NAMES)} (and Faults also has {', '.join(others)})"
            )

    @property
    def active(self) -> list[ActiveFault]:
        """The faults injected and not yet healed, oldest first."""
        with self._state.lock:
            return list(self._state.active)

    # -- network faults on one link (Toxiproxy toxics) --------------------------------------
    def _toxic(
        self,
        kind: str,
        client: str,
        component: str,
        attributes: dict[str, Any],
        shown: dict[str, Any],
        direction: Any,
        toxicity: Any,
    ) -> ToxicFault:
        """A toxic of type ``kind``; ``shown`` is what the user passed, by the names they used."""
        link = params.link(self.runtime.topology, kind, client, component)
        direction_ = params.direction(kind, direction)
        return ToxicFault(self._state, kind, link, attributes, direction_, params.toxicity(kind, toxicity), shown)

    @_fault
    def latency(
        self,
        client: str,
        component: str,
        ms: float,
        jitter: float = 0,
        *,
        direction: Direction = "downstream",
        toxicity: float = 1.0,
    ) -> ToxicFault:
        """Delay data by ``ms`` ± ``jitter``. Downstream by default: each round trip gets
        ``ms`` once (``"both"`` delays requests and responses, twice per round trip)."""
        ms_ = params.whole("latency", "ms", ms, unit="milliseconds")
        jitter_ = params.whole("latency", "jitter", jitter, unit="milliseconds")
        attributes = {"latency": ms_, "jitter": jitter_}
        shown = {"ms": ms_, "jitter": jitter_}
        return self._toxic("latency", client, component, attributes, shown, direction, toxicity)

    @_fault
    def bandwidth(
        self, client: str, component: str, kbps: float, *, direction: Direction = "both", toxicity: float = 1.0
    ) -> ToxicFault:
        """Limit the link to ``kbps`` kilobytes per second (KB/s, Toxiproxy's ``rate`` unit), both ways by default."""
        rate = params.whole(
            "bandwidth", "kbps", kbps, minimum=1, unit="KB/s; Toxiproxy reads 0 as unlimited, cut with down()"
        )
        return self._toxic("bandwidth", client, component, {"rate": rate}, {"kbps": rate}, direction, toxicity)

    @_fault
    def timeout(
        self, client: str, component: str, ms: float = 0, *, direction: Direction = "both", toxicity: float = 1.0
    ) -> ToxicFault:
        """The connection hangs: data is dropped, and it is closed after ``ms`` without data (0: never).
        Healing closes the connections it hung, as Toxiproxy does."""
        ms_ = params.whole("timeout", "ms", ms, unit="milliseconds; 0 = hang forever")
        return self._toxic("timeout", client, component, {"timeout": ms_}, {"ms": ms_}, direction, toxicity)

    @_fault
    def reset_peer(
        self, client: str, component: str, ms: float = 0, *, direction: Direction = "upstream", toxicity: float = 1.0
    ) -> ToxicFault:
        """Connections are reset (TCP RST) ``ms`` after data arrives. Upstream by default: the
        request that triggers it never reaches the component."""
        ms_ = params.whole("reset_peer", "ms", ms, unit="milliseconds")
        return self._toxic("reset_peer", client, component, {"timeout": ms_}, {"ms": ms_}, direction, toxicity)

    @_fault
    def slicer(
        self,
        client: str,
        component: str,
        average_size: int,
        size_variation: int = 0,
        delay_us: int = 0,
        *,
        direction: Direction = "downstream",
        toxicity: float = 1.0,
    ) -> ToxicFault:
        """Split data into writes of ``average_size`` ± ``size_variation`` bytes, ``delay_us`` microseconds apart."""
        size = params.whole("slicer", "average_size", average_size, minimum=1, unit="bytes")
        variation = params.whole("slicer", "size_variation", size_variation, unit="bytes")
        if variation >= size:
            raise ConfigError(
                f"slicer(size_variation={size_variation!r}): size_variation must be smaller than "
                f"average_size ({size}), so every slice has at least one byte"
            )
        delay = params.whole("slicer", "delay_us", delay_us, unit="microseconds")
        attributes = {"average_size": size, "size_variation": variation, "delay": delay}
        shown = {"average_size": size, "size_variation": variation, "delay_us": delay}
        return self._toxic("slicer", client, component, attributes, shown, direction, toxicity)

    @_fault
    def limit_data(
        self, client: str, component: str, bytes: int, *, direction: Direction = "downstream", toxicity: float = 1.0
    ) -> ToxicFault:
        """Close each connection once ``bytes`` have passed in the direction (a running total per connection)."""
        limit = params.whole("limit_data", "bytes", bytes, unit="bytes")
        return self._toxic("limit_data", client, component, {"bytes": limit}, {"bytes": limit}, direction, toxicity)

    @_fault
    def slow_close(
        self, client: str, component: str, ms: float, *, direction: Direction = "downstream", toxicity: float = 1.0
    ) -> ToxicFault:
        """When one side closes, the other side is closed only ``ms`` later."""
        ms_ = params.whole("slow_close", "ms", ms, unit="milliseconds")
        return self._toxic("slow_close", client, component, {"delay": ms_}, {"ms": ms_}, direction, toxicity)

    # -- cuts -------------------------------------------------------------------------------
    @_fault
    def down(self, client: str, component: str) -> Cut:
        """The link is cut: its proxy is disabled, new connects are refused, open ones dropped."""
        link = params.link(self.runtime.topology, "down", client, component)
        return Cut(self._state, "down", link.name, [link])

    @_fault
    def partition(self, links: Iterable[tuple[str, str] | str]) -> Cut:
        """Cut a set of links at once, e.g. ``[("workflow-service", "kafka")]``; the others stay up."""
        cut = params.links(self.runtime.topology, "partition", links)
        names = [link.name for link in cut]
        return Cut(self._state, "partition", ", ".join(names), cut, {"links": names})

    @_fault
    def isolate(self, component: str) -> Cut:
        """Cut every proxied link from ``component`` and to it: nothing it talks to answers it,
        nothing that talks to it reaches it."""
        topology = self.runtime.topology
        params.component(topology, "isolate", component)
        cut = _unique([*topology.links_from(component), *topology.links_to(component)])
        if not cut:
            known = ", ".join(link.name for link in topology.links) or "none"
            raise params.TargetError(
                f"isolate({component!r}): {component} has no proxied links; the links are: {known}"
            )
        return Cut(self._state, "isolate", component, cut, {"links": [link.name for link in cut]})

    # -- process faults ---------------------------------------------------------------------
    def _process(self, name: str, component: str) -> ProcessFault:
        return ProcessFault(self._state, name, params.component(self.runtime.topology, name, component))

    @_fault
    def kill(self, component: str) -> ProcessFault:
        """SIGKILL (a crash, no shutdown hooks); heal starts it again and waits until healthy."""
        return self._process("kill", component)

    @_fault
    def stop(self, component: str) -> ProcessFault:
        """SIGTERM (a graceful shutdown); heal starts it again and waits until healthy."""
        return self._process("stop", component)

    @_fault
    def pause(self, component: str) -> ProcessFault:
        """SIGSTOP: a hung process whose sockets stay open; heal resumes it."""
        return self._process("pause", component)

    @_fault
    def restart(self, component: str) -> ProcessFault:
        """A graceful restart, done when injected (and healthy again); heal has nothing to undo."""
        return self._process("restart", component)

    # -- losing a stateful component --------------------------------------------------------
    def _loss(self, name: str, kind: str, mode: Any, data: Any) -> ComponentLoss:
        topology = self.runtime.topology
        mode_ = params.choice(name, "mode", mode, MODES)
        data_ = params.choice(name, "data", data, DATA)
        comp = topology.of_kind(kind)
        if comp is None:
            raise params.TargetError(f"{name}(): the topology {topology.path.name} has no component of kind {kind}")
        links = topology.links_to(comp.name)
        if mode_ == "cut" and not links:
            raise params.TargetError(
                f"{name}(mode='cut'): no proxied links lead to {comp.name}, so there is nothing to cut"
            )
        return ComponentLoss(self._state, name, comp.name, mode_, data_, links)

    @_fault
    def broker_loss(self, mode: str = "kill", data: str = "kept") -> ComponentLoss:
        """Lose the Kafka broker: ``mode`` kill | pause | cut (every link to it down at once),
        ``data`` kept (a restart finds its log) | lost (wiped; topics re-created empty)."""
        return self._loss("broker_loss", "kafka", mode, data)

    @_fault
    def redis_loss(self, mode: str = "kill", data: str = "kept") -> ComponentLoss:
        """Lose Redis, like ``broker_loss``: ``mode`` kill | pause | cut, ``data`` kept | lost."""
        return self._loss("redis_loss", "redis", mode, data)

    # -- schedules and cleanup --------------------------------------------------------------
    @_checked
    def schedule(self, steps: Iterable[tuple[float, Fault, float]]) -> Schedule:
        """A schedule ``[(at_s, fault, duration_s), ...]``, checked now; ``with`` runs it in the
        background and heals everything when the block exits."""
        return Schedule(self._state, parse_steps(steps, self._state))

    @_checked
    def run_schedule(self, steps: Iterable[tuple[float, Fault, float]]) -> None:
        """Run a schedule to its end (blocking), then heal what is left."""
        with self.schedule(steps) as running:
            running.wait()

    def heal_all(self) -> None:
        """Stop every schedule and heal every active fault, newest first; every heal is tried,
        then one ``HealError`` lists what failed."""
        failures: list[tuple[str, BaseException]] = []
        with deferred_interrupts():
            with self._state.lock:
                schedules = list(self._state.schedules)
            for running in schedules:
                try:
                    running.stop()
                except ScheduleError as err:
                    failures.extend(err.failures)
            for fault in reversed(self.active):
                try:
                    fault.heal()
                except HealError as err:
                    failures.extend(err.failures)
        if failures:
            raise HealError(failures)


FAULT_NAMES: tuple[str, ...] = tuple(sorted(_FAULT_NAMES))
"""Every fault a ``Faults`` builds, by method name (``latency``, ``kill``, ...)."""


def _unique(links: list[Link]) -> list[Link]:
    return list(dict.fromkeys(links))
