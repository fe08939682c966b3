"""Steady traffic while a deploy is judged: documents posted to order-service from a thread.

A canary can only be judged on events it handles, and "nothing lost across the switch"
only means something if events flow during the switch. Locust (the ``load`` fixture) is
for load shapes and throughput; this is the small, exact version a deploy experiment
needs: one request at a time at a fixed rate, every key new (``{prefix}doc-{n}``, version
1), so every acked event must end up applied or dead-lettered, never "stale". The target
comes from the runtime, so it is always inside the environment.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from types import TracebackType

import requests

from chaoskit.errors import ConfigError
from chaoskit.runtime.base import Runtime

MAX_RATE = 500.0


@dataclass(frozen=True)
class Sent:
    event_id: str
    trace_id: str
    key: str
    at: float


@dataclass
class TrafficRecord:
    """What was sent: acked (202: durable in Kafka) and refused requests."""

    acked: list[Sent] = field(default_factory=list)
    refused: list[tuple[Sent, str]] = field(default_factory=list)

    @property
    def acked_ids(self) -> set[str]:
        return {s.event_id for s in self.acked}


class SteadyTraffic:
    """``with SteadyTraffic(chaos_env, chaos_namespace, rate=20) as traffic: ...``"""

    def __init__(
        self,
        runtime: Runtime,
        key_prefix: str,
        rate: float = 20.0,
        component: str = "order-service",
        request_timeout_s: float = 5.0,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= MAX_RATE:
            raise ConfigError(f"SteadyTraffic rate={rate!r} is not allowed; expected requests/s in (0, {MAX_RATE:g}]")
        self.url = f"http://{runtime.endpoint(component)}/documents"
        self.key_prefix = key_prefix
        self.rate = float(rate)
        self.request_timeout_s = request_timeout_s
        self.record = TrafficRecord()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steady-traffic", daemon=True)
        self._lock = threading.Lock()

    def __enter__(self) -> SteadyTraffic:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> TrafficRecord:
        """Stop sending (the request in flight finishes) and return what was sent."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.request_timeout_s + 5)
        return self.record

    @property
    def acked_count(self) -> int:
        with self._lock:
            return len(self.record.acked)

    def _run(self) -> None:
        period = 1.0 / self.rate
        next_at = time.monotonic()
        number = 0
        with requests.Session() as session:
            while not self._stop.is_set():
                self._send(session, number)
                number += 1
                next_at += period
                self._stop.wait(max(0.0, next_at - time.monotonic()))  # pacing, not a wait for a condition

    def _send(self, session: requests.Session, number: int) -> None:
        sent = Sent(uuid.uuid4().hex, uuid.uuid4().hex, f"{self.key_prefix}doc-{number}", time.time())
        body = {
            "key": sent.key,
            "content": f"content {number}",
            "version": 1,
            "event_id": sent.event_id,
            "trace_id": sent.trace_id,
        }
        try:
            response = session.post(self.url, json=body, timeout=self.request_timeout_s)
            outcome = None if response.status_code == 202 else f"HTTP {response.status_code}: {response.text[:200]}"
        except requests.RequestException as err:
            outcome = f"{err.__class__.__name__}: {err}"
        with self._lock:
            if outcome is None:
                self.record.acked.append(sent)
            else:
                self.record.refused.append((sent, outcome))
