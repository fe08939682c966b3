"""What a load run did, read back from its run directory.

Checks and reports work from here: the acknowledged event ids (the events the system
promised to process, which the delivery checks look for downstream), the per-second
series, and statistics per phase of each fault window.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

from chaoskit.load.config import LoadConfig
from chaoskit.load.phases import PhaseStats, WindowLike, phases
from chaoskit.load.records import RequestRecord, RunFiles, SecondStats, Summary, read_jsonl, read_records, summarize


@dataclass(frozen=True)
class LoadResult:
    """``complete`` is False when the driver did not finish writing (it was killed): the
    records then stop at its last full second. ``driver_cpu_s`` and ``driver_wall_s`` are
    the driver process's CPU and wall seconds (None if it was killed); ``cpu_warning`` is
    Locust's warning that the load process ran above 90% CPU, when its latencies include
    its own queueing and say less about the system. :attr:`core_share` is the same figure
    over the whole run: whether the load generator, not the system, was the bottleneck."""

    config: LoadConfig
    files: RunFiles
    seconds: list[SecondStats]
    records: list[RequestRecord]
    started_at: float
    ended_at: float
    stop_reason: str
    complete: bool
    locust_totals: dict[str, int]
    driver_cpu_s: float | None
    driver_wall_s: float | None
    cpu_warning: bool

    @classmethod
    def read(cls, files: RunFiles, config: LoadConfig) -> "LoadResult":
        status: dict[str, Any] = {}
        if files.status.exists():
            status = json.loads(files.status.read_text())
        records = read_records(files.events)
        seconds = [SecondStats.from_json(item) for item in read_jsonl(files.stats)]
        complete = status.get("state") == "stopped"
        started = status.get("started_at") or min((r.start_time for r in records), default=0.0)
        ended = status.get("ended_at") or max(
            [*(r.end_time for r in records), *(s.time for s in seconds)], default=started
        )
        return cls(
            config=config,
            files=files,
            seconds=seconds,
            records=records,
            started_at=started,
            ended_at=ended,
            stop_reason=status.get("reason", "killed") if complete else "killed",
            complete=complete,
            locust_totals=status.get("locust", {}),
            driver_cpu_s=status.get("cpu_s"),
            driver_wall_s=status.get("wall_s"),
            cpu_warning=bool(status.get("cpu_warning")),
        )

    @property
    def core_share(self) -> float | None:
        """CPU seconds per wall second of the load process (1.0 = one core fully busy;
        librdkafka's threads can take it past 1), None if the driver was killed."""
        if self.driver_cpu_s is None or not self.driver_wall_s:
            return None
        return self.driver_cpu_s / self.driver_wall_s

    @property
    def totals(self) -> Summary:
        return summarize(self.records)

    @property
    def duration_s(self) -> float:
        return self.ended_at - self.started_at

    def acked_event_ids(self) -> set[str]:
        """The events the system acknowledged: 202 from order-service, or a Kafka delivery report."""
        return {record.event_id for record in self.records if record.ok}

    def failed(self) -> list[RequestRecord]:
        return [record for record in self.records if not record.ok]

    def errors(self) -> Counter[str]:
        return Counter(record.error or "" for record in self.records if not record.ok)

    def phases(self, windows: Iterable[WindowLike]) -> list[PhaseStats]:
        """Before/during/after statistics of each ``(name, start_epoch, end_epoch)`` window."""
        return phases(self.records, windows, self.started_at, self.ended_at)

    def summary_line(self) -> str:
        totals = self.totals
        return (
            f"{totals.requests} requests in {self.duration_s:.1f} s, {totals.failures} failed "
            f"({totals.error_rate:.1%}), p50 {_ms(totals.p50)} p95 {_ms(totals.p95)} p99 {_ms(totals.p99)}; "
            f"stopped by {self.stop_reason}; {self._cpu_figure()}"
        )

    def _cpu_figure(self) -> str:
        share = self.core_share
        figure = "load process CPU unknown (killed)" if share is None else f"load process at {share:.0%} of a core"
        return figure + (" (Locust warned it was CPU-bound)" if self.cpu_warning else "")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"
