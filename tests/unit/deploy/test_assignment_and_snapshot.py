"""Pure parts of the deployer's group view and of the backup file format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaoskit.deploy.assignment import Assignment
from services.backup import BackupError, Position, Snapshot


def test_assignment_views() -> None:
    settled = Assignment("g", "t", 6, "STABLE", (("stable", (3, 4, 5)), ("canary", (0, 1, 2))))
    assert settled.serves("canary") and not settled.served_only_by({"stable"})
    assert settled.served_only_by({"stable", "canary"})
    assert settled.describe() == "STABLE: canary=[0,1,2] stable=[3,4,5]"
    moving = Assignment("g", "t", 6, "PREPARING_REBALANCING", (("stable", (3, 4, 5)), ("canary", ())))
    assert not moving.serves("canary") and not moving.served_only_by({"stable", "canary"})
    assert moving.describe() == "PREPARING_REBALANCING: canary=[] stable=[3,4,5] unassigned=[0,1,2]"
    doubled = Assignment("g", "t", 2, "STABLE", (("a", (0, 1)), ("b", (1,))))
    assert not doubled.served_only_by({"a", "b"})


def test_snapshot_round_trip(tmp_path: Path) -> None:
    snapshot = Snapshot(
        taken_at=1.0,
        completed_at=2.0,
        requests=Position("workflow-service", "documents.requested", {0: 5, 1: None}),
        dlq=Position("redriver", "documents.dlq", {0: None}),
        docs={"k": {"version": "1", "content": "c", "event_id": "e", "trace_id": "t", "applied_at": "1.5"}},
    )
    path = tmp_path / "snap.json"
    snapshot.save(path)
    assert Snapshot.load(path) == snapshot
    assert [p.name for p in tmp_path.iterdir()] == ["snap.json"]  # no temp file left behind


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{", "not JSON"),
        (json.dumps({"format": "other"}), "not a snapshot"),
        (json.dumps({"format": "chaoskit.backup", "version": 9}), "snapshot format version 9"),
        (json.dumps({"format": "chaoskit.backup", "version": 1, "docs": []}), '"docs" must map each key'),
        (
            json.dumps(
                {"format": "chaoskit.backup", "version": 1, "docs": {}, "positions": {"requests": {"group": "g"}}}
            ),
            "positions.requests: expected {group, topic, offsets",
        ),
    ],
)
def test_bad_snapshot_files_say_what_is_wrong(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(body)
    with pytest.raises(BackupError, match=message):
        Snapshot.load(path)


def test_a_missing_snapshot_file(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="cannot read the snapshot"):
        Snapshot.load(tmp_path / "nope.json")
