"""The effect of one DocumentRequested event: document-service PUT, then Redis apply.

workflow-service and redriver both call `Processor.process`, so a retry from the DLQ
does exactly what the main path does and logs the same history kinds.
"""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import TimeoutError as FutureTimeoutError
from urllib.parse import quote

import aiohttp
from redis.exceptions import RedisError

from services.log import JsonLog
from services.messages import DocumentEvent
from services.redis_apply import ApplyOutcome, ApplyResult, DocumentStore
from services.status_http import LoopThread

INJECTED_FAILURE = "injected failure (FAIL_RATE)"


class ProcessingError(Exception):
    """Processing failed; str() is the short cause that goes into DLQ headers and alerts.

    `failed_at` (epoch seconds) becomes the DLQ record's last_failure_ts, from which the
    redriver measures its backoff.
    """

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.failed_at = time.time()


def injected_failure(event_id: str, fail_rate: float) -> bool:
    """Whether FAIL_RATE fails this event: a deterministic function of its id.

    A canary with FAIL_RATE=0.2 fails the same 20 % of event ids on every run and every
    redelivery, so experiments are reproducible and a rollback decision can be checked.
    """
    if fail_rate <= 0.0:
        return False
    digest = hashlib.sha256(event_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fail_rate


class DocumentServiceClient:
    """PUT /documents/{key} with a total deadline.

    It runs on the service's LoopThread with aiohttp because aiohttp's total timeout
    bounds the whole call, even when a latency toxic trickles the response. Connections
    are not reused, so a restarted or re-enabled document-service is reached at once
    instead of through a dead pooled socket.
    """

    def __init__(self, base_url: str, timeout_s: float, loop_thread: LoopThread) -> None:
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._loop_thread = loop_thread
        self._session: aiohttp.ClientSession | None = None

    async def _open(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True),
            timeout=aiohttp.ClientTimeout(total=self._timeout_s),
        )

    def open(self) -> None:
        self._loop_thread.run(self._open(), timeout=5)

    async def _put(self, event: DocumentEvent, trace_id: str | None) -> None:
        assert self._session is not None, "open() first"
        url = f"{self._base_url}/documents/{quote(event.key, safe='')}"
        body = {"content": event.content, "version": event.version, "event_id": event.event_id}
        headers = {"X-Trace-Id": trace_id} if trace_id else {}
        try:
            async with self._session.put(url, json=body, headers=headers) as response:
                if response.status >= 300:
                    raise ProcessingError(f"document-service HTTP {response.status}")
                await response.read()
        except TimeoutError:
            raise ProcessingError(f"document-service timeout after {self._timeout_s:g}s") from None
        except aiohttp.ClientConnectorError as exc:
            raise ProcessingError(f"document-service unreachable: {exc.os_error}") from None
        except aiohttp.ClientError as exc:
            raise ProcessingError(f"document-service error: {exc.__class__.__name__}: {exc}") from None

    def put(self, event: DocumentEvent, trace_id: str | None) -> None:
        try:
            self._loop_thread.run(self._put(event, trace_id), timeout=self._timeout_s + 5)
        except FutureTimeoutError:
            raise ProcessingError(f"document-service timeout after {self._timeout_s:g}s") from None

    async def _close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def close(self) -> None:
        self._loop_thread.run(self._close(), timeout=5)


class Processor:
    """Runs one processing attempt of an event and logs attempted/failed/applied."""

    def __init__(
        self, documents: DocumentServiceClient, store: DocumentStore, log: JsonLog, fail_rate: float = 0.0
    ) -> None:
        self._documents = documents
        self._store = store
        self._log = log
        self._fail_rate = fail_rate

    def process(self, event: DocumentEvent, trace_id: str | None, attempt: int) -> ApplyResult:
        """Apply `event`; raises ProcessingError (already logged as `failed`) on failure."""
        ids = {"event_id": event.event_id, "trace_id": trace_id}
        self._log.info(
            "processing attempt", kind="attempted", attempt=attempt, key=event.key, version=event.version, **ids
        )
        try:
            if injected_failure(event.event_id, self._fail_rate):
                raise ProcessingError(INJECTED_FAILURE)
            self._documents.put(event, trace_id)
            try:
                result = self._store.apply(event, trace_id)
            except RedisError as exc:
                raise ProcessingError(f"redis: {exc.__class__.__name__}: {exc}") from None
        except ProcessingError as exc:
            self._log.warning(
                "processing failed", kind="failed", attempt=attempt, error=str(exc), failed_at=exc.failed_at, **ids
            )
            raise
        if result.outcome is ApplyOutcome.APPLIED:
            self._log.info(
                "applied",
                kind="applied",
                key=event.key,
                version=event.version,
                previous_version=result.previous_version,
                attempt=attempt,
                **ids,
            )
        else:
            self._log.info(
                "skipped stale",
                key=event.key,
                outcome=result.outcome.value,
                incoming_version=event.version,
                stored_version=result.previous_version,
                stored_event_id=result.previous_event_id,
                attempt=attempt,
                **ids,
            )
        return result
