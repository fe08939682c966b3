"""Request records and the statistics made from them.

A :class:`RequestRecord` is one request the load sent and what came of it: ``ok`` means
the system acknowledged the event (HTTP 202 from order-service, or a successful Kafka
delivery report). The driver writes one per line to ``events.jsonl`` and one
:class:`SecondStats` per second to ``stats.jsonl``; the parent reads both back.

Percentiles here are exact (nearest rank over every latency), not Locust's bucketed
approximations, because the records are all at hand anyway.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Sequence

from chaoskit.load.encoding import json_repeated, json_string


class RequestRecord(NamedTuple):
    """A NamedTuple, not a dataclass: made and written tens of thousands of times a second."""

    event_id: str
    trace_id: str
    key: str
    version: int
    ok: bool
    start_time: float
    latency_ms: float
    error: str | None = None

    @property
    def end_time(self) -> float:
        return self.start_time + self.latency_ms / 1000.0

    def to_line(self) -> str:
        """Compact JSON, as ``json.dumps(self._asdict(), separators=(",", ":"))`` would write it."""
        error = "null" if self.error is None else json.dumps(self.error)
        return (
            f'{{"event_id":{json_string(self.event_id)},"trace_id":{json_string(self.trace_id)},'
            f'"key":{json_repeated(self.key)},"version":{self.version},"ok":{"true" if self.ok else "false"},'
            f'"start_time":{self.start_time!r},"latency_ms":{self.latency_ms!r},"error":{error}}}'
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RequestRecord":
        return cls(**data)


@dataclass(frozen=True)
class Summary:
    """Counts and latency percentiles (ms, None when there were no requests)."""

    requests: int
    failures: int
    p50: float | None
    p95: float | None
    p99: float | None

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class SecondStats:
    """One second of a run: the requests that completed in it and the user count."""

    time: float
    requests: int
    failures: int
    rps: float
    p50: float | None
    p95: float | None
    p99: float | None
    users: int

    def to_line(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SecondStats":
        return cls(**data)


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence (``fraction`` in 0..1)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(records: Iterable[RequestRecord]) -> Summary:
    latencies: list[float] = []
    failures = 0
    for record in records:
        latencies.append(record.latency_ms)
        failures += not record.ok
    latencies.sort()
    return Summary(
        requests=len(latencies),
        failures=failures,
        p50=percentile(latencies, 0.50),
        p95=percentile(latencies, 0.95),
        p99=percentile(latencies, 0.99),
    )


@dataclass(frozen=True)
class RunFiles:
    """The files of one load run, all in one directory: the driver writes them, the parent
    reads them (also while the run goes on)."""

    dir: Path

    @property
    def config(self) -> Path:
        """Written by the parent: ``{"config": LoadConfig, "parent_pid": int}``."""
        return self.dir / "config.json"

    @property
    def status(self) -> Path:
        """Replaced atomically by the driver: ``running`` once started, ``stopped`` at the end."""
        return self.dir / "status.json"

    @property
    def stats(self) -> Path:
        return self.dir / "stats.jsonl"

    @property
    def events(self) -> Path:
        return self.dir / "events.jsonl"

    @property
    def log(self) -> Path:
        return self.dir / "driver.log"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete line of a JSONL file the driver may still be appending to (a last
    line without its newline is a write in progress and is left for the next read)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    return [json.loads(line) for line in lines[:-1] if line]
