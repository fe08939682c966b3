"""Allure categories that tell a reader of a red result what to do about it.

A red chaos run means one of five very different things, and a reviewer must tell them
apart at a glance: a **resilience failure** (a check failed: events lost, a DLQ that did
not drain, state that did not converge; fix the system), an **experiment error** (a typo,
an unknown fault, link or parameter, a bug in the experiment; fix the experiment: rerunning
cannot help), an **infrastructure failure** (Kafka did not start, a tool is missing,
Toxiproxy refused a call; the run has no verdict and must be repeated), an
**interruption** (Ctrl-C, a cancelled CI job's SIGTERM, the time budget: nothing was
decided) or an **inconclusive** run (it ended, but its fault did not provoke what the
hypothesis needs, or there was nothing to judge: nothing was proven). A failed ``load``
check is an infrastructure failure too: the load generator was the bottleneck, so what
it measured describes itself, not the system. The release gate uses the same table, so
the report's Categories tab and the gate's verdict never disagree.

Allure 2 matches ``messageRegex`` against the whole status message with DOTALL
(``Pattern.compile(regex, DOTALL).matcher(message).matches()``), first category wins;
``matches`` below reproduces that, so unit tests exercise exactly what the report does.
The message allure-pytest records is ``ExceptionType: text`` (fully qualified for
non-builtin exceptions); chaoskit checks start their text with the check's name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

CHECK_NAMES = (
    "delivery",
    "dlq",
    "retry",
    "consistency",
    "ordering",
    "lost_write",
    "trace",
    "slo",
    "rollback",
    "recovery",
)

# The check name at the start of a line, after an optional "SomeError: " prefix and the
# "FAILED " that CheckResult.explain() puts first; a check failure wrapped by Hypothesis
# or an ExceptionGroup still puts it on a line start.
_LINE_START = r"(?:.*\n)?(?:[\w.]+: )?(?:FAILED )?"
_AT_LINE_START = "(?s)" + _LINE_START

# A failed load check (the load generator was the bottleneck) invalidates what the load
# process measured (the slo figures), not what happened to the events: a message that also
# fails one of these checks (or acks, verdicts.check_acks) stays a resilience failure, so
# the gate still holds on it rather than calling the run an environment failure.
_NOT_VOIDED_BY_LOAD = ("acks", *(check for check in CHECK_NAMES if check != "slo"))
_LOAD_BOTTLENECK = "(?s)(?!" + _LINE_START + "(?:" + "|".join(_NOT_VOIDED_BY_LOAD) + "):)" + _LINE_START + "load:.*"

INFRASTRUCTURE = "infrastructure"
RESILIENCE = "resilience"
EXPERIMENT_ERROR = "experiment-error"
INTERRUPTED = "interrupted"
INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Category:
    name: str
    statuses: tuple[str, ...]
    message_regex: str | None
    kind: str  # INFRASTRUCTURE, RESILIENCE, EXPERIMENT_ERROR, INTERRUPTED or INCONCLUSIVE: what the gate makes of it

    def as_allure(self) -> dict[str, object]:
        entry: dict[str, object] = {"name": self.name, "matchedStatuses": list(self.statuses)}
        if self.message_regex is not None:
            entry["messageRegex"] = self.message_regex
        return entry


def _exception(*names: str) -> str:
    return r"(?s).*\b(?:" + "|".join(names) + r")\b.*"


CATEGORIES: tuple[Category, ...] = (
    # First: an interrupted experiment's message may name anything it was doing when stopped.
    Category(
        "Interrupted: no verdict (Ctrl-C, SIGTERM or the time budget stopped it)",
        ("broken",),
        _exception("ExperimentInterrupted", "ExperimentTimeout"),
        INTERRUPTED,
    ),
    Category(
        "Inconclusive: the fault did not provoke what the hypothesis needs, or there was no evidence to judge",
        ("broken",),
        _exception("ExperimentInconclusive"),
        INCONCLUSIVE,
    ),
    Category(
        "Infrastructure failure: a component did not start",
        ("broken",),
        _exception("ComponentStartError"),
        INFRASTRUCTURE,
    ),
    Category(
        "Infrastructure failure: a required tool is missing",
        ("broken",),
        _exception("MissingToolError"),
        INFRASTRUCTURE,
    ),
    Category(
        "Infrastructure failure: a fault could not be injected or healed",
        ("broken",),
        _exception("ToxiproxyError", "HealError", "ScheduleError"),
        INFRASTRUCTURE,
    ),
    Category(
        "Infrastructure failure: the load generator failed", ("broken",), _exception("LoadRunError"), INFRASTRUCTURE
    ),
    Category(
        "Infrastructure failure: the load generator was the bottleneck", ("failed",), _LOAD_BOTTLENECK, INFRASTRUCTURE
    ),
    *(
        Category(f"Resilience failure: {check}", ("failed",), _AT_LINE_START + re.escape(check) + r":.*", RESILIENCE)
        for check in CHECK_NAMES
    ),
    Category(
        "Resilience failure: steady state not restored", ("failed",), _AT_LINE_START + r"steady state\b.*", RESILIENCE
    ),
    Category("Resilience failure: other assertion", ("failed",), None, RESILIENCE),
    Category(
        "Experiment error: input rejected (a typo, an unknown fault, link or parameter)",
        ("broken",),
        _exception("ConfigError", "TargetError", "BlastRadiusError"),
        EXPERIMENT_ERROR,
    ),
    Category("Experiment error (a bug in the experiment or chaoskit)", ("broken",), None, EXPERIMENT_ERROR),
)


def matches(regex: str, message: str) -> bool:
    """Allure 2's rule: the whole message must match, with ``.`` matching newlines."""
    return re.fullmatch(regex, _ANSI.sub("", message), re.DOTALL) is not None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def categorize(status: str, message: str | None) -> Category | None:
    """The first category matching a result, as the Allure report will file it."""
    for category in CATEGORIES:
        if status not in category.statuses:
            continue
        if category.message_regex is None or (message is not None and matches(category.message_regex, message)):
            return category
    return None


def write_categories(results_dir: Path) -> Path:
    path = results_dir / "categories.json"
    path.write_text(json.dumps([c.as_allure() for c in CATEGORIES], indent=2) + "\n", encoding="utf-8")
    return path
