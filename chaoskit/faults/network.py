"""Network faults on one proxied link, as Toxiproxy toxics.

Each injection adds its own toxics, named ``ck<n>-<kind>-<stream>`` with a process-wide
counter, so faults on one link stack (two latencies add up) and healing one removes only
its own toxics. ``direction="both"`` is two toxics, one per stream.
"""

from __future__ import annotations

import itertools
from functools import partial
from typing import TYPE_CHECKING, Any

from chaoskit.faults.fault import Fault
from chaoskit.faults.params import Direction, streams
from chaoskit.runtime.toxiproxy import Toxic, ToxiproxyError

if TYPE_CHECKING:
    from chaoskit.faults.bookkeeping import FaultState
    from chaoskit.topology import Link

_TOXIC_SEQ = itertools.count(1)


class ToxicFault(Fault):
    """A Toxiproxy toxic of type ``kind`` (also the fault's name) with ``attributes`` on ``link``."""

    def __init__(
        self,
        state: FaultState,
        kind: str,
        link: Link,
        attributes: dict[str, Any],
        direction: Direction,
        toxicity: float,
        shown: dict[str, Any],
    ) -> None:
        super().__init__(state, kind, link.name, {**shown, "direction": direction, "toxicity": toxicity})
        self.link = link
        self.attributes = attributes
        self.direction = direction
        self.toxicity = toxicity

    @property
    def code(self) -> str:
        keywords = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"faults.{self.name}({self.link.client!r}, {self.link.target!r}, {keywords})"

    def _apply(self) -> None:
        proxy = self.link.proxy_name
        seq = next(_TOXIC_SEQ)
        for stream in streams(self.direction):
            toxic = Toxic(
                name=f"ck{seq}-{self.name}-{stream}",
                type=self.name,
                stream=stream,
                toxicity=self.toxicity,
                attributes=dict(self.attributes),
            )
            self._on_heal(f"remove toxic {toxic.name} from proxy {proxy}", partial(self._remove, toxic.name))
            self._state.toxiproxy.add_toxic(proxy, toxic)

    def _remove(self, toxic: str) -> None:
        """Remove a toxic; one that is already gone (a reset, an add that never landed, its
        proxy deleted) is healed."""
        api = self._state.toxiproxy
        proxy = self.link.proxy_name
        try:
            api.remove_toxic(proxy, toxic)
        except ToxiproxyError:
            still = api.proxies().get(proxy)
            if still is not None and any(t.name == toxic for t in still.toxics):
                raise
