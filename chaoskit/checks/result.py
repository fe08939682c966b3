"""What a check returns: the verdict, its figures, and the events that broke it.

Three outcomes, not two: **pass**, **fail**, and **unknown** when the evidence cannot
decide (the recorder did not catch up, most records were not understood, the fault did not
provoke what the hypothesis needs). An unknown is never shown or counted as a pass: ``ok``
is True only for a pass, and ``decided`` tells a fail from an unknown.

A green result states what it verified (counts, bounds) in ``summary``; a red one names
its offenders there too, and ``explain()`` gives one line per offending event with its
trace id, the expected and the observed fate, and the fault window it fell in, so a
reviewer reading only the failure message knows what went wrong and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

EXPLAIN_LIMIT = 50
SUMMARY_IDS = 3


@dataclass(frozen=True)
class Offender:
    """One event (or, for SLO checks, one phase when ``event_id`` is None) that broke a check."""

    event_id: str | None
    trace_id: str | None
    expected: str
    observed: str
    fault_window: str | None = None

    def line(self) -> str:
        subject = "" if self.event_id is None else f"{self.event_id} (trace {self.trace_id or 'none'}): "
        where = f"fell in fault window {self.fault_window}" if self.fault_window else "outside any fault window"
        return f"{subject}expected {self.expected}; observed {self.observed}; {where}"


PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
_HEADINGS = {PASS: "PASSED", FAIL: "FAILED", UNKNOWN: "UNKNOWN"}


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    summary: str
    offenders: tuple[Offender, ...] = field(default_factory=tuple)
    decided: bool = True

    @classmethod
    def unknown(cls, name: str, summary: str) -> CheckResult:
        """The evidence cannot decide: ``summary`` says what was missing."""
        return cls(name, False, summary, decided=False)

    @property
    def outcome(self) -> str:
        """``pass``, ``fail`` or ``unknown``."""
        return PASS if self.ok else FAIL if self.decided else UNKNOWN

    def explain(self, limit: int = EXPLAIN_LIMIT) -> str:
        """The summary, then one line per offender (the first ``limit`` of them)."""
        lines = [f"{_HEADINGS[self.outcome]} {self.name}: {self.summary}"]
        lines += [f"  - {o.line()}" for o in self.offenders[:limit]]
        if len(self.offenders) > limit:
            lines.append(f"  … and {len(self.offenders) - limit} more offenders")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 event``, ``3 events``, ``2 entries``: summaries are read by people."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def name_ids(offenders: Sequence[Offender]) -> str:
    """The first few offending event ids for a one-line summary: ``a, b, c +4 more``."""
    ids = list(dict.fromkeys(o.event_id for o in offenders if o.event_id is not None))
    shown = ", ".join(ids[:SUMMARY_IDS])
    return shown + (f" +{len(ids) - SUMMARY_IDS} more" if len(ids) > SUMMARY_IDS else "")
