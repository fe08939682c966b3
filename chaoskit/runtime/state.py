"""The on-disk record of an environment, so another process can find, inspect and sweep it.

Each environment has a directory ``<state dir>/<id>/`` holding ``env.json`` (runtime,
topology, plan, owner, processes), ``logs/`` and ``data/``. The record is written before
any process starts and after every change, so a run killed with SIGKILL at any moment
leaves enough behind for the next ``up`` (or ``chaoskit down --all``) to sweep it.

A process of an environment is recognised by marks it cannot erase by itself: its recorded
pid with its start time, its session (every component is started as a session leader), and
its stdout (the component's log file). The ``CHAOSKIT_ENV`` variable in its environment is
only one more sign: Redis writes its process title over its environment block.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil


def state_root() -> Path:
    """``$CHAOSKIT_STATE_DIR``, else ``<tmp>/chaoskit-envs``."""
    explicit = os.environ.get("CHAOSKIT_STATE_DIR")
    return Path(explicit) if explicit else Path(tempfile.gettempdir()) / "chaoskit-envs"


def log_file(env_dir: Path, name: str) -> Path:
    """Where a component or instance of an environment logs (``<env dir>/logs/<name>.log``)."""
    return env_dir / "logs" / f"{name}.log"


def new_env_id() -> str:
    return "ck-" + secrets.token_hex(4)


@dataclass
class ProcessRecord:
    """A started process: pid plus its start time, so a reused pid is never mistaken for it,
    and its session id when it leads its own session, so what it forked is found even after
    it left the process group (or closed its stdout and cleared its environment)."""

    pid: int
    create_time: float
    sid: int | None = None

    @classmethod
    def of(cls, pid: int) -> ProcessRecord:
        return cls(pid=pid, create_time=psutil.Process(pid).create_time(), sid=pid if _sid(pid) == pid else None)

    def process(self) -> psutil.Process | None:
        """The live process this record names, or None if it is gone (or the pid was reused)."""
        try:
            proc = psutil.Process(self.pid)
            if not self._same_start(proc) or proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

    def session_is_ours(self) -> bool:
        """Whether the processes in session ``sid`` are this process's: only while its leader
        is this very process. A leaderless session is not trusted: its number may since have
        been reused by another session whose leader died too; its members are still found
        by their stdout or tag."""
        if self.sid is None:
            return False
        try:
            return self._same_start(psutil.Process(self.sid))
        except psutil.Error:
            return False

    def _same_start(self, proc: psutil.Process) -> bool:
        return abs(proc.create_time() - self.create_time) <= 0.01


def _sid(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
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

    def owner_alive(self) -> bool:
        """True while the run that made this environment is alive: nobody else may take it
        away without naming it."""
        return self.owner is not None and self.owner.process() is not None

    def ownership(self) -> str:
        """Whose the environment is, in words a user can act on."""
        if self.owner is None:
            return "no owner process (started by `chaoskit up`)"
        proc = self.owner.process()
        if proc is None:
            return f"{'kept' if self.keep else 'orphaned'} (owner pid {self.owner.pid} gone)"
        try:
            command = " ".join(proc.cmdline())
        except psutil.Error:
            command = "?"
        return f"owned by live pid {self.owner.pid} ({command[:160]})"

    def age(self) -> str:
        """How long ago the environment was made, short enough for a listing column."""
        seconds = max(0, int(time.time() - self.created))
        if seconds < 120:
            return f"{seconds}s"
        return f"{seconds // 60}m" if seconds < 7200 else f"{seconds // 3600}h"


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
    """Processes of one environment (or of all), found by any of their marks: the recorded
    pid and start time, the recorded session, a stdout that is one of the environment's
    logs, or the ``CHAOSKIT_ENV`` tag. Works for a process whose record is gone and for one
    that overwrote its environment block, though not for both at once if it also closed its
    stdout."""
    records = [r for r in all_records() if r.runtime == "process" and (env_id is None or r.id == env_id)]
    sessions = {p.sid for r in records for p in r.processes.values() if p.session_is_ours()}
    recorded = {proc.pid for r in records for p in r.processes.values() if (proc := p.process()) is not None}
    found = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        tags = {_stdout_env(proc.pid), _env_tag(proc)} - {None}
        if proc.pid in recorded or _sid(proc.pid) in sessions or (tags and (env_id is None or env_id in tags)):
            found.append(proc)
    return found


def _env_tag(proc: psutil.Process) -> str | None:
    try:
        return proc.environ().get("CHAOSKIT_ENV")
    except (psutil.Error, OSError):
        return None


def _stdout_env(pid: int) -> str | None:
    """The id of the environment whose log file is this process's stdout
    (``<state dir>/<id>/logs/<name>.log``), read from /proc; None elsewhere or otherwise.
    A file descriptor outlives whatever a process writes over its own memory."""
    try:
        target = os.readlink(f"/proc/{pid}/fd/1")
    except OSError:
        return None
    log = Path(target.removesuffix(" (deleted)"))
    if log.parent.name != "logs" or log.parent.parent.parent != state_root().resolve():
        return None
    return log.parent.parent.name


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
