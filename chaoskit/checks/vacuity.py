"""Was there anything to judge? The guard against a vacuous pass.

Every other check is a universal statement ("every acked event was applied") and holds
trivially over nothing. Tried as a new user would, a load aimed at the wrong path got 62
answers of 404, the recorder understood 0 of 161 records, and every check passed with
"all 0 events". This check says **unknown** when the run produced no evidence worth
judging, whatever the experiment declared:

* the load ran but nothing was acknowledged;
* most load requests failed outside every fault window (so not because of the fault:
  a wrong target, a broken client, a system that was down from the start);
* the recorder did not catch up with the topics' end, or could not understand most of
  the records it read (the event contract does not fit the system).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chaoskit.checks.result import CheckResult, plural
from chaoskit.observe.timeline import Timeline

NAME = "evidence"
MOSTLY = 0.5  # "most": more than half


@dataclass(frozen=True)
class RecordFigures:
    """What the recorder says about its own record (from ``RecorderStats``)."""

    records: int
    skipped_records: int
    caught_up: bool


def check_evidence(
    *,
    samples: Sequence[tuple[float, float, bool]] | None,
    acked: int | None,
    record: RecordFigures | None,
    timeline: Timeline | None = None,
) -> CheckResult:
    """``samples`` are the load's (start time, latency ms, ok) requests, None when the
    experiment drove no load through chaoskit; ``acked`` how many events it saw
    acknowledged; ``record`` the recorder's figures, None when nothing was recorded."""
    missing: list[str] = []
    verified: list[str] = []
    if samples is not None:
        if not acked:
            missing.append(f"the load got no acknowledgement ({plural(len(samples), 'request')} sent, 0 acknowledged)")
        windows = [(w.injected_at, w.healed_at) for w in timeline.windows()] if timeline is not None else []
        calm = [ok for start, _, ok in samples if not any(_inside(start, s, e) for s, e in windows)]
        failed = calm.count(False)
        if calm and failed > MOSTLY * len(calm):
            missing.append(
                f"most load requests failed outside every fault window ({failed} of {len(calm)}), "
                f"so not because of the fault: is the load aimed at the right target?"
            )
        else:
            verified.append(f"{acked} events acknowledged to the load")
    if record is not None:
        if not record.caught_up:
            missing.append("the recorder did not catch up with the topics' end: the record is incomplete")
        if record.records and record.skipped_records > MOSTLY * record.records:
            missing.append(
                f"the recorder could not read {record.skipped_records} of {record.records} records "
                f"(no event id where the event contract says): the contract does not fit this system"
            )
        else:
            verified.append(f"{record.records - record.skipped_records} of {record.records} records understood")
    if missing:
        return CheckResult.unknown(NAME, "no evidence worth judging: " + "; ".join(missing))
    return CheckResult(NAME, True, "; ".join(verified) or "no load and no record to judge")


def _inside(at: float, start: float, end: float | None) -> bool:
    return start <= at and (end is None or at <= end)
