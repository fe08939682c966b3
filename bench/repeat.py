"""Runs the experiment suite N times and reports any verdict that changed between runs.

Prints one JSON line: {"runs": N, "stress": S, "experiments": {NAME: {"passed": P,
"failed": F, "inconclusive": I, "broken": B}}, "changed_verdicts": [NAME, ...],
"wall_s": [S, ...]}. A chaos verdict that flips on a rerun is worse than none; the target
is zero changed verdicts over 5 runs, also with ``--stress 2``: CI runners are shared, so
N busy processes beside the run (each a CPU-bound loop that stops by itself when this
bench ends) show whether a bound in an experiment is really a timing assumption.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERDICTS = ("passed", "failed", "inconclusive", "broken")

# A busy loop that ends when its parent (this bench) is gone, whatever killed it.
BUSY = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    sum(i * i for i in range(100_000))\n"


def outcomes(junit: Path) -> dict[str, str]:
    """Test name -> verdict, from a JUnit XML report (skipped tests are left out)."""
    result: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("skipped") is not None:
            continue
        name = f"{case.get('classname')}::{case.get('name')}"
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        if bad is None:
            result[name] = "passed"
            continue
        text = f"{bad.get('message', '')}\n{bad.text or ''}"
        result[name] = (
            "inconclusive"
            if "ExperimentInconclusive" in text
            else "broken"
            if case.find("error") is not None or "ChaoskitError" in text
            else "failed"
        )
    return result


@contextmanager
def stressed(n: int) -> Iterator[None]:
    """``n`` CPU-bound processes beside the block; killed when it ends."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stress", type=int, default=0, help="busy processes beside the run (default 0)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs must be >= 1, got {args.runs}")
    if not 0 <= args.stress <= 16:
        parser.error(f"--stress must be between 0 and 16 busy processes, got {args.stress}")
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(VERDICTS, 0))
    walls = []
    with tempfile.TemporaryDirectory(prefix="chaoskit-repeat-") as tmp, stressed(args.stress):
        for run in range(args.runs):
            junit = Path(tmp) / f"run{run}.xml"
            started = time.monotonic()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "experiments",
                    "-p",
                    "no:locust",
                    "-p",
                    "no:cacheprovider",
                    "-q",
                    "-o",
                    "junit_family=legacy",
                    f"--junitxml={junit}",
                    *args.pytest_args,
                ],
                cwd=ROOT,
                stdout=sys.stderr,
                check=False,
            )
            walls.append(round(time.monotonic() - started, 1))
            if not junit.exists():
                continue
            for name, verdict in outcomes(junit).items():
                counts[name][verdict] += 1
    changed = sorted(name for name, c in counts.items() if sum(1 for v in c.values() if v) > 1)
    print(
        json.dumps(
            {
                "runs": args.runs,
                "stress": args.stress,
                "experiments": dict(counts),
                "changed_verdicts": changed,
                "wall_s": walls,
            }
        )
    )


if __name__ == "__main__":
    main()
