"""Canary and rolling deployment of a service under test, with automatic rollback.

    from chaoskit.deploy import DeployPolicy, Version, bad_version, canary_deploy, rolling_deploy, rollback

    policy = DeployPolicy(window_s=8)
    outcome = canary_deploy(chaos_env, bad_version("v2-bad", fail_rate=0.5), policy, timeline=timeline)
    assert outcome.rolled_back, outcome.summary()

Modules: ``version`` (what to deploy, including bad versions), ``policy`` and
``decision`` (the pure rule), ``metrics`` and ``watch`` (per-instance figures over a
window), ``fleet``, ``stable`` and ``assignment`` (the processes and the group's
partitions), ``canary``, ``rolling`` and ``rollback`` (the strategies) with ``outcome``,
``journal`` and ``alerts`` (what every decision leaves behind), ``traffic`` and
``evidence`` (steady requests for experiments and what they judge afterwards).
``python -m chaoskit.deploy`` is the command line.
"""

from chaoskit.deploy.canary import canary_deploy
from chaoskit.deploy.decision import Action, Decision, WindowStats, decide
from chaoskit.deploy.fleet import Fleet, Member
from chaoskit.deploy.journal import Journal
from chaoskit.deploy.outcome import DeployOutcome
from chaoskit.deploy.policy import DeployPolicy
from chaoskit.deploy.revert import RollbackOutcome, rollback
from chaoskit.deploy.rolling import rolling_deploy
from chaoskit.deploy.version import Version, bad_version

__all__ = [
    "Action",
    "Decision",
    "DeployOutcome",
    "DeployPolicy",
    "Fleet",
    "Journal",
    "Member",
    "RollbackOutcome",
    "Version",
    "WindowStats",
    "bad_version",
    "canary_deploy",
    "decide",
    "rollback",
    "rolling_deploy",
]
