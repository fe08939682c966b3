"""Fixtures the reference experiments share: the reference system's state verifier and
the redriver's retry policy, both read from the topology the run uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chaoskit import RetryPolicy, Runtime


@pytest.fixture
def expected_state(chaos_env: Runtime, chaos_namespace: str) -> Callable[[], dict[str, Any]]:
    """The verifier's expected state for this experiment's keys: rebuilt from the requests
    topic (highest version per key, events alerted as permanently failed excluded)."""
    from services.verifier import expected_state as rebuild
    from services.verifier import read_event_log

    roles = chaos_env.topology.topic_roles
    bootstrap = chaos_env.endpoint("kafka")

    def build() -> dict[str, Any]:
        events, alerted, _ = read_event_log(bootstrap, roles["requests"], roles["alerts"])
        state: dict[str, Any] = {}
        for key, doc in rebuild(events, alerted, key_prefix=chaos_namespace).items():
            # several events may request the same top version: then any of them may win
            only = next(iter(doc.candidates.items())) if len(doc.candidates) == 1 else None
            state[key] = {"version": doc.version, **({"event_id": only[0], "content": only[1]} if only else {})}
        return state

    return build


@pytest.fixture
def retry_policy(chaos_env: Runtime) -> RetryPolicy:
    """The redriver's configured backoff, which the retry check holds it to."""
    return RetryPolicy.from_env(dict(chaos_env.topology.component("redriver").env))
