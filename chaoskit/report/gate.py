"""``chaoskit gate``: one yes/no for a release, from a run's Allure results.

Five verdicts, each with its own exit code, because "no" means different things and each
asks its reader for something else:

* ``pass`` (0): every required experiment passed and the others stayed within budget;
* ``hold`` (1): the system failed a required resilience check (or too many others
  failed, or a required experiment did not run, was skipped, or was inconclusive: its
  fault did not provoke what its hypothesis needs): fix the system or the experiment;
* ``environment-failure`` (3): the environment could not start or be driven (a broken
  result in an infrastructure category of ``categories.py``: ComponentStartError,
  MissingToolError, a fault that could not be injected or healed, a dead load generator),
  or it could not measure (a failed ``load`` check: the load generator was the
  bottleneck), a result file is unreadable, or there are no results at all: rerun;
* ``experiment-error`` (4): a required experiment (or too many others) broke on its own
  input or code: a typo, an unknown fault, link or parameter. Rerunning cannot help: fix
  the experiment;
* ``interrupted`` (5): an experiment or the whole run was stopped before it decided
  (Ctrl-C, a cancelled job's SIGTERM, a time budget, ``-x``, a killed session, as
  ``chaoskit-run.json`` tells): nothing was decided.

None but ``pass`` lets a release go. When a required check really failed, ``hold`` wins
over the others: a definite red must not be hidden behind an interruption or a flaky
environment. Results of one test retried within a run (same Allure historyId) count
once, by their latest attempt. (Exit code 2 stays the command line's: bad input.)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from chaoskit.report.categories import (
    EXPERIMENT_ERROR,
    INCONCLUSIVE,
    INFRASTRUCTURE,
    INTERRUPTED,
    RESILIENCE,
    categorize,
)
from chaoskit.report.policy import GatePolicy
from chaoskit.report.run_file import NAME, RunFile

PASS, HOLD, ENVIRONMENT_FAILURE = "pass", "hold", "environment-failure"
EXPERIMENT_ERROR_VERDICT, INTERRUPTED_RUN = "experiment-error", "interrupted"
EXIT_CODES = {PASS: 0, HOLD: 1, ENVIRONMENT_FAILURE: 3, EXPERIMENT_ERROR_VERDICT: 4, INTERRUPTED_RUN: 5}
_BAD = ("failed", "broken")


@dataclass(frozen=True)
class Outcome:
    """One experiment as the gate sees it."""

    name: str  # the report's title
    test: str  # the test function (what ``required`` globs usually name)
    full_name: str
    status: str  # passed, failed, broken, skipped, unknown
    severity: str
    required_by: str  # why it must pass ("severity critical", "required test_baseline*"), or ""
    category: str
    kind: str  # infrastructure, resilience, experiment-error, interrupted, or "" when passed/skipped
    message: str  # first line of the failure message


@dataclass(frozen=True)
class GateDecision:
    verdict: str
    experiments: list[Outcome]
    reasons: list[str]
    policy: GatePolicy
    results_dir: Path

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for outcome in self.experiments:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return {
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "results_dir": str(self.results_dir),
            "policy": self.policy.as_dict(),
            "counts": counts,
            "experiments": [asdict(o) for o in self.experiments],
            "reasons": self.reasons,
        }


def run_gate(results_dir: Path, policy: GatePolicy, out_dir: Path) -> GateDecision:
    """Decide on ``results_dir`` and write ``gate.json`` and ``gate.md`` into ``out_dir``."""
    decision = decide(Path(results_dir), policy)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gate.json").write_text(json.dumps(decision.as_dict(), indent=2) + "\n", encoding="utf-8")
    (out_dir / "gate.md").write_text(markdown(decision), encoding="utf-8")
    return decision


def decide(results_dir: Path, policy: GatePolicy) -> GateDecision:
    raw, unreadable = read_results(results_dir)
    experiments = [_outcome(r, policy) for r in _latest_attempts(raw)]
    experiments.sort(key=lambda o: (o.status == "passed", o.required_by == "", o.name))
    reasons: list[str] = [f"unreadable result file {name}: {why}" for name, why in unreadable]
    try:
        run = RunFile.read(results_dir)
    except ValueError as err:
        run, unreadable = None, [*unreadable, (NAME, str(err))]
        reasons.append(f"unreadable run file: {err}")

    failed_checks: list[str] = []  # definite resilience failures: these make a hold
    experiment_errors: list[str] = []
    other_holds: list[str] = []
    interrupted = [f"interrupted: {o.name}: no verdict ({o.message})" for o in experiments if o.kind == INTERRUPTED]
    stopped = run.interruption() if run is not None else None
    if stopped:
        interrupted.insert(0, f"interrupted: {stopped}: no verdict")
    infra = [o for o in experiments if o.kind == INFRASTRUCTURE]
    for o in infra:
        what = "could not run" if o.status == "broken" else "ran without a valid measurement"
        reasons.append(f"environment: {o.name} {what}: {o.message}")
    for o in experiments:
        if not o.required_by or o.status == "passed" or o.kind in (INFRASTRUCTURE, INTERRUPTED):
            continue
        state = "inconclusive (nothing was proven)" if o.kind == INCONCLUSIVE else o.status
        text = f"required ({o.required_by}) experiment {o.name} is {state}" + (f": {o.message}" if o.message else "")
        {RESILIENCE: failed_checks, EXPERIMENT_ERROR: experiment_errors}.get(o.kind, other_holds).append(text)
    for pattern in policy.required:
        if not any(_matches(pattern, o) for o in experiments):
            other_holds.append(f"required experiment {pattern!r} did not run (no result matches it)")
    optional = [o for o in experiments if not o.required_by and o.status in _BAD]
    notes = [
        f"inconclusive (not required, nothing was proven): {o.name}: {o.message}"
        for o in optional
        if o.kind == INCONCLUSIVE
    ]
    optional_bad = [o for o in optional if o.kind not in (INFRASTRUCTURE, INTERRUPTED, INCONCLUSIVE)]
    if len(optional_bad) > policy.max_failed:
        names = ", ".join(o.name for o in optional_bad)
        text = f"{len(optional_bad)} other experiment(s) failed, more than max_failed = {policy.max_failed}: {names}"
        kinds = {o.kind for o in optional_bad}
        (
            failed_checks if RESILIENCE in kinds else experiment_errors if EXPERIMENT_ERROR in kinds else other_holds
        ).append(text)
    if 0 < len(experiments) < policy.min_experiments:
        other_holds.append(
            f"only {len(experiments)} experiment(s) ran; the policy needs min_experiments = {policy.min_experiments}"
        )
    reasons += failed_checks + interrupted + experiment_errors + other_holds + notes

    if failed_checks:
        verdict = HOLD
    elif interrupted:
        verdict = INTERRUPTED_RUN
    elif not experiments:
        verdict = ENVIRONMENT_FAILURE
        reasons.append(
            f"no experiment results in {results_dir}: the run produced none "
            f"(did pytest start, and was it given --alluredir {results_dir}?)"
        )
    elif infra or unreadable:
        verdict = ENVIRONMENT_FAILURE
    elif experiment_errors:
        verdict = EXPERIMENT_ERROR_VERDICT
    elif other_holds:
        verdict = HOLD
    else:
        verdict = PASS
    return GateDecision(verdict, experiments, reasons, policy, results_dir)


def read_results(results_dir: Path) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The ``*-result.json`` files of a run, and the ones that could not be read."""
    results: list[dict[str, Any]] = []
    unreadable: list[tuple[str, str]] = []
    for path in sorted(results_dir.glob("*-result.json")) if results_dir.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            unreadable.append((path.name, str(err)))
            continue
        if not isinstance(data, dict) or "status" not in data:
            unreadable.append((path.name, "not an Allure test result (no status)"))
            continue
        results.append(data)
    return results, unreadable


def _latest_attempts(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for result in results:
        key = str(result.get("historyId") or result.get("fullName") or result.get("uuid") or id(result))
        if key not in latest or result.get("stop", 0) >= latest[key].get("stop", 0):
            latest[key] = result
    return list(latest.values())


def _outcome(result: dict[str, Any], policy: GatePolicy) -> Outcome:
    labels: dict[str, Any] = {}
    for label in result.get("labels", []):
        labels.setdefault(label.get("name"), label.get("value"))
    full_name = str(result.get("fullName") or "")
    status = str(result.get("status") or "unknown")
    details = result.get("statusDetails") or {}
    message = str(details.get("message") or "")
    category = categorize(status, message) if status in _BAD else None
    outcome = Outcome(
        name=str(result.get("name") or full_name or "?"),
        test=full_name.rsplit("#", 1)[-1] if "#" in full_name else str(result.get("name") or ""),
        full_name=full_name,
        status=status,
        severity=str(labels.get("severity") or "normal"),
        required_by="",
        category=category.name if category else "",
        kind=category.kind if category else "",
        message=message.strip().splitlines()[0] if message.strip() else "",
    )
    return _with_requirement(outcome, policy)


def _with_requirement(outcome: Outcome, policy: GatePolicy) -> Outcome:
    why = []
    if outcome.severity in policy.required_severities:
        why.append(f"severity {outcome.severity}")
    why += [f"required {p}" for p in policy.required if _matches(p, outcome)]
    return Outcome(**{**asdict(outcome), "required_by": ", ".join(why)})


def _matches(pattern: str, outcome: Outcome) -> bool:
    return any(
        fnmatchcase(candidate, pattern) for candidate in (outcome.test, outcome.name, outcome.full_name) if candidate
    )


_HEADLINES = {
    PASS: "PASS: release may go ahead",
    HOLD: "HOLD: a required resilience check failed",
    ENVIRONMENT_FAILURE: "ENVIRONMENT FAILURE: no verdict, the run must be repeated",
    EXPERIMENT_ERROR_VERDICT: "EXPERIMENT ERROR: no verdict, fix the experiment (rerunning cannot help)",
    INTERRUPTED_RUN: "INTERRUPTED: no verdict, the run was stopped before it decided",
}
_ICONS = {PASS: "✅", HOLD: "⛔", ENVIRONMENT_FAILURE: "⚠️", EXPERIMENT_ERROR_VERDICT: "🛠️", INTERRUPTED_RUN: "⏹️"}
_STATUS_ICONS = {"passed": "✅", "failed": "❌", "broken": "💥", "skipped": "⏭️", "unknown": "❔"}


def summary_table(decision: GateDecision) -> str:
    """A plain-text table for the terminal (no colour: CI logs keep it readable)."""
    lines: list[str] = []
    if decision.experiments:
        rows = [("STATUS", "SEVERITY", "REQUIRED", "EXPERIMENT", "CATEGORY")]
        rows += [
            (o.status, o.severity, "yes" if o.required_by else "-", o.name, o.category or "-")
            for o in decision.experiments
        ]
        widths = [min(max(len(r[i]) for r in rows), 60) for i in range(4)]
        lines += ["  ".join(cell[:60].ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4] for row in rows]
        lines.append("")
    lines.append(
        f"gate: {_HEADLINES[decision.verdict]} (exit {decision.exit_code}; policy from {decision.policy.source})"
    )
    lines += [f"  - {reason}" for reason in decision.reasons]
    return "\n".join(lines)


def markdown(decision: GateDecision) -> str:
    """The verdict for ``$GITHUB_STEP_SUMMARY`` or a PR comment."""
    out = [f"## {_ICONS[decision.verdict]} chaoskit release gate: {_HEADLINES[decision.verdict]}", ""]
    counts = decision.as_dict()["counts"]
    out.append(
        f"{len(decision.experiments)} experiment(s): "
        + (", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none")
        + f". Policy from {_md(decision.policy.source)}: required severities "
        + f"{', '.join(decision.policy.required_severities) or 'none'}; required "
        + f"{', '.join(f'`{p}`' for p in decision.policy.required) or 'none'}; "
        + f"max_failed {decision.policy.max_failed}; min_experiments {decision.policy.min_experiments}."
    )
    out.append("")
    if decision.reasons:
        out.append("### Why")
        out += [f"- {_md(reason)}" for reason in decision.reasons]
        out.append("")
    if decision.experiments:
        out.append("| | experiment | severity | required | category | message |")
        out.append("|---|---|---|---|---|---|")
        for o in decision.experiments:
            out.append(
                f"| {_STATUS_ICONS.get(o.status, o.status)} {o.status} | {_md(o.name)} | {o.severity} | "
                f"{_md(o.required_by) or '-'} | {_md(o.category) or '-'} | {_md(o.message[:200]) or '-'} |"
            )
        out.append("")
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
