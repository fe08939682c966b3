"""Service log lines → observations: the other pure half of the recorder.

Services log one JSON object per line: ``time`` (unix seconds), ``service``, ``level``,
``event_id``, ``trace_id``, ``kind`` (a history kind, or null for ordinary lines),
``message``, then extra fields. A line with a kind is an observation at ``where =
service`` whose detail is the extra fields (attempt, error, version, key...). A log is
written by a process that may be killed mid-line, so a file read never fails on a bad
line: it skips it, counts it, and keeps a few examples for the report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from chaoskit.observe.history import Kind, Observation

FIXED_FIELDS = frozenset({"time", "service", "level", "event_id", "trace_id", "kind", "message"})
EXAMPLES_KEPT = 5


class UnparseableLine(ValueError):
    """A log line that is not a valid JSON log record with a history kind."""


def observation_from_log_line(line: str | bytes) -> Observation | None:
    """The observation a line records, or None for a valid line without a kind."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise UnparseableLine("not JSON") from None
    if not isinstance(record, dict):
        raise UnparseableLine("JSON but not an object")
    kind = record.get("kind")
    if kind is None:
        return None
    try:
        kind = Kind(kind)
    except ValueError:
        raise UnparseableLine(f"kind {kind!r} is not one of {[k.value for k in Kind]}") from None
    time_s, event_id, service = record.get("time"), record.get("event_id"), record.get("service")
    if isinstance(time_s, bool) or not isinstance(time_s, (int, float)):
        raise UnparseableLine(f"time {time_s!r} is not a number of seconds")
    if not event_id or not isinstance(event_id, str):
        raise UnparseableLine(f"a {kind} line without an event_id")
    if not service or not isinstance(service, str):
        raise UnparseableLine(f"a {kind} line without a service")
    trace_id = record.get("trace_id")
    detail = {name: value for name, value in record.items() if name not in FIXED_FIELDS}
    return Observation(float(time_s), event_id, str(trace_id) if trace_id else None, kind, service, detail)


@dataclass
class LogRead:
    """What reading some log files gave: the observations and the lines that were skipped."""

    observations: list[Observation] = field(default_factory=list)
    lines: int = 0
    skipped: int = 0
    examples: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def add(self, lines: Iterable[bytes], source: str) -> None:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            self.lines += 1
            try:
                observation = observation_from_log_line(raw)
            except UnparseableLine as exc:
                self.skipped += 1
                if len(self.examples) < EXAMPLES_KEPT:
                    self.examples.append(f"{source}:{number}: {exc}: {_shorten(raw)}")
                continue
            if observation is not None:
                self.observations.append(observation)


def read_logs(paths: Iterable[str | Path]) -> LogRead:
    """Parse every line of the given files (a missing file is listed in ``missing``)."""
    read = LogRead()
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            read.missing.append(str(path))
            continue
        read.add(data.splitlines(), str(path))
    return read


def _shorten(raw: bytes, limit: int = 120) -> str:
    text = raw.decode("utf-8", "replace").rstrip("\n")
    return text if len(text) <= limit else text[:limit] + "…"
