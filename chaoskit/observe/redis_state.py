"""The final state in Redis: every ``doc:{key}`` hash, read over a direct connection.

The checks compare it with the state verifier's expected state (consistency) and with
the applied versions in the history (delivery). Values come back as text, the way
Redis stores them; the checks compare versions numerically and other fields as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis

DOC_PREFIX = "doc:"
State = Mapping[str, Mapping[str, Any]]  # entity key -> the fields of its doc:{key} hash


def read_state(client: redis.Redis, prefix: str = DOC_PREFIX, batch: int = 500) -> dict[str, dict[str, str]]:
    """Entity key → fields of its hash, for every key under ``prefix``."""
    names = sorted(_text(name) for name in client.scan_iter(match=f"{prefix}*", count=batch))
    state: dict[str, dict[str, str]] = {}
    for start in range(0, len(names), batch):
        chunk = names[start : start + batch]
        pipeline = client.pipeline(transaction=False)
        for name in chunk:
            pipeline.hgetall(name)
        for name, fields in zip(chunk, pipeline.execute()):
            if fields:
                state[name[len(prefix) :]] = {_text(f): _text(v) for f, v in fields.items()}
    return state


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
