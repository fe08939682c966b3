"""Disaster recovery: Redis is lost under traffic and rebuilt from a backup plus replay.

Snapshots (every document, plus the consumer groups' committed offsets, taken first)
are scheduled while documents flow. Redis is then killed and its data deleted. The
recovery restores the newest snapshot completed before the loss and replays every
event after its offsets through the services' idempotent apply; the state verifier must
then find exactly the state the event log implies.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import pytest

from chaoskit import DeadlineExceeded, SteadyTraffic, check_recovery, wait_for
from services.backup import BackupConfig, BackupSchedule, Snapshot, recover
from services.verifier import VerifierReport, verify

RATE = 20.0


@pytest.mark.chaos(
    title="Redis lost under traffic is recovered from backup and replay",
    hypothesis="After Redis is killed and its data deleted, restoring the last snapshot and replaying the "
    "requests and DLQ after its offsets makes Redis match the event log again, with traffic flowing throughout",
    severity="critical",
    feature="workflow-service",
    story="recovery",
    provokes="lost-keys",
)
def test_redis_loss_is_recovered_from_backup_and_replay(
    chaos_env: Any,
    services: Any,
    kafka: Any,
    timeline: Any,
    chaos_namespace: str,
    tmp_path: Path,
    record_property: Any,
    provoked: Any,
) -> None:
    redis_url = f"redis://{chaos_env.endpoint('redis')}/0"
    config = BackupConfig(kafka.bootstrap, redis_url)

    def verdict() -> VerifierReport:
        return verify(kafka.bootstrap, redis_url, key_prefix=chaos_namespace, timeout_s=10)

    with SteadyTraffic(chaos_env, chaos_namespace, rate=RATE) as traffic:
        with BackupSchedule(config, tmp_path / "snapshots", interval_s=2.0) as schedule:
            wait_for(
                lambda: traffic.acked_count >= 40 and len(schedule.snapshots()) >= 2,
                30,
                "documents flowing and two snapshots taken",
            )
            after_snapshot = traffic.acked_count + 20
            wait_for(lambda: traffic.acked_count >= after_snapshot, 20, "more documents after the snapshot")
            lost_at = time.time()
            window = timeline.record_inject("redis lost (killed, data deleted)", "redis", {}, lost_at)
            chaos_env.wipe("redis")
        timeline.record_heal(window)
        loss = verdict()
        print(f"\nthe wipe: {loss.to_dict()['summary']}")
        provoked(**{"lost-keys": len(loss.missing)})  # a wipe that lost nothing tests no recovery

        snapshot_path = schedule.latest(before=lost_at)
        assert snapshot_path is not None, f"no snapshot completed before the loss: {schedule.errors}"
        snapshot = Snapshot.load(snapshot_path)
        report = recover(config, snapshot)
        recovered_at = time.time()
        keep_going = traffic.acked_count + 20
        wait_for(lambda: traffic.acked_count >= keep_going, 20, "documents flowing after recovery")

    # the last report is judged whether or not it ever matched: the recovery check names the keys that differ
    reports = [verdict()]
    with contextlib.suppress(DeadlineExceeded):
        wait_for(lambda: reports.append(verdict()) or reports[-1].ok, 30, "the verifier matching", interval_s=0.5)
    final = reports[-1]
    converged_after = time.time() - recovered_at if final.ok else None
    result = check_recovery(final.to_dict(), report.to_dict(), converged_after_s=converged_after)
    record_property("recovery_s", round(report.took_s, 3))
    print(f"\nbefore recovery: {loss.to_dict()['summary']}\n{report.summary()}\n{result.explain()}")
    assert result.ok, result.explain()
    assert report.restored_docs > 0 and report.requests.read > 0
