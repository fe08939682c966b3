"""``chaoskit gate`` and ``chaoskit report``: the subcommands, for chaoskit's CLI to mount.

``add_cli(subparsers)`` adds them to the main parser; ``handle(args)`` runs the one
chosen and returns the process exit code (gate: 0 pass, 1 hold, 3 environment
failure, 4 experiment error, 5 interrupted; report: 0). Bad input raises ConfigError, which the CLI prints with exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chaoskit.report.gate import run_gate, summary_table
from chaoskit.report.html import generate_report
from chaoskit.report.policy import load_policy

COMMANDS = ("gate", "report")
RESULTS = "reports/allure-results"


def add_cli(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    gate = subparsers.add_parser(
        "gate",
        help="decide a release from a run's Allure results "
        "(exit 0 pass, 1 hold, 3 environment failure, 4 experiment error, 5 interrupted)",
    )
    gate.add_argument("--results", type=Path, default=Path(RESULTS), help=f"the Allure results (default {RESULTS})")
    gate.add_argument(
        "--policy",
        type=Path,
        default=None,
        help="a TOML file with the policy (default: [tool.chaoskit.gate] in ./pyproject.toml)",
    )
    gate.add_argument(
        "--out", type=Path, default=Path("reports"), help="where gate.json and gate.md go (default reports)"
    )
    report = subparsers.add_parser("report", help="generate the Allure HTML report (keeps trend history between runs)")
    report.add_argument("--results", type=Path, default=Path(RESULTS), help=f"the Allure results (default {RESULTS})")
    report.add_argument(
        "--out",
        type=Path,
        default=Path("reports/allure-report"),
        help="the report folder (default reports/allure-report); keep it for trends",
    )
    report.add_argument(
        "--single-file",
        type=Path,
        nargs="?",
        const=Path("reports/allure-report-single"),
        default=None,
        metavar="DIR",
        help="also write a self-contained index.html (default DIR reports/allure-report-single)",
    )


def handle(args: argparse.Namespace) -> int:
    """Run the report command the parser chose."""
    if args.command == "gate":
        return gate(args.results, args.policy, args.out)
    if args.command == "report":
        return report(args.results, args.out, args.single_file)
    raise AssertionError(f"not a report command: {args.command}")


def gate(results: Path, policy: Path | None, out: Path) -> int:
    """Decide on ``results``, print the table, write gate.json/gate.md; the gate's exit code."""
    decision = run_gate(results, load_policy(policy), out)
    print(summary_table(decision))
    print(f"written: {out / 'gate.json'}, {out / 'gate.md'}")
    return decision.exit_code


def report(results: Path, out: Path, single_file: Path | None = None) -> int:
    """Generate the HTML report (and a single-file copy when asked)."""
    index = generate_report(results, out, single_file)
    print(f"report: {index}  (it loads its data with XHR: serve it, e.g. `python -m http.server -d {out}`)")
    if single_file is not None:
        print(f"single-file report: {single_file / 'index.html'} (opens from disk)")
    return 0
