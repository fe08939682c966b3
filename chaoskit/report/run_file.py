"""``chaoskit-run.json``: whether the pytest run behind a results folder finished.

Allure results say how each experiment that *ended* went; they cannot say that the run
was cut short. A run stopped by Ctrl-C, a cancelled CI job, ``-x``/``--maxfail`` or a
SIGKILL leaves experiments without a result, and a gate reading only the results would
judge the ones that happened to finish. So the plugin writes this file when collection is
done (``state: running``, the experiments selected) and rewrites it at the end of the
session (``finished`` or ``interrupted``, with the reason and the experiments that never
ran). A file still saying ``running`` is a run that died without its session ending.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

NAME = "chaoskit-run.json"
RUNNING, FINISHED, INTERRUPTED = "running", "finished", "interrupted"


@dataclass(frozen=True)
class RunFile:
    """What the gate needs to know about the run as a whole."""

    state: str  # RUNNING, FINISHED or INTERRUPTED
    pid: int
    started: float
    experiments: tuple[str, ...]  # node ids of the chaos experiments selected
    not_run: tuple[str, ...] = ()
    reason: str = ""  # why it was interrupted
    ended: float | None = None

    def write(self, results_dir: Path) -> Path:
        results_dir.mkdir(parents=True, exist_ok=True)
        path = results_dir / NAME
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)  # a reader never sees half a file
        return path

    @classmethod
    def read(cls, results_dir: Path) -> RunFile | None:
        """The run file of ``results_dir``; None when there is none (results from another
        tool) and a ValueError naming the file when it cannot be read."""
        path = results_dir / NAME
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                state=str(data["state"]),
                pid=int(data["pid"]),
                started=float(data["started"]),
                experiments=tuple(data.get("experiments", ())),
                not_run=tuple(data.get("not_run", ())),
                reason=str(data.get("reason", "")),
                ended=data.get("ended"),
            )
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}: not a chaoskit run file ({err})") from None

    def interruption(self) -> str | None:
        """Why this run has no verdict as a whole, or None when it ran to its end."""
        if self.state == RUNNING:
            return (
                f"the run (pid {self.pid}) never finished: its session did not end (killed, or still running); "
                f"{len(self.experiments)} experiment(s) were selected"
            )
        if self.state == INTERRUPTED:
            missing = f"; {len(self.not_run)} experiment(s) never ran" if self.not_run else ""
            return f"the run was interrupted ({self.reason or 'no reason recorded'}){missing}"
        return None


def started(experiments: list[str]) -> RunFile:
    return RunFile(state=RUNNING, pid=os.getpid(), started=time.time(), experiments=tuple(experiments))
