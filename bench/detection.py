"""Planted-bug detection: does the experiment suite catch the bugs of fixtures/broken/?

For each bug of ``fixtures/broken/bugs.toml``: writes a scratch copy of the reference
topology with the bug's components' commands swapped (``fixtures/broken/scratch.py``; a
bug in code the experiment itself calls is loaded as a pytest plugin instead), runs the
experiments that should catch it in one pytest subprocess (``--alluredir``,
``--chaos-topology=<scratch>``, a timeout), and reads the Allure results:

* *caught*: at least one of those experiments failed as a resilience failure
  (``chaoskit.report.categories``, kind ``resilience``);
* *with_ids*: that failure's message names an event id (32 hex digits, the format of
  ``chaoskit.load.documents``; trace ids share the format, so a trace id alone would count).

Then ``--control N`` runs of the same experiments on the unmodified reference topology:
*false_alarms* counts the experiment results there that were not passed (failed or broken,
inconclusive included) or never written (a timeout). Prints one JSON object::

    {"planted": N, "caught": M, "caught_with_ids": K, "false_alarms": F, "control_runs": R,
     "bugs": [{"name", "caught", "with_ids", "by", "message", "outcomes", "expected"}, ...],
     "control": [{experiment: verdict}, ...], "wall_s": S}

Loopback only (the process runtime), one pytest run at a time, scratch dirs removed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chaoskit.report.categories import RESILIENCE, categorize  # noqa: E402
from chaoskit.report.gate import read_results  # noqa: E402
from fixtures.broken.scratch import BROKEN_DIR, REFERENCE, scratch_topology  # noqa: E402

MANIFEST = BROKEN_DIR / "bugs.toml"
EVENT_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
DEFAULT_TIMEOUT_S = 600.0
TERM_GRACE_S = 60.0  # after SIGTERM, the plugin tears the environment down


@dataclass(frozen=True)
class Bug:
    name: str
    component: str
    experiments: list[str]
    commands: dict[str, list[str]]
    plugin: str | None
    events: bool
    timeout_s: float
    expected: str


@dataclass(frozen=True)
class Verdict:
    """One experiment's result as the report files it."""

    test: str
    status: str  # passed, failed, broken, skipped, missing
    kind: str  # resilience, inconclusive, infrastructure, ... or ""
    message: str


def load_bugs(path: Path = MANIFEST) -> list[Bug]:
    table = tomllib.loads(path.read_text())["bugs"]
    return [
        Bug(
            name=name,
            component=entry["component"],
            experiments=list(entry["experiments"]),
            commands={component: list(cmd) for component, cmd in entry.get("commands", {}).items()},
            plugin=entry.get("plugin"),
            events=bool(entry.get("events", False)),
            timeout_s=float(entry.get("timeout_s", DEFAULT_TIMEOUT_S)),
            expected=str(entry.get("expected", "")),
        )
        for name, entry in table.items()
    ]


def test_name(node_id: str) -> str:
    return node_id.rsplit("::", 1)[-1].split("[", 1)[0]


def run_pytest(
    experiments: list[str], topology: Path, allure: Path, timeout_s: float, plugin: str | None = None
) -> bool:
    """One pytest subprocess, its output on stderr; False when it had to be stopped."""
    argv = [sys.executable, "-m", "pytest", *experiments, "-p", "no:cacheprovider", "-p", "no:locust", "-q"]
    argv += [f"--alluredir={allure}", f"--chaos-topology={topology}"]
    env = dict(os.environ)
    if plugin:
        argv += ["-p", plugin]
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BROKEN_DIR), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=sys.stderr, start_new_session=True)
    try:
        proc.wait(timeout=timeout_s)
        return True
    except subprocess.TimeoutExpired:
        print(f"detection: {' '.join(experiments)} exceeded {timeout_s:g} s, stopping it", file=sys.stderr)
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: pytest, its environment and load
        try:
            proc.wait(timeout=TERM_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return False


def verdicts(allure: Path, experiments: list[str]) -> dict[str, Verdict]:
    """Each wanted experiment's latest result (``missing`` when none was written)."""
    results, _ = read_results(allure)
    latest: dict[str, dict[str, Any]] = {}
    for result in results:
        name = str(result.get("fullName") or result.get("name") or "").rsplit("#", 1)[-1].rsplit(".", 1)[-1]
        name = name.split("[", 1)[0]
        if name not in latest or result.get("stop", 0) >= latest[name].get("stop", 0):
            latest[name] = result
    found: dict[str, Verdict] = {}
    for node in experiments:
        test = test_name(node)
        result = latest.get(test)
        if result is None:
            found[test] = Verdict(test, "missing", "", "no result written")
            continue
        status = str(result.get("status") or "unknown")
        message = str((result.get("statusDetails") or {}).get("message") or "")
        category = categorize(status, message) if status in ("failed", "broken") else None
        found[test] = Verdict(test, status, category.kind if category else "", message)
    return found


def first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else ""


def run_bug(bug: Bug, workdir: Path) -> dict[str, Any]:
    scratch = workdir / bug.name
    if bug.commands:
        topology = scratch_topology(scratch, bug.commands, f"chaoskit-bug-{bug.name}")
    else:
        scratch.mkdir(parents=True)
        topology = REFERENCE
    started = time.monotonic()
    finished = run_pytest(bug.experiments, topology, scratch / "allure", bug.timeout_s, bug.plugin)
    found = verdicts(scratch / "allure", bug.experiments)
    caught_by = [v for v in found.values() if v.status == "failed" and v.kind == RESILIENCE]
    with_ids = [v for v in caught_by if EVENT_ID.search(v.message)]
    first = (with_ids or caught_by or [v for v in found.values() if v.message] or [None])[0]
    return {
        "name": bug.name,
        "component": bug.component,
        "caught": bool(caught_by),
        "with_ids": bool(with_ids),
        "by": [v.test for v in caught_by],
        "message": first_line(first.message) if first else "",
        "outcomes": {v.test: v.status + (f" ({v.kind})" if v.kind else "") for v in found.values()},
        "events": bug.events,
        "delivery": "plugin (patched copy in the pytest process)" if bug.plugin else "scratch topology",
        "timed_out": not finished,
        "wall_s": round(time.monotonic() - started, 1),
        "expected": bug.expected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bugs", default="", help="comma-separated bug names of bugs.toml (default: all)")
    parser.add_argument("--control", type=int, default=3, help="runs on the reference topology (default 3)")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    args = parser.parse_args()
    if not 0 <= args.control <= 20:
        parser.error(f"--control must be between 0 and 20, got {args.control}")
    bugs = load_bugs(args.manifest)
    if args.bugs:
        wanted = [name.strip() for name in args.bugs.split(",") if name.strip()]
        unknown = sorted(set(wanted) - {bug.name for bug in bugs})
        if unknown:
            parser.error(f"unknown bugs {unknown}; known: {', '.join(bug.name for bug in bugs)}")
        bugs = [bug for bug in bugs if bug.name in wanted]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="chaoskit-detection-") as tmp:
        workdir = Path(tmp)
        reports = [run_bug(bug, workdir) for bug in bugs]
        experiments = list(dict.fromkeys(node for bug in bugs for node in bug.experiments))
        timeout_s = max((bug.timeout_s for bug in bugs), default=DEFAULT_TIMEOUT_S) * max(1, len(experiments))
        control: list[dict[str, str]] = []
        for run in range(args.control if experiments else 0):
            allure = workdir / f"control-{run}"
            run_pytest(experiments, REFERENCE, allure, timeout_s)
            found = verdicts(allure, experiments)
            control.append({v.test: v.status + (f" ({v.kind})" if v.kind else "") for v in found.values()})
    false_alarms = sum(1 for run in control for verdict in run.values() if not verdict.startswith("passed"))
    print(
        json.dumps(
            {
                "planted": len(reports),
                "caught": sum(r["caught"] for r in reports),
                "caught_with_ids": sum(r["caught"] and r["with_ids"] for r in reports),
                "false_alarms": false_alarms,
                "control_runs": len(control),
                "bugs": reports,
                "control": control,
                "wall_s": round(time.monotonic() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
