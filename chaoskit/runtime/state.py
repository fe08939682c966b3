"""The on-disk record of an environment, so another process can find, inspect and sweep it.

Each environment has a directory ``<state dir>/<id>/`` holding ``env.json`` (runtime,
topology, plan, owner, processes), ``logs/`` and ``data/``. The record is written before
any process starts and after every change, so a run killed with SIGKILL at any moment
leaves enough behind for the next ``up`` (or ``chaoskit down --all``) to sweep it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil


def state_root() -> Path:
    """``$CHAOSKIT_STATE_DIR``, else ``<tmp>/chaoskit-envs``."""
    explicit = os.environ.get("CHAOSKIT_STATE_DIR")
    return Path(explicit) if explicit else Path(tempfile.gettempdir()) / "chaoskit-envs"


def new_env_id() -> str:
    return "ck-" + secrets.token_hex(4)


@dataclass
class ProcessRecord:
    """A started process: pid plus its start time, so a reused pid is never mistaken for it."""

    pid: int
    create_time: float

    @classmethod
    def of(cls, pid: int) -> ProcessRecord:
        return cls(pid=pid, create_time=psutil.Process(pid).create_time())

    def process(self) -> psutil.Process | None:
        """The live process this record names, or None if it is gone (or the pid was reused)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 0.01 or proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None


@dataclass
class EnvRecord:
    id: str
    runtime: str
    topology: str
    created: float
    owner: ProcessRecord | None
    keep: bool = False
    plan: dict[str, Any] = field(default_factory=dict)
    processes: dict[str, ProcessRecord] = field(default_factory=dict)
    desired: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        return state_root() / self.id

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / "env.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(self.dir / "env.json")

    @classmethod
    def load(cls, env_dir: Path) -> EnvRecord:
        raw = json.loads((env_dir / "env.json").read_text())
        owner = raw.pop("owner")
        processes = raw.pop("processes")
        return cls(
            owner=ProcessRecord(**owner) if owner else None,
            processes={k: ProcessRecord(**v) for k, v in processes.items()},
            **raw,
        )

    def orphaned(self) -> bool:
        """True when the environment had an owner (a pytest run) that is gone and not kept."""
        return self.owner is not None and not self.keep and self.owner.process() is None


def all_records() -> list[EnvRecord]:
    root = state_root()
    records = []
    for env_json in sorted(root.glob("*/env.json")) if root.exists() else []:
        try:
            records.append(EnvRecord.load(env_json.parent))
        except (OSError, ValueError, TypeError, KeyError):
            continue
    return sorted(records, key=lambda r: r.created)


def stray_processes(env_id: str | None = None) -> list[psutil.Process]:
    """Processes chaoskit started (tagged with CHAOSKIT_ENV), for one environment or all."""
    found = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            tag = proc.environ().get("CHAOSKIT_ENV")
        except (psutil.Error, OSError):
            continue
        if tag and (env_id is None or tag == env_id):
            found.append(proc)
    return found


def terminate(procs: list[psutil.Process], grace_s: float = 5.0) -> None:
    """SIGTERM, wait up to ``grace_s``, then SIGKILL whatever is left."""
    for proc in procs:
        try:
            proc.resume()  # a SIGSTOPped process cannot act on SIGTERM
            proc.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace_s)
