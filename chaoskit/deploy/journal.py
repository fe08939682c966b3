"""Every deploy decision, written down twice: a JSON log line and a mark on the timeline.

The log line has the services' shape (time, service, level, event_id, trace_id, kind,
message, then fields), with ``service`` = ``deployer`` and ``kind`` null, so central log
collection reads it next to the services' lines. On the timeline a decision is a point
(a window that opens and closes at the same instant; the Timeline has no point API yet)
and a canary's life is a window, so a check that explains an offending event can say it
fell while canary v2 was serving.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol, TextIO

SERVICE = "deployer"


class TimelineLike(Protocol):
    def record_inject(self, name: str, target: str, params: Mapping[str, Any], at: float | None = None) -> int: ...
    def record_heal(self, window_id: int, at: float | None = None) -> None: ...


def record_point(timeline: TimelineLike, name: str, target: str, params: Mapping[str, Any], at: float) -> int:
    """A zero-length window: the thin point-event wrapper over ``record_inject``/``record_heal``."""
    window_id = timeline.record_inject(name, target, params, at)
    timeline.record_heal(window_id, at)
    return window_id


class Journal:
    """The decisions of one or more deploys, in order; ``entries`` keeps them for reports."""

    def __init__(self, timeline: TimelineLike | None = None, stream: TextIO | None = None) -> None:
        self.timeline = timeline
        self._stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()
        self.entries: list[dict[str, Any]] = []

    def record(
        self,
        decision: str,
        message: str,
        *,
        target: str,
        level: str = "info",
        at: float | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Log one decision (start, step, promote, rollback, alert...) and mark it on the timeline."""
        now = time.time() if at is None else at
        entry: dict[str, Any] = {
            "time": now,
            "service": SERVICE,
            "level": level,
            "event_id": None,
            "trace_id": None,
            "kind": None,
            "message": message,
            "decision": decision,
            "target": target,
            **fields,
        }
        line = json.dumps(entry, default=str, separators=(",", ":"))
        with self._lock:
            self.entries.append(entry)
            self._stream.write(line + "\n")
            self._stream.flush()
        if self.timeline is not None:
            record_point(self.timeline, f"deploy {decision}", target, {"message": message, **fields}, now)
        return entry

    def open_window(self, name: str, target: str, params: Mapping[str, Any], at: float) -> int | None:
        """Open a span on the timeline (e.g. a canary serving); None when there is no timeline."""
        return None if self.timeline is None else self.timeline.record_inject(name, target, params, at)

    def close_window(self, window_id: int | None, at: float) -> None:
        if self.timeline is not None and window_id is not None:
            self.timeline.record_heal(window_id, at)
