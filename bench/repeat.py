"""Runs the experiment suite N times and reports any verdict that changed between runs.

Prints one JSON line: {"runs": N, "experiments": {NAME: {"passed": P, "failed": F}},
"changed_verdicts": [NAME, ...], "wall_s": [S, ...]}. A chaos verdict that flips on a
rerun is worse than none; the target is zero changed verdicts over 5 runs.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def outcomes(junit: Path) -> dict[str, bool]:
    """Test name -> passed, from a JUnit XML report (skipped tests are left out)."""
    result: dict[str, bool] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("skipped") is not None:
            continue
        name = f"{case.get('classname')}::{case.get('name')}"
        result[name] = case.find("failure") is None and case.find("error") is None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs must be >= 1, got {args.runs}")
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"passed": 0, "failed": 0})
    walls = []
    with tempfile.TemporaryDirectory(prefix="chaoskit-repeat-") as tmp:
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
            for name, passed in outcomes(junit).items():
                counts[name]["passed" if passed else "failed"] += 1
    changed = sorted(name for name, c in counts.items() if c["passed"] and c["failed"])
    print(json.dumps({"runs": args.runs, "experiments": dict(counts), "changed_verdicts": changed, "wall_s": walls}))


if __name__ == "__main__":
    main()
