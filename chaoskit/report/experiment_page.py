"""``report_experiment``: one experiment's evidence, filed in its Allure result.

Called once at the end of each experiment (by the experiment fixture) with a plain
``ExperimentRecord``. It labels the result with what was faulted (unless the ``chaos``
marker named a feature or story), records the fault windows and the checks as steps
(a failed check is a red step with its explanation), and attaches the evidence a
reviewer needs to judge the verdict without rerunning: the timeline plot, the load
statistics, the history file, the offending events and each service's log for the
experiment's window. Without ``--alluredir`` it returns at once and costs nothing.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import traceback
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import allure

from chaoskit.report.attachments import attach_csv, attach_file, attach_json, attach_png, attach_text
from chaoskit.report.logs import cut_log
from chaoskit.report.record import ExperimentRecord
from chaoskit.report.steps import broken_step, collecting, failed_step, step

# Allure's viewer loads a text attachment into the page; a history or log of a long run
# (a million events) would hang the reviewer's browser, so a big one is gzipped and
# offered as a download instead.
INLINE_MAX_BYTES = 5 * 1024 * 1024


def report_experiment(record: ExperimentRecord) -> None:
    """File ``record`` in the running test's Allure result (a no-op when not collecting).

    Each piece of evidence is filed on its own: one that cannot be produced (a corrupt
    log, a plotting error) is replaced by an attachment saying why and a warning, and
    the rest is still filed. The experiment's verdict belongs to its checks, never to
    its report.
    """
    if not collecting():
        return
    _label(record)
    _fault_steps(record)
    _check_steps(record)
    _evidence("timeline plot", lambda: _attach_plot(record))
    if record.seconds:
        _evidence("per-second load statistics", lambda: attach_csv("load: per-second statistics", record.seconds))
    if record.phases:
        _evidence("load statistics per phase", lambda: _attach_phases(record))
    if record.offenders_csv_rows:
        rows = record.offenders_csv_rows
        _evidence("offending events", lambda: attach_csv(f"offending events ({len(rows)})", rows))
    if record.history_path is not None:
        history = record.history_path
        _evidence("history", lambda: _attach_history(history))
    for service, path in sorted(record.service_logs.items()):
        _evidence(f"log of {service}", partial(_attach_log, service, path, record.started_at, record.ended_at))


def _evidence(what: str, attach: Callable[[], None]) -> None:
    try:
        attach()
    except Exception as err:
        detail = "".join(traceback.format_exception(err))
        warnings.warn(f"chaoskit: could not attach the {what}: {type(err).__name__}: {err}", stacklevel=3)
        attach_text(f"report error: {what}", f"the {what} could not be attached:\n{detail}")


def _attach_plot(record: ExperimentRecord) -> None:
    from chaoskit.report.plot import timeline_png  # matplotlib: paid only when a report is collected

    attach_png("timeline: load, DLQ and convergence under faults", timeline_png(record))


def _attach_phases(record: ExperimentRecord) -> None:
    attach_json("load: statistics per phase", record.phases)
    attach_csv("load: statistics per phase (table)", [{"phase": p, **s} for p, s in record.phases.items()])


def _label(record: ExperimentRecord) -> None:
    """Feature = what was faulted, story = how, unless the marker said otherwise."""
    if not record.meta.get("feature") and record.fault_targets():
        allure.dynamic.feature(*record.fault_targets())
    if not record.meta.get("story") and record.fault_kinds():
        allure.dynamic.story(*record.fault_kinds())


def _fault_steps(record: ExperimentRecord) -> None:
    windows = sorted(record.timeline_windows, key=lambda w: w["injected_at"])
    if not windows:
        return
    t0 = record.started_at
    with step(f"Fault timeline: {len(windows)} window(s)"):
        for window in windows:
            healed = window.get("healed_at")
            when = f"+{window['injected_at'] - t0:.1f} s → " + (
                f"+{healed - t0:.1f} s" if healed is not None else "not healed"
            )
            params: dict[str, Any] = dict(window.get("params") or {})
            params["window"] = when
            if healed is not None:
                params["duration"] = f"{healed - window['injected_at']:.1f} s"
            with step(f"{window['name']} on {window['target']}", **params):
                pass


def _check_steps(record: ExperimentRecord) -> None:
    for check in record.check_outcomes():
        title = f"check {check.name}: {check.summary}"
        if check.ok:
            with step(title):
                if check.explanation:
                    attach_text(f"{check.name}: what was verified", check.explanation)
        elif not check.decided:
            broken_step(f"check {check.name} could not decide: {check.summary}", check.explanation or check.summary)
            if check.explanation:
                attach_text(f"{check.name}: why it could not decide", check.explanation)
        else:
            failed_step(title, check.explanation or check.summary)
            if check.explanation:
                attach_text(f"{check.name}: why it failed", check.explanation)


def _attach_history(path: Path) -> None:
    if not path.exists():
        attach_text("history", f"the history file {path} does not exist (was it saved?)")
        return
    _attach_inline_or_gzipped(f"history: every event's fate ({path.name})", path, "jsonl")


def _attach_log(service: str, path: Path, start: float, end: float) -> None:
    if not path.exists():
        attach_text(f"log: {service}", f"no log at {path}")
        return
    text = cut_log(path, start, end) or f"{path} has no lines in the experiment's window\n"
    with tempfile.TemporaryDirectory(prefix="chaoskit-log-") as tmp:
        cut = Path(tmp) / f"{service}.log"
        cut.write_text(text, encoding="utf-8")
        _attach_inline_or_gzipped(f"log: {service}", cut, "log")


def _attach_inline_or_gzipped(name: str, path: Path, extension: str) -> None:
    if path.stat().st_size <= INLINE_MAX_BYTES:
        attach_file(name, path, "text/plain", extension)
        return
    with tempfile.TemporaryDirectory(prefix="chaoskit-gzip-") as tmp:
        packed = Path(tmp) / f"{path.name}.gz"
        with path.open("rb") as src, gzip.open(packed, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst)
        attach_file(f"{name}, gzipped", packed, "application/gzip", f"{extension}.gz")
