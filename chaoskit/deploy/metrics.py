"""Per-instance figures over a window: ``/metrics`` deltas and ``/health`` probes.

Every instance of workflow-service serves its own counters (consumed, failed,
dead_lettered...) since it started. A window reads a baseline from each instance when
it opens and judges the differences, so a canary is compared with the stable version
over the very same seconds, whatever either did before. Probes go to the instances'
direct HTTP ports: a fault on the system's links never blinds the deployer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests

from chaoskit.deploy.decision import WindowStats
from chaoskit.errors import ChaoskitError
from chaoskit.runtime.health import http_ok

PROBE_TIMEOUT_S = 1.0


class MetricsUnavailable(ChaoskitError):
    """An instance's /metrics did not answer (it is down, hung or not the reference service)."""


@dataclass(frozen=True)
class Reading:
    """One instance's counters at one moment."""

    version: str
    consumed: int = 0
    failed: int = 0
    dead_lettered: int = 0

    def minus(self, baseline: Reading) -> Reading:
        return Reading(
            self.version,
            self.consumed - baseline.consumed,
            self.failed - baseline.failed,
            self.dead_lettered - baseline.dead_lettered,
        )


def read_metrics(endpoint: str, timeout_s: float = PROBE_TIMEOUT_S) -> Reading:
    """GET http://endpoint/metrics as a Reading; MetricsUnavailable says why not."""
    url = f"http://{endpoint}/metrics"
    try:
        response = requests.get(url, timeout=timeout_s)
        response.raise_for_status()
        data = response.json()
        return Reading(
            version=str(data["version"]),
            consumed=int(data["consumed"]),
            failed=int(data["failed"]),
            dead_lettered=int(data["dead_lettered"]),
        )
    except (requests.RequestException, ValueError, KeyError, TypeError) as err:
        raise MetricsUnavailable(f"{url}: {err.__class__.__name__}: {err}") from None


@dataclass
class _Side:
    endpoints: list[str]
    baselines: dict[str, Reading]
    latest: dict[str, Reading]


class Window:
    """Canary vs stable over one observation window.

    A stable instance that cannot be read keeps its last reading (a slow probe must not
    look like an idle instance); the canary's failed probes count as health failures.
    """

    def __init__(
        self,
        canary: str,
        stable: Sequence[str],
        clock: Callable[[], float] = time.monotonic,
        probe_timeout_s: float = PROBE_TIMEOUT_S,
    ) -> None:
        self._clock = clock
        self._timeout = probe_timeout_s
        self._canary = self._open([canary])
        self._stable = self._open(list(stable))
        self._started = clock()
        self.health_failures = 0

    def _open(self, endpoints: list[str]) -> _Side:
        baselines: dict[str, Reading] = {}
        for endpoint in endpoints:
            try:
                baselines[endpoint] = read_metrics(endpoint, self._timeout)
            except MetricsUnavailable:
                continue  # its first good reading becomes its baseline
        return _Side(endpoints, baselines, dict(baselines))

    def sample(self) -> tuple[WindowStats, WindowStats]:
        """Probe everything once; the canary's and the stable side's figures so far."""
        canary_endpoint = self._canary.endpoints[0]
        healthy = http_ok(f"http://{canary_endpoint}/health", timeout_s=self._timeout)
        read_ok = self._refresh(self._canary)
        if not healthy or not read_ok:
            self.health_failures += 1
        self._refresh(self._stable)
        elapsed = self._clock() - self._started
        return self._stats(self._canary, self.health_failures, elapsed), self._stats(self._stable, 0, elapsed)

    def _refresh(self, side: _Side) -> bool:
        all_read = True
        for endpoint in side.endpoints:
            try:
                reading = read_metrics(endpoint, self._timeout)
            except MetricsUnavailable:
                all_read = False
                continue
            side.baselines.setdefault(endpoint, reading)
            side.latest[endpoint] = reading
        return all_read

    @staticmethod
    def _stats(side: _Side, health_failures: int, elapsed: float) -> WindowStats:
        deltas = [side.latest[e].minus(side.baselines[e]) for e in side.endpoints if e in side.latest]
        return WindowStats(
            events=sum(d.consumed for d in deltas),
            failed=sum(d.failed for d in deltas),
            dead_lettered=sum(d.dead_lettered for d in deltas),
            health_failures=health_failures,
            elapsed_s=elapsed,
        )
