"""Request records and the statistics made from them.

A :class:`RequestRecord` is one request the load sent and what came of it: ``ok`` means
the system acknowledged the event (HTTP 202 from order-service, or a successful Kafka
delivery report). The driver writes them to ``events.jsonl`` in batches, one line per
batch (a second of one process's records): a JSON array of records, each an array in
:class:`RequestRecord`'s field order (the Kafka user makes tens of thousands a second; one
``orjson.dumps`` per batch of plain tuples costs a fraction of a JSON object per record).
One :class:`SecondStats` per second goes to ``stats.jsonl``; the parent reads both back,
also while the driver still writes. With workers, the master writes both files for the
whole run (the workers send it their batches, already encoded).

Percentiles here are exact (nearest rank over every latency), not Locust's bucketed
approximations, because the records are all at hand anyway.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

import orjson

from chaoskit.observe.phases import percentile


class RequestRecord(NamedTuple):
    """A NamedTuple, not a dataclass: made tens of thousands of times a second. The driver
    keeps plain tuples of these fields (``encode_records``), the parent these."""

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
    def from_json(cls, data: dict[str, Any]) -> SecondStats:
        return cls(**data)


# A request record as the load process keeps it: a plain tuple of RequestRecord's fields.
Row = tuple[str, str, str, int, bool, float, float, "str | None"]
# Literal indices, so a type checker knows each field's type; checked against the fields below.
OK: Final = 4
LATENCY_MS: Final = 6
ERROR: Final = 7
assert [RequestRecord._fields[i] for i in (OK, LATENCY_MS, ERROR)] == ["ok", "latency_ms", "error"]
_ERROR_LENGTH = 300


def describe_error(exception: BaseException) -> str:
    """A record's ``error``: the exception's text, cut to a few hundred characters."""
    text = str(exception) or type(exception).__name__
    return text if len(text) <= _ERROR_LENGTH else text[: _ERROR_LENGTH - 3] + "..."


def summarize(records: Iterable[Sequence[Any]]) -> Summary:
    """Counts and percentiles of records, or of the driver's plain tuples of their fields."""
    latencies: list[float] = []
    failures = 0
    for record in records:
        latencies.append(record[LATENCY_MS])
        failures += not record[OK]
    return summarize_latencies(latencies, failures)


def summarize_latencies(latencies: list[float], failures: int) -> Summary:
    """Counts and exact percentiles of the latencies of some records (sorts the list in place)."""
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
    """The files of one load process, in its run's directory: its driver writes them, the
    parent reads them (also while the run goes on). Process 0 is the only process or
    Locust's master, and only it writes ``events`` and ``stats`` (the whole run's); local
    workers ``1..N`` have their own ``config``, ``status`` and ``log``."""

    dir: Path
    process: int = 0

    @property
    def config(self) -> Path:
        """Written by the parent: ``{"role", "parent_pid", "process"}`` and, for process 0,
        ``"config"`` (a LoadConfig), for a worker ``"master_host"`` and ``"master_port"``."""
        return self.dir / f"config-{self.process}.json"

    @property
    def status(self) -> Path:
        """Replaced atomically by the driver: ``running`` once started, ``stopped`` at the end
        (a master is ``listening``, with its ``master_port``, while it waits for workers)."""
        return self.dir / f"status-{self.process}.json"

    @property
    def stats(self) -> Path:
        return self.dir / f"stats-{self.process}.jsonl"

    @property
    def events(self) -> Path:
        return self.dir / f"events-{self.process}.jsonl"

    @property
    def log(self) -> Path:
        return self.dir / f"driver-{self.process}.log"


def encode_records(rows: Sequence[Row]) -> bytes:
    """One line of ``events.jsonl``: a batch as a JSON array of field arrays."""
    return orjson.dumps(rows) + b"\n"


def read_batches(path: Path) -> list[list[RequestRecord]]:
    """The records of the complete lines of ``events.jsonl``, a list per line (per batch)."""
    make = RequestRecord._make
    return [[make(row) for row in orjson.loads(line)] for line in _complete_lines(path)]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete line of a JSONL file the driver may still be appending to."""
    return [orjson.loads(line) for line in _complete_lines(path)]


def _complete_lines(path: Path) -> list[bytes]:
    """A last line without its newline is a write in progress: left for the next read."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return [line for line in data.split(b"\n")[:-1] if line]
