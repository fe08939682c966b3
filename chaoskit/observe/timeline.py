"""The fault windows of an experiment: what was broken, where, and from when to when.

The fault code records every injection and heal here; the checks ask ``window_of(t)``
to say in which fault window an offending event fell, and print the windows as
seconds since the experiment's origin so a reviewer can line them up with the events.
"""

from __future__ import annotations

import threading
import time as clock
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class FaultWindow:
    id: int
    name: str
    target: str
    params: Mapping[str, Any] = field(default_factory=dict)
    injected_at: float = 0.0
    healed_at: float | None = None

    def contains(self, t: float) -> bool:
        """Injection time inclusive, heal time exclusive; an unhealed fault lasts forever."""
        return self.injected_at <= t and (self.healed_at is None or t < self.healed_at)

    def overlaps(self, start: float, end: float) -> bool:
        return self.injected_at <= end and (self.healed_at is None or start < self.healed_at)

    def label(self, origin: float) -> str:
        """``"down workflow-service->kafka" [12.3s–17.9s]``, in seconds since ``origin``."""
        healed = "not healed" if self.healed_at is None else f"{self.healed_at - origin:.1f}s"
        return f'"{self.name}" [{self.injected_at - origin:.1f}s–{healed}]'


class Timeline:
    """An append-only list of fault windows; safe to record into from several threads.

    ``origin`` is the experiment's start (unix seconds); it only changes how windows
    and events are printed. Without one, the first injection is the origin.
    """

    def __init__(self, origin: float | None = None) -> None:
        self._origin = origin
        self._windows: dict[int, FaultWindow] = {}
        self._lock = threading.Lock()

    @property
    def origin(self) -> float | None:
        if self._origin is not None:
            return self._origin
        with self._lock:
            return min((w.injected_at for w in self._windows.values()), default=None)

    def record_inject(self, name: str, target: str, params: Mapping[str, Any], at: float | None = None) -> int:
        """Open a window now (or ``at``); returns the id to close it with."""
        with self._lock:
            window_id = max(self._windows, default=-1) + 1
            injected = clock.time() if at is None else at
            self._windows[window_id] = FaultWindow(window_id, name, target, dict(params), injected)
        return window_id

    def record_heal(self, window_id: int, at: float | None = None) -> None:
        """Close a window; healing one twice keeps the first heal time (heals are idempotent)."""
        with self._lock:
            window = self._windows.get(window_id)
            if window is None:
                raise KeyError(f"no fault window with id {window_id}; recorded ids are {sorted(self._windows)}")
            if window.healed_at is None:
                healed = clock.time() if at is None else at
                self._windows[window_id] = FaultWindow(**{**asdict(window), "healed_at": healed})

    def windows(self) -> list[FaultWindow]:
        """All windows in injection order."""
        with self._lock:
            return sorted(self._windows.values(), key=lambda w: (w.injected_at, w.id))

    def windows_at(self, t: float) -> list[FaultWindow]:
        """The windows open at time ``t`` (faults may overlap)."""
        return [w for w in self.windows() if w.contains(t)]

    def window_of(self, t: float) -> str | None:
        """The name of the fault window ``t`` fell in (the latest injected if several), or None."""
        open_ = self.windows_at(t)
        return open_[-1].name if open_ else None

    def to_json(self) -> str:
        return orjson.dumps({"origin": self._origin, "windows": [asdict(w) for w in self.windows()]}).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> Timeline:
        data = orjson.loads(text)
        timeline = cls(data.get("origin"))
        timeline._windows = {w["id"]: FaultWindow(**w) for w in data["windows"]}
        return timeline
