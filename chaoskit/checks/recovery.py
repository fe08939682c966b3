"""Recovery: after the state store was lost and recovery ran (restore a snapshot, replay
the topics after it), the state verifier finds exactly the state the event log implies.

The inputs are plain data: the verifier's report (``services.verifier``'s
``VerifierReport.to_dict()``) and the recovery's report (``services.backup``'s
``RecoveryReport.to_dict()``), so the check is pure and knows nothing of how they were
obtained. A verifier that matched no key proves nothing (an empty log and an empty store
agree), so at least one matching key is required.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chaoskit.checks.result import CheckResult, Offender

NAME = "recovery"


def check_recovery(
    verdict: Mapping[str, Any],
    recovery: Mapping[str, Any],
    *,
    converged_after_s: float | None = None,
) -> CheckResult:
    """``verdict``: the verifier's report after recovery; ``recovery``: what recovery did."""
    matching = len(verdict.get("matching", ()))
    missing: Sequence[Mapping[str, Any]] = verdict.get("missing", ())
    stale: Sequence[Mapping[str, Any]] = verdict.get("stale", ())
    unexpected: Sequence[Mapping[str, Any]] = verdict.get("unexpected", ())
    offenders = [_offender(item, "missing after recovery") for item in missing]
    offenders += [_offender(item, "an older version after recovery") for item in stale]
    offenders += [_offender(item, item.get("reason", "unexpected")) for item in unexpected]
    if matching == 0:
        offenders.append(Offender(None, None, "at least one key restored and verified", "the verifier matched no key"))
    requests = recovery.get("requests", {})
    dlq = recovery.get("dlq", {})
    did = (
        f"restored {recovery.get('restored_docs', 0)} docs, replayed {requests.get('read', 0)} requests "
        f"({requests.get('applied', 0)} applied) and {dlq.get('read', 0)} DLQ records "
        f"({dlq.get('applied', 0)} applied) "
        f"in {float(recovery.get('took_s', 0.0)):.2f} s"
    )
    when = f", converged {converged_after_s:.2f} s after recovery" if converged_after_s is not None else ""
    tally = (
        f"{matching} keys match, {len(missing)} missing, {len(stale)} stale, {len(unexpected)} unexpected "
        f"(from {verdict.get('events_read', 0)} requested events)"
    )
    summary = f"after recovery ({did}{when}) the verifier finds {tally}"
    return CheckResult(NAME, not offenders, summary, tuple(offenders))


def _offender(item: Mapping[str, Any], observed: str) -> Offender:
    key = item.get("key")
    wanted = item.get("expected_event_ids") or []
    expected = (
        f"doc:{key} at version {item['expected_version']} (event {', '.join(wanted)})"
        if "expected_version" in item
        else f"no doc:{key}"
    )
    actual = (
        f"version {item.get('actual_version')} by {item.get('actual_event_id')}"
        if item.get("actual_version") is not None
        else "absent"
    )
    return Offender(wanted[0] if wanted else item.get("actual_event_id"), None, expected, f"{observed}: {actual}")
