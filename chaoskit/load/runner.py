"""Starting, watching and stopping a load run from the test process.

Imports nothing from Locust or gevent: the load runs in a subprocess
(``python -m chaoskit.load.driver``) in a session of its own, and this side only writes
its config, watches its files and signals it. An experiment reads::

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
    """One load run: a context manager around its driver processes (``config.processes``)."""

    def __init__(self, config: LoadConfig, run_dir: Path, start_timeout_s: float) -> None:
        self.config = config
        self.dir = run_dir
        self.files = [RunFiles(run_dir, process) for process in range(config.processes)]
        self.start_timeout_s = start_timeout_s
        self.started_at: float | None = None
        self._procs: list[subprocess.Popen[bytes]] = []
        self._result: LoadResult | None = None

    # -- while it runs -----------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The first driver's pid (the only one unless ``processes`` > 1)."""
        return self._procs[0].pid if self._procs else None

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self._procs]

    def seconds(self) -> list[SecondStats]:
        """The per-second statistics written so far (one entry per elapsed second). With
        several processes this reads their records too (for exact percentiles): poll it
        every second or so, not in a tight loop."""
        return read_seconds(self.files)

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
        try:
            for files in self.files:
                self._procs.append(self._spawn(files))
            statuses = [self._wait_running(files, proc) for files, proc in zip(self.files, self._procs)]
        except BaseException as err:
            self._stop()
            if isinstance(err, DeadlineExceeded):
                raise LoadRunError(f"{err}\n{self._log_tails()}") from None
            raise
        self.started_at = min(float(str(status["started_at"])) for status in statuses)
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

    def _spawn(self, files: RunFiles) -> subprocess.Popen[bytes]:
        files.config.write_text(
            json.dumps(
                {
                    "config": self.config.to_json(),
                    "parent_pid": os.getpid(),
                    "process": files.process,
                }
            )
        )
        with files.log.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "chaoskit.load.driver", str(files.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )

    def _wait_running(self, files: RunFiles, proc: subprocess.Popen[bytes]) -> dict[str, object]:
        return wait_for(
            lambda: self._status_running(files),
            self.start_timeout_s,
            f"the load driver {files.process}",
            abort=lambda: self._exited(proc),
        )

    @staticmethod
    def _status_running(files: RunFiles) -> dict[str, object] | None:
        if not files.status.exists():
            return None
        status = json.loads(files.status.read_text())
        return status if status.get("state") in ("running", "stopped") else None

    @staticmethod
    def _exited(proc: subprocess.Popen[bytes]) -> str | None:
        code = proc.poll()
        return None if code is None else f"the process exited with code {code} before starting"

    def _wait_for_end(self) -> None:
        """The drivers end by themselves after the duration; give them that plus a stop's worth."""
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
        """SIGTERM (a clean stop that flushes), SIGKILL to each whole session after the grace."""
        alive = [proc for proc in self._procs if proc.poll() is None]
        for proc in alive:
            _signal_session(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self._stop_grace_s()
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
        processes: int = 1,
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
            processes=processes,
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
