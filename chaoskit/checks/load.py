"""Load: the load generator was not the bottleneck, so the figures it measured are the system's.

A load process that runs out of CPU queues its own requests: the latencies it records
then include that queueing, and the rate it reaches is its own ceiling, not the system's.
The SLO figures of such a run describe the load generator, so the run has no valid
measurement (an infrastructure failure, not a resilience one). Each run is judged on the
CPU seconds per wall second of its busiest load process (1.0 = one core busy: one gevent
loop can use no more) and on Locust's own warning; the limit is Locust's line, 90% of a
core. The figure counts the whole process (librdkafka's threads too, as Locust's does),
so it errs towards flagging a run. A run whose driver was killed has no CPU figure: that
is reported, not held against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaoskit.checks.result import CheckResult, Offender, plural

if TYPE_CHECKING:
    from chaoskit.load.result import LoadResult

NAME = "load"
CORE_LIMIT = 0.9  # of one core: where Locust itself warns that the load process is CPU-bound
EXPECTED = f"the load process below {CORE_LIMIT:.0%} of a core, without Locust's CPU warning"
ADVICE = (
    "its latencies include its own queueing, so the slo figures describe the load generator, not the system; "
    "lower the rate or the users, or spread them over more load processes (processes=N), and run again"
)


@dataclass(frozen=True)
class LoadFigures:
    """What the check needs of one load run: its name (the run directory's, e.g.
    ``load-02-kafka-constant``), user kind, request count and CPU figures."""

    run: str
    user: str
    requests: int
    core_share: float | None
    cpu_warning: bool

    @classmethod
    def from_result(cls, result: LoadResult) -> LoadFigures:
        """The figures of a finished run. LoadResult is imported for type checking only: the
        check stays a function of plain data, testable without the load package."""
        return cls(
            run=result.dir.name,
            user=result.config.user,
            requests=result.totals.requests,
            core_share=result.core_share,
            cpu_warning=result.cpu_warning,
        )

    @property
    def bottleneck(self) -> bool:
        """At or above the limit, or Locust warned (its check samples the run, this figure averages it)."""
        return self.cpu_warning or (self.core_share is not None and self.core_share >= CORE_LIMIT)

    @property
    def cpu(self) -> str:
        """The CPU figure as a summary states it: ``97% of a core``, or unknown for a killed driver."""
        share = "CPU unknown (killed)" if self.core_share is None else f"{self.core_share:.0%} of a core"
        return share + (", Locust warned it was CPU-bound" if self.cpu_warning else "")


def check_load(runs: Sequence[LoadFigures]) -> CheckResult:
    """Every run's load process stayed below ``CORE_LIMIT`` of a core and Locust did not warn."""
    if not runs:
        return CheckResult(NAME, True, "no load runs to judge")
    unknown = [run.run for run in runs if run.core_share is None]
    killed = f"; CPU unknown (killed) for {', '.join(unknown)}" if unknown else ""
    busy = [run for run in runs if run.bottleneck]
    if busy:
        offenders = tuple(
            Offender(None, None, EXPECTED, f"{run.run} ({run.user} user, {run.requests} requests) at {run.cpu}")
            for run in busy
        )
        named = " and ".join(f"{run.run} ({run.cpu})" for run in busy)
        summary = f"the load generator was the bottleneck (limit {CORE_LIMIT:.0%} of a core) in {named}: {ADVICE}"
        return CheckResult(NAME, False, summary + killed, offenders)
    measured = [run.core_share for run in runs if run.core_share is not None]
    figures = f"{plural(len(runs), 'load run')}, {sum(run.requests for run in runs)} requests"
    if measured:
        figures += f"; the load process used at most {max(measured):.0%} of a core (limit {CORE_LIMIT:.0%})"
    verdict = "the load generator was not the bottleneck" if measured else "whether it was the bottleneck is unknown"
    return CheckResult(NAME, True, f"{figures}{killed}: {verdict}")
