"""Starting, watching and stopping a load run from the test process.

Imports nothing from Locust or gevent: the load runs in subprocesses
(``python -m chaoskit.load.driver``), each in a session of its own, and this side only
writes their configs, watches their files and signals them. With ``workers=N`` those are
Locust's master (process 0, started first: it picks its port) and the workers on this
machine (processes 1..N), told the master's address. An experiment reads::

    with load.run(users=20, rate=200, shape="constant") as run:
        with faults.down("document-service"):
            ...
    run.result.phases(timeline.windows())  # or (name, start_epoch, end_epoch) tuples

Parameters are validated when ``run()`` is called, before anything starts. Leaving the
block stops the load: at once when the block raised (or was interrupted) or has no
``duration_s``; after the planned duration otherwise, so a shape plays out in full.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from chaoskit.errors import ChaoskitError
from chaoskit.load.config import LoadConfig, Target
from chaoskit.load.records import RunFiles, SecondStats
from chaoskit.load.result import LoadResult, read_seconds
from chaoskit.runtime.health import DeadlineExceeded, wait_for

# After SIGTERM the driver may need: in-flight HTTP requests (request_timeout_s), the Kafka
# flush (stop_timeout_s) and its last writes. Past that it is killed.
STOP_SLACK_S = 5.0


class LoadRunError(ChaoskitError):
    """The load process did not start or died; carries the tail of its log."""


class LoadRun:
    """One load run: a context manager around its driver processes (one, or Locust's master
    and the local workers)."""

    def __init__(self, config: LoadConfig, run_dir: Path, start_timeout_s: float) -> None:
        self.config = config
        self.dir = run_dir
        local = 1 + (config.workers_here if config.workers else 0)
        self.files = [RunFiles(run_dir, process) for process in range(local)]
        self.start_timeout_s = start_timeout_s
        self.started_at: float | None = None
        self._procs: list[subprocess.Popen[bytes]] = []
        self._result: LoadResult | None = None

    # -- while it runs -----------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The first driver's pid: the only process, or Locust's master."""
        return self._procs[0].pid if self._procs else None

    @property
    def pids(self) -> list[int]:
        """Every local driver's pid, the master's (or the only one's) first."""
        return [proc.pid for proc in self._procs]

    def seconds(self) -> list[SecondStats]:
        """The per-second statistics written so far (one entry per elapsed second)."""
        return read_seconds(self.files[0])

    def running(self) -> bool:
        return any(proc.poll() is None for proc in self._procs)

    # -- the result ----------------------------------------------------------------------------
    @property
    def result(self) -> LoadResult:
        if self._result is None:
            raise ChaoskitError("the load run has not ended yet: read .result after its with-block")
        return self._result

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> LoadRun:
        first = self.files[0]
        role = "master" if self.config.workers else "local"
        try:
            self._procs.append(self._spawn(first, {"role": role, "config": self.config.to_json()}))
            if self.config.workers:
                listening = self._wait_status(first, ("listening", "running", "stopped"), "Locust's master")
                master = {"role": "worker", "master_host": "127.0.0.1", "master_port": listening["master_port"]}
                self._procs.extend(self._spawn(files, master) for files in self.files[1:])
            status = self._wait_status(first, ("running", "stopped"), "the load driver")
        except BaseException as err:
            self._stop()
            if isinstance(err, DeadlineExceeded):
                raise LoadRunError(f"{err}\n{self._log_tails()}") from None
            raise
        self.started_at = float(str(status["started_at"]))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None and self.config.duration_s is not None:
                self._wait_for_end()
        finally:
            self._stop()
            self._result = LoadResult.read(self.dir, self.files, self.config)

    def _spawn(self, files: RunFiles, spec: dict[str, object]) -> subprocess.Popen[bytes]:
        files.config.write_text(json.dumps({**spec, "parent_pid": os.getpid(), "process": files.process}))
        with files.log.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "chaoskit.load.driver", str(files.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )

    def _wait_status(self, files: RunFiles, states: tuple[str, ...], what: str) -> dict[str, object]:
        """Process 0's status once it is in one of ``states``; a local driver exiting first
        (the master, or a worker that could not join it) ends the wait."""
        return wait_for(
            lambda: self._status_in(files, states),
            self.start_timeout_s,
            what,
            abort=self._exited,
        )

    @staticmethod
    def _status_in(files: RunFiles, states: tuple[str, ...]) -> dict[str, object] | None:
        if not files.status.exists():
            return None
        status = json.loads(files.status.read_text())
        return status if status.get("state") in states else None

    def _exited(self) -> str | None:
        for files, proc in zip(self.files, self._procs):
            code = proc.poll()
            if code is not None:
                return f"load driver {files.process} exited with code {code} before starting"
        return None

    def _wait_for_end(self) -> None:
        """The drivers end by themselves after the duration (the workers when the master
        quits); give them that plus a stop's worth."""
        assert self.started_at is not None and self.config.duration_s is not None
        deadline = self.started_at + self.config.duration_s + self._stop_grace_s()
        for proc in self._procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                return

    def _stop_grace_s(self) -> float:
        return self.config.request_timeout_s + self.config.stop_timeout_s + STOP_SLACK_S

    def _stop(self) -> None:
        """SIGTERM (a clean stop that flushes), SIGKILL to each whole session after the grace.

        The master (or the only process) goes first and alone: it stops its workers and
        takes their last records before it quits, and they quit with it; a worker still
        there after that is signalled too."""
        deadline = time.monotonic() + self._stop_grace_s()
        for group in (self._procs[:1], self._procs[1:]):
            self._stop_group(group, max(deadline, time.monotonic() + STOP_SLACK_S))

    def _stop_group(self, procs: list[subprocess.Popen[bytes]], deadline: float) -> None:
        alive = [proc for proc in procs if proc.poll() is None]
        for proc in alive:
            _signal_session(proc.pid, signal.SIGTERM)
        for proc in alive:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            finally:
                if proc.poll() is None:
                    _signal_session(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)

    def _log_tails(self, lines: int = 30) -> str:
        tails = []
        for files in self.files:
            try:
                tail = "\n".join(files.log.read_text(errors="replace").splitlines()[-lines:])
            except OSError:
                tail = ""
            tails.append(f"--- last lines of {files.log} ---\n{tail}")
        return "\n".join(tails)


def _signal_session(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


class LoadRunner:
    """Runs load against one target, each run in its own directory under ``out_dir``."""

    def __init__(self, out_dir: str | Path, target: Target, *, start_timeout_s: float = 30.0) -> None:
        self.out_dir = Path(out_dir)
        self.target = target
        self.start_timeout_s = start_timeout_s

    def run(
        self,
        *,
        users: int = 20,
        rate: float = 200.0,
        shape: str = "constant",
        duration_s: float | None = None,
        user: str = "http",
        key_prefix: str = "load",
        key_count: int = 100,
        content_bytes: int = 256,
        spawn_rate: float | None = None,
        base_users: int | None = None,
        steps: int = 4,
        max_duration_s: float = 600.0,
        request_timeout_s: float = 15.0,
        stop_timeout_s: float = 5.0,
        seed: int | None = None,
        workers: int = 0,
        local_workers: int | None = None,
        master_port: int = 0,
    ) -> LoadRun:
        """A load run to enter with ``with``; raises ConfigError or BlastRadiusError now,
        before anything starts, if a parameter or the target is not acceptable."""
        config = LoadConfig(
            target=self.target,
            user=user,
            users=users,
            rate=rate,
            shape=shape,
            duration_s=duration_s,
            max_duration_s=max_duration_s,
            spawn_rate=spawn_rate,
            base_users=base_users,
            steps=steps,
            key_prefix=key_prefix,
            key_count=key_count,
            content_bytes=content_bytes,
            request_timeout_s=request_timeout_s,
            stop_timeout_s=stop_timeout_s,
            seed=seed,
            workers=workers,
            local_workers=local_workers,
            master_port=master_port,
        )
        return LoadRun(config, self._new_dir(f"{config.user}-{config.shape}"), self.start_timeout_s)

    def _new_dir(self, label: str) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        index = 1
        while True:
            path = self.out_dir / f"load-{index:02d}-{label}"
            try:
                path.mkdir()
                return path
            except FileExistsError:
                index += 1
