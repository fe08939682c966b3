"""JSON-lines logging on stdout, the services' half of the history contract.

chaoskit's history recorder parses these lines to learn every event's fate, so the
field names are fixed: time (unix epoch float seconds), service, level, event_id,
trace_id, kind, message, then extra fields. `kind` is one of HISTORY_KINDS at the
moment the event reaches that point, or null for any other line. Each line is written
whole and flushed at once so a killed process never leaves half a line behind a
complete one.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO

HISTORY_KINDS = frozenset(
    {
        "produced",
        "acked",
        "consumed",
        "attempted",
        "failed",
        "dead-lettered",
        "redriven",
        "applied",
        "alerted",
        "committed",
    }
)
LEVELS = frozenset({"info", "warning", "error"})
_RESERVED = frozenset({"time", "service", "level", "event_id", "trace_id", "kind", "message"})


class JsonLog:
    """A thread-safe writer of one JSON object per line for one service."""

    def __init__(self, service: str, stream: TextIO | None = None) -> None:
        self.service = service
        self._stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()

    def emit(
        self,
        level: str,
        message: str,
        *,
        kind: str | None = None,
        event_id: str | None = None,
        trace_id: str | None = None,
        **fields: Any,
    ) -> None:
        if level not in LEVELS:
            raise ValueError(f"log level {level!r} is not one of {sorted(LEVELS)}")
        if kind is not None and kind not in HISTORY_KINDS:
            raise ValueError(f"log kind {kind!r} is not one of {sorted(HISTORY_KINDS)}")
        clash = _RESERVED.intersection(fields)
        if clash:
            raise ValueError(f"extra log fields {sorted(clash)} would overwrite the fixed fields")
        record: dict[str, Any] = {
            "time": time.time(),
            "service": self.service,
            "level": level,
            "event_id": event_id,
            "trace_id": trace_id,
            "kind": kind,
            "message": message,
        }
        record.update(fields)
        line = json.dumps(record, default=str, separators=(",", ":")) + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()

    def info(self, message: str, **kwargs: Any) -> None:
        self.emit("info", message, **kwargs)

    def warning(self, message: str, **kwargs: Any) -> None:
        self.emit("warning", message, **kwargs)

    def error(self, message: str, **kwargs: Any) -> None:
        self.emit("error", message, **kwargs)
