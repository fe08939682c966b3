"""Cut links: one (``down``), a chosen set (``partition``), or all of a component's (``isolate``).

A cut disables the link's proxy: Toxiproxy stops listening (new connects are refused) and
closes every open connection through it. Cuts are counted per proxy, so overlapping cuts
compose and a link comes back only when the last fault cutting it heals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from chaoskit.faults.fault import Fault

if TYPE_CHECKING:
    from chaoskit.faults.bookkeeping import FaultState
    from chaoskit.topology import Link


def cut_link(state: FaultState, link: Link) -> Callable[[], None]:
    """Cut one link (counted) and return the step that restores it."""
    proxy = link.proxy_name
    with state.proxy_lock:
        state.cuts.cut(proxy, lambda: state.toxiproxy.set_enabled(proxy, False))

    def restore() -> None:
        with state.proxy_lock:
            state.cuts.uncut(proxy, lambda: state.toxiproxy.set_enabled(proxy, True))

    return restore


class Cut(Fault):
    """Every link in ``links`` is down until the fault heals."""

    def __init__(
        self, state: FaultState, name: str, target: str, links: Iterable[Link], params: dict[str, Any] | None = None
    ) -> None:
        self.links = tuple(links)
        super().__init__(state, name, target, params or {})

    @property
    def code(self) -> str:
        if self.name == "down":
            return f"faults.down({self.links[0].client!r}, {self.links[0].target!r})"
        if self.name == "isolate":
            return f"faults.isolate({self.target!r})"
        return f"faults.{self.name}({[link.name for link in self.links]!r})"

    def _apply(self) -> None:
        for link in self.links:
            self._on_heal(f"enable proxy {link.proxy_name} ({link.name})", cut_link(self._state, link))
