"""chaoskit: chaos and resilience testing for event-driven microservices.

``from chaoskit import ...`` is the API an experiment uses; the names are listed once, in
``PUBLIC`` below (a test keeps the docs' and the experiments' imports to it). They are
loaded on first use (PEP 562): importing ``chaoskit`` imports nothing else, which matters
because the load process must import Locust (gevent's monkey-patching) before anything
that pulls in ``requests``, and because a unit test of one check should not pay for Kafka's
client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
PUBLIC: dict[str, str] = {
    # the experiment and its fixtures' types
    "Experiment": "chaoskit.experiment",
    "Services": "chaoskit.experiment",
    "KafkaClients": "chaoskit.experiment",
    "Runtime": "chaoskit.runtime.base",
    "Topology": "chaoskit.topology",
    "load_topology": "chaoskit.topology",
    "wait_for": "chaoskit.runtime.health",
    "DeadlineExceeded": "chaoskit.runtime.health",
    # faults and schedules
    "Faults": "chaoskit.faults",
    "Fault": "chaoskit.faults",
    "HealError": "chaoskit.faults.fault",
    "ScheduleError": "chaoskit.faults.schedule",
    "Method": "chaoskit.exploration",
    "explore_schedules": "chaoskit.exploration",
    "fault_schedules": "chaoskit.exploration",
    # what was recorded
    "History": "chaoskit.observe.history",
    "Kind": "chaoskit.observe.history",
    "Observation": "chaoskit.observe.history",
    "Timeline": "chaoskit.observe.timeline",
    # checks and verdicts
    "CheckResult": "chaoskit.checks",
    "Offender": "chaoskit.checks",
    "Slo": "chaoskit.checks",
    "LoadFigures": "chaoskit.checks",
    "RetryPolicy": "chaoskit.checks.retry",
    "backoff_s": "chaoskit.checks",
    "check_consistency": "chaoskit.checks",
    "check_convergence": "chaoskit.checks",
    "check_delivery": "chaoskit.checks",
    "check_dlq": "chaoskit.checks",
    "check_evidence": "chaoskit.checks.vacuity",
    "check_load": "chaoskit.checks",
    "check_lost_writes": "chaoskit.checks",
    "check_ordering": "chaoskit.checks",
    "check_provoked": "chaoskit.checks.provocation",
    "check_recovery": "chaoskit.checks",
    "check_retry": "chaoskit.checks",
    "check_rollback": "chaoskit.checks",
    "check_slo": "chaoskit.checks",
    "check_trace_continuity": "chaoskit.checks",
    "time_to_rollback": "chaoskit.checks",
    # report steps and attachments
    "step": "chaoskit.report",
    "attach_text": "chaoskit.report",
    "attach_json": "chaoskit.report",
    "attach_csv": "chaoskit.report",
    "attach_png": "chaoskit.report",
    "attach_file": "chaoskit.report",
    # the release gate
    "GatePolicy": "chaoskit.report.policy",
    "parse_policy": "chaoskit.report.policy",
    "load_policy": "chaoskit.report.policy",
    "run_gate": "chaoskit.report.gate",
    "categorize": "chaoskit.report.categories",
    # deploys
    "DeployPolicy": "chaoskit.deploy",
    "Version": "chaoskit.deploy",
    "Fleet": "chaoskit.deploy",
    "bad_version": "chaoskit.deploy",
    "canary_deploy": "chaoskit.deploy",
    "rolling_deploy": "chaoskit.deploy",
    "rollback": "chaoskit.deploy",
    "SteadyTraffic": "chaoskit.deploy.traffic",
    "history_from_logs": "chaoskit.deploy.log_history",
    "deployment_alerts": "chaoskit.deploy.log_history",
    # load
    "LoadConfig": "chaoskit.load.config",
    "Target": "chaoskit.load.config",
    "users_at": "chaoskit.load.shapes",
    "split": "chaoskit.load.shapes",
    # errors an experiment may catch or raise
    "ChaoskitError": "chaoskit.errors",
    "ConfigError": "chaoskit.errors",
    "ExperimentInconclusive": "chaoskit.errors",
}

__all__ = sorted(PUBLIC)


def __getattr__(name: str) -> Any:
    module = PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'chaoskit' has no attribute {name!r}; its public names are in chaoskit.PUBLIC")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *PUBLIC])


if TYPE_CHECKING:  # what editors and mypy see: the same names, imported eagerly
    from chaoskit.checks import (
        CheckResult,
        LoadFigures,
        Offender,
        Slo,
        backoff_s,
        check_consistency,
        check_convergence,
        check_delivery,
        check_dlq,
        check_load,
        check_lost_writes,
        check_ordering,
        check_recovery,
        check_retry,
        check_rollback,
        check_slo,
        check_trace_continuity,
        time_to_rollback,
    )
    from chaoskit.checks.provocation import check_provoked
    from chaoskit.checks.retry import RetryPolicy
    from chaoskit.checks.vacuity import check_evidence
    from chaoskit.deploy import DeployPolicy, Fleet, Version, bad_version, canary_deploy, rollback, rolling_deploy
    from chaoskit.deploy.log_history import deployment_alerts, history_from_logs
    from chaoskit.deploy.traffic import SteadyTraffic
    from chaoskit.errors import ChaoskitError, ConfigError, ExperimentInconclusive
    from chaoskit.experiment import Experiment, KafkaClients, Services
    from chaoskit.exploration import Method, explore_schedules, fault_schedules
    from chaoskit.faults import Fault, Faults
    from chaoskit.faults.fault import HealError
    from chaoskit.faults.schedule import ScheduleError
    from chaoskit.load.config import LoadConfig, Target
    from chaoskit.load.shapes import split, users_at
    from chaoskit.observe.history import History, Kind, Observation
    from chaoskit.observe.timeline import Timeline
    from chaoskit.report import attach_csv, attach_file, attach_json, attach_png, attach_text, step
    from chaoskit.report.categories import categorize
    from chaoskit.report.gate import run_gate
    from chaoskit.report.policy import GatePolicy, load_policy, parse_policy
    from chaoskit.runtime.base import Runtime
    from chaoskit.runtime.health import DeadlineExceeded, wait_for
    from chaoskit.topology import Topology, load_topology
