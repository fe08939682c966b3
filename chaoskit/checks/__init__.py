"""Verdicts: pure functions of a History (plus final state, timeline and parameters)
that return a CheckResult explaining itself."""

from chaoskit.checks.consistency import check_consistency, check_convergence
from chaoskit.checks.delivery import check_delivery
from chaoskit.checks.dlq import check_dlq
from chaoskit.checks.load import LoadFigures, check_load
from chaoskit.checks.lost_write import check_lost_writes
from chaoskit.checks.ordering import check_ordering
from chaoskit.checks.recovery import check_recovery
from chaoskit.checks.result import CheckResult, Offender
from chaoskit.checks.retry import backoff_s, check_retry
from chaoskit.checks.rollback import check_rollback, time_to_rollback
from chaoskit.checks.slo import Slo, check_slo
from chaoskit.checks.trace import check_trace_continuity

__all__ = [
    "CheckResult",
    "LoadFigures",
    "Offender",
    "Slo",
    "backoff_s",
    "check_consistency",
    "check_convergence",
    "check_delivery",
    "check_dlq",
    "check_load",
    "check_lost_writes",
    "check_ordering",
    "check_recovery",
    "check_retry",
    "check_rollback",
    "check_slo",
    "check_trace_continuity",
    "time_to_rollback",
]
