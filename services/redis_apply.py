"""Idempotent application of document events to Redis (workflow-service and redriver).

Layout:
  doc:{key}    hash: version, content, event_id, trace_id, applied_at (epoch float)
  docs:index   sorted set: member = entity key, score = the version stored in doc:{key}

One Lua script compares and writes atomically, so concurrent consumers, redeliveries
and redriven retries can never let an older (or equal) version overwrite a newer one,
whatever order they arrive in. `docs:index` is the sorted record the verifier
cross-checks (and backup/recovery can list keys by version without a SCAN).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from services.messages import DocumentEvent

DOC_KEY_PREFIX = "doc:"
INDEX_KEY = "docs:index"

# KEYS[1] = doc:{key}, KEYS[2] = docs:index
# ARGV = entity key, version, content, event_id, trace_id, applied_at
# Returns {outcome, version stored before, event_id stored before}.
APPLY_SCRIPT = """
local stored = redis.call('HMGET', KEYS[1], 'version', 'event_id')
local incoming = tonumber(ARGV[2])
if stored[1] then
  local current = tonumber(stored[1])
  if current > incoming then
    return {'stale', stored[1], stored[2]}
  end
  if current == incoming then
    if stored[2] == ARGV[4] then
      return {'duplicate', stored[1], stored[2]}
    end
    return {'stale', stored[1], stored[2]}
  end
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'content', ARGV[3], 'event_id', ARGV[4],
           'trace_id', ARGV[5], 'applied_at', ARGV[6])
redis.call('ZADD', KEYS[2], incoming, ARGV[1])
return {'applied', stored[1], stored[2]}
"""


class ApplyOutcome(str, Enum):  # noqa: UP042  # str() must stay "ApplyOutcome.X" in the logs
    APPLIED = "applied"  # this call changed the stored document
    DUPLICATE = "duplicate"  # this very event (same id and version) is already stored
    STALE = "stale"  # a newer version, or another event with the same version, is stored


@dataclass(frozen=True)
class ApplyResult:
    outcome: ApplyOutcome
    previous_version: int | None
    previous_event_id: str | None

    @property
    def in_effect(self) -> bool:
        """Whether Redis now holds this event's write (applied now or by an earlier delivery)."""
        return self.outcome is not ApplyOutcome.STALE


def doc_key(key: str) -> str:
    return f"{DOC_KEY_PREFIX}{key}"


def redis_client(url: str) -> redis.Redis:
    """A client with explicit, short timeouts and a bounded retry.

    redis-py's defaults changed between releases (notes §5); spelling them out keeps
    behaviour under a Toxiproxy fault the same everywhere. A command gives up after
    about 3 tries x 2 s, and the caller turns that into a processing failure (DLQ).
    """
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=2.0,
        socket_connect_timeout=1.0,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=2),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=5,
    )


class DocumentStore:
    """Versioned document writes through the apply script."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._apply = client.register_script(APPLY_SCRIPT)

    def apply(self, event: DocumentEvent, trace_id: str | None, applied_at: float | None = None) -> ApplyResult:
        """Write `event` unless the stored version is newer or equal; raises redis errors."""
        outcome, previous_version, previous_event_id = self._apply(
            keys=[doc_key(event.key), INDEX_KEY],
            args=[
                event.key,
                event.version,
                event.content,
                event.event_id,
                trace_id or "",
                repr(time.time() if applied_at is None else applied_at),
            ],
        )
        return ApplyResult(
            outcome=ApplyOutcome(outcome),
            previous_version=None if previous_version is None else int(previous_version),
            previous_event_id=previous_event_id,
        )

    def close(self) -> None:
        self._client.close()
