"""The Fault base class: inject, heal, a name, a target and parameters.

A fault records how to undo each change *before* making it, so a change that fails or
times out half-way is still undone, and a heal that fails part-way keeps the steps that
did not succeed for the next attempt (``heal()`` again, or ``Faults.heal_all()``). Heal
runs every step even when one fails and raises one ``HealError`` listing the failures.
Ctrl-C cannot split an inject or a heal (see ``signals.py``).

The timeline window opens at the time inject *started* and closes when heal has
*finished*: the widest span in which the fault may have acted (a broker being killed, or
still restarting, is already or still a fault), so a check never blames an event that
fell in that span on something else.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any

from chaoskit.errors import ChaoskitError
from chaoskit.faults.signals import deferred_interrupts

if TYPE_CHECKING:
    from typing import Self

    from chaoskit.faults.bookkeeping import FaultState


class HealError(ChaoskitError):
    """Some heal steps failed; every other step was still done. ``failures`` lists them."""

    def __init__(self, failures: list[tuple[str, BaseException]]) -> None:
        self.failures = failures
        listed = "; ".join(f"{what}: {err}" for what, err in failures)
        super().__init__(
            f"{len(failures)} heal step(s) failed, every other step was done: {listed}. "
            f"Heal again once the cause is fixed (fault.heal() or faults.heal_all()), "
            f"or reset the environment (runtime.reset())."
        )


class Fault(ABC):
    """One fault. Use it as ``with fault: ...``, call ``inject()``/``heal()``, or schedule it.

    ``name`` is the fault kind (``latency``, ``down``, ``kill``, ...), ``target`` what it hits
    (a link ``client->component``, a component, or a list of links), ``params`` its
    parameters with defaults filled in. Those three are what the timeline records; ``code``
    is the call that builds the fault again, so a failing schedule can be printed and replayed.
    """

    #: components a process fault holds while active (no other process fault may touch them)
    holds: tuple[str, ...] = ()

    def __init__(self, state: FaultState, name: str, target: str, params: Mapping[str, Any]) -> None:
        self._state = state
        self.name = name
        self.target = target
        self.params: Mapping[str, Any] = MappingProxyType(dict(params))
        self._undo: list[tuple[str, Callable[[], None]]] = []
        self._record: Any = None
        self._busy = threading.Lock()  # one inject or heal of this fault at a time, whichever thread

    @property
    def active(self) -> bool:
        """True from a successful inject until a complete heal."""
        with self._state.lock:
            return self in self._state.active

    def inject(self) -> Self:
        """Apply the fault. On failure, whatever was applied is undone before the error is raised."""
        with deferred_interrupts(), self._busy:
            self._state.begin(self)
            started = time.time()
            try:
                self._apply()
            except BaseException as err:
                leftovers = self._unwind()
                for what, problem in leftovers:
                    err.add_note(f"while undoing {self}: {what} failed: {problem}")
                if leftovers:
                    err.add_note(f"{self} stays active; heal() or faults.heal_all() retries those steps")
                else:
                    self._state.end(self)
                raise
            self._record = self._state.record_inject(self, started)
        return self

    def heal(self) -> None:
        """Undo the fault (a no-op when not active); raises ``HealError`` after trying every step."""
        with deferred_interrupts(), self._busy:
            if not self.active:
                return
            failures = self._unwind()
            if failures:
                raise HealError([(f"{self}: {what}", err) for what, err in failures])
            if self._record is not None:
                self._state.record_heal(self._record, time.time())
                self._record = None
            self._state.end(self)

    @property
    @abstractmethod
    def code(self) -> str:
        """The ``faults.<kind>(...)`` call that builds this fault again."""

    @abstractmethod
    def _apply(self) -> None:
        """Make the change, calling ``_on_heal`` with each undo step before its change."""

    def _on_heal(self, what: str, undo: Callable[[], None]) -> None:
        """Register an undo step; heal runs them last-registered first."""
        self._undo.append((what, undo))

    def _unwind(self) -> list[tuple[str, BaseException]]:
        failures: list[tuple[str, BaseException]] = []
        kept: list[tuple[str, Callable[[], None]]] = []
        while self._undo:
            what, undo = self._undo.pop()
            try:
                undo()
            except Exception as err:  # every step runs; the failures are reported together
                failures.append((what, err))
                kept.append((what, undo))
        self._undo = kept[::-1]
        return failures

    def __enter__(self) -> Self:
        try:
            return self.inject()
        except BaseException:
            # A Ctrl-C held back during inject arrives here, after the fault took effect,
            # and __exit__ will not run for it: heal now (a no-op if the inject failed).
            self.heal()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.heal()
        except HealError as err:
            if exc is None:
                raise
            exc.add_note(str(err))

    def __str__(self) -> str:
        shown = ", ".join([self.target, *(f"{key}={value!r}" for key, value in self.params.items())])
        return f"{self.name}({shown})"

    __repr__ = __str__
