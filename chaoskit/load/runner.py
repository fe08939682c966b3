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
from chaoskit.load.records import RunFiles, SecondStats, read_jsonl
from chaoskit.load.result import LoadResult
from chaoskit.runtime.health import DeadlineExceeded, wait_for

# After SIGTERM the driver may need: in-flight HTTP requests (request_timeout_s), the Kafka
# flush (stop_timeout_s) and its last writes. Past that it is killed.
STOP_SLACK_S = 5.0


class LoadRunError(ChaoskitError):
    """The load process did not start or died; carries the tail of its log."""


class LoadRun:
    """One load run: a context manager around the driver process."""

    def __init__(self, config: LoadConfig, files: RunFiles, start_timeout_s: float) -> None:
        self.config = config
        self.files = files
        self.start_timeout_s = start_timeout_s
        self.started_at: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._result: LoadResult | None = None

    # -- while it runs -----------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def seconds(self) -> list[SecondStats]:
        """The per-second statistics written so far (one entry per elapsed second)."""
        return [SecondStats.from_json(item) for item in read_jsonl(self.files.stats)]

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- the result ----------------------------------------------------------------------------
    @property
    def result(self) -> LoadResult:
        if self._result is None:
            raise ChaoskitError("the load run has not ended yet: read .result after its with-block")
        return self._result

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "LoadRun":
        self.files.config.write_text(json.dumps({"config": self.config.to_json(), "parent_pid": os.getpid()}))
        with self.files.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "chaoskit.load.driver", str(self.files.config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True,
            )
        try:
            status = wait_for(self._status_running, self.start_timeout_s, "the load driver", abort=self._exited)
        except BaseException as err:
            self._stop()
            if isinstance(err, DeadlineExceeded):
                raise LoadRunError(f"{err}\n--- last lines of {self.files.log} ---\n{self._log_tail()}") from None
            raise
        self.started_at = float(status["started_at"])
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None and self.config.duration_s is not None:
                self._wait_for_end()
        finally:
            self._stop()
            self._result = LoadResult.read(self.files, self.config)

    def _status_running(self) -> dict[str, object] | None:
        if not self.files.status.exists():
            return None
        status = json.loads(self.files.status.read_text())
        return status if status.get("state") in ("running", "stopped") else None

    def _exited(self) -> str | None:
        code = self._proc.poll() if self._proc is not None else None
        return None if code is None else f"the process exited with code {code} before starting"

    def _wait_for_end(self) -> None:
        """The driver ends by itself after its duration; give it that plus a stop's worth."""
        assert self._proc is not None and self.started_at is not None and self.config.duration_s is not None
        remaining = self.started_at + self.config.duration_s - time.time()
        try:
            self._proc.wait(timeout=max(0.0, remaining) + self._stop_grace_s())
        except subprocess.TimeoutExpired:
            pass

    def _stop_grace_s(self) -> float:
        return self.config.request_timeout_s + self.config.stop_timeout_s + STOP_SLACK_S

    def _stop(self) -> None:
        """SIGTERM (a clean stop that flushes), SIGKILL to the whole session after the grace."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            _signal_session(proc.pid, signal.SIGTERM)
            proc.wait(timeout=self._stop_grace_s())
        except subprocess.TimeoutExpired:
            pass
        finally:
            if proc.poll() is None:
                _signal_session(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.files.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _signal_session(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


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
    ) -> LoadRun:
        """A load run to enter with ``with``; raises ConfigError or BlastRadiusError now,
        before anything starts, if a parameter or the target is not acceptable."""
        config = LoadConfig(
            target=self.target, user=user, users=users, rate=rate, shape=shape, duration_s=duration_s,
            max_duration_s=max_duration_s, spawn_rate=spawn_rate, base_users=base_users, steps=steps,
            key_prefix=key_prefix, key_count=key_count, content_bytes=content_bytes,
            request_timeout_s=request_timeout_s, stop_timeout_s=stop_timeout_s, seed=seed,
        )
        return LoadRun(config, RunFiles(self._new_dir(f"{config.user}-{config.shape}")), self.start_timeout_s)

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
