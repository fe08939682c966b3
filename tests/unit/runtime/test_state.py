"""Whose an environment is, as the CLI tells it: a live owner, a gone one, none."""

from __future__ import annotations

import os
import time

import psutil
import pytest

from chaoskit.runtime.state import EnvRecord, ProcessRecord


def _record(owner: ProcessRecord | None, keep: bool = False, age_s: float = 0) -> EnvRecord:
    return EnvRecord(
        id="ck-test", runtime="process", topology="t.yml", created=time.time() - age_s, owner=owner, keep=keep
    )


def _me() -> ProcessRecord:
    return ProcessRecord.of(os.getpid())


def _gone() -> ProcessRecord:
    """This pid with another start time: what a reused pid looks like."""
    return ProcessRecord(pid=os.getpid(), create_time=psutil.Process().create_time() - 1000)


def test_a_live_owner_is_named_with_its_command():
    record = _record(_me())
    assert record.owner_alive() and not record.orphaned()
    assert record.ownership().startswith(f"owned by live pid {os.getpid()} (")
    assert "python" in record.ownership() or "pytest" in record.ownership()


@pytest.mark.parametrize(("keep", "word"), [(False, "orphaned"), (True, "kept")])
def test_an_owner_whose_pid_was_reused_is_gone(keep, word):
    record = _record(_gone(), keep=keep)
    assert not record.owner_alive()
    assert record.orphaned() is not keep
    assert record.ownership() == f"{word} (owner pid {os.getpid()} gone)"


def test_no_owner_is_chaoskit_up():
    record = _record(None, keep=True)
    assert not record.owner_alive() and not record.orphaned()
    assert "chaoskit up" in record.ownership()


def test_a_session_is_ours_while_its_leader_is_or_is_gone():
    me = _me()
    assert ProcessRecord(pid=me.pid, create_time=me.create_time, sid=me.pid).session_is_ours()
    assert not ProcessRecord(pid=me.pid, create_time=me.create_time - 1000, sid=me.pid).session_is_ours()
    assert not ProcessRecord(pid=me.pid, create_time=me.create_time, sid=None).session_is_ours()


@pytest.mark.parametrize(("age_s", "shown"), [(5, "5s"), (600, "10m"), (3 * 3600 + 10, "3h")])
def test_age_is_short(age_s, shown):
    assert _record(None, age_s=age_s).age() == shown


def test_old_records_without_a_session_still_load(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAOSKIT_STATE_DIR", str(tmp_path))
    record = _record(_me())
    record.processes["redis"] = ProcessRecord(pid=1, create_time=0.0)
    record.save()
    assert EnvRecord.load(record.dir).processes["redis"].sid is None
