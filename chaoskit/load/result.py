"""What a load run did, read back from its run directory.

Checks and reports work from here: the acknowledged event ids (the events the system
promised to process, which the delivery checks look for downstream), the per-second
series, and statistics per phase of each fault window.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaoskit.load.config import LoadConfig
from chaoskit.load.phases import PhaseStats, WindowLike, phases
from chaoskit.load.records import (
    RequestRecord,
    RunFiles,
    SecondStats,
    Summary,
    read_batches,
    read_jsonl,
    summarize,
)


@dataclass(frozen=True)
class LoadResult:
    """``complete`` is False when a driver did not finish writing (it was killed): the
    records then stop at the last full second. ``driver_cpu_s`` and ``driver_wall_s`` are
    the local driver processes' CPU seconds (summed) and wall seconds (the longest), None
    if one was killed; ``core_shares`` the CPU per wall second of each (the master's or
    the only process's first, then each local worker's). ``cpu_warning`` is
    Locust's warning that a load process ran above 90% CPU, when its latencies include
    its own queueing and say less about the system; :attr:`core_share` is the same
    figure over the whole run: whether the load generator, not the system, was the
    bottleneck."""

    config: LoadConfig
    dir: Path
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
    core_shares: tuple[float | None, ...] = ()

    @classmethod
    def read(cls, run_dir: Path, files: Sequence[RunFiles], config: LoadConfig) -> LoadResult:
        """The run from its local processes' files (``RunFiles(run_dir, n)`` for each
        process n): records and seconds from process 0, which wrote them for the whole run."""
        statuses = [_status(part) for part in files]
        records = [record for batch in read_batches(files[0].events) for record in batch]
        if config.workers:  # batches from several workers interleave
            records.sort(key=lambda record: record.start_time)
        seconds = read_seconds(files[0])
        complete = all(status.get("state") == "stopped" for status in statuses)
        started = min((s["started_at"] for s in statuses if s.get("started_at")), default=None) or min(
            (r.start_time for r in records), default=0.0
        )
        ended = max((s["ended_at"] for s in statuses if s.get("ended_at")), default=None) or max(
            [*(r.end_time for r in records), *(s.time for s in seconds)], default=started
        )
        usage = [(status.get("cpu_s"), status.get("wall_s")) for status in statuses]
        known = all(cpu is not None and wall for cpu, wall in usage)
        return cls(
            config=config,
            dir=run_dir,
            seconds=seconds,
            records=records,
            started_at=started,
            ended_at=ended,
            stop_reason=statuses[0].get("reason", "killed") if complete else "killed",
            complete=complete,
            locust_totals=dict(statuses[0]["locust"]) if complete else {},
            driver_cpu_s=sum(cpu for cpu, _ in usage) if known else None,  # type: ignore[misc]
            driver_wall_s=max(wall for _, wall in usage) if known else None,  # type: ignore[type-var]
            cpu_warning=any(status.get("cpu_warning") for status in statuses),
            core_shares=tuple(cpu / wall if cpu is not None and wall else None for cpu, wall in usage),
        )

    @property
    def core_share(self) -> float | None:
        """CPU seconds per wall second of the busiest load process (1.0 = one core fully
        busy; librdkafka's threads can take it past 1), None if a driver was killed."""
        if not self.core_shares or any(share is None for share in self.core_shares):
            return None
        return max(share for share in self.core_shares if share is not None)

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


def read_seconds(files: RunFiles) -> list[SecondStats]:
    """The run's per-second statistics written so far, by its only process or its master."""
    return [SecondStats.from_json(item) for item in read_jsonl(files.stats)]


def _status(files: RunFiles) -> dict[str, Any]:
    try:
        status: dict[str, Any] = json.loads(files.status.read_text())
        return status
    except FileNotFoundError:
        return {}
