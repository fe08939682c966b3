"""Before a deploy: who the stable members are, and starting a new instance safely.

A deploy starts from a settled fleet, one version everywhere. Two versions already
running means another deploy is under way (or was left half done), and judging a third
against that mix would compare against the wrong baseline, so it is refused with what
to do instead.
"""

from __future__ import annotations

from chaoskit.deploy.decision import Action, Decision
from chaoskit.deploy.fleet import Fleet, Member
from chaoskit.deploy.version import Version
from chaoskit.errors import ChaoskitError, ComponentStartError, ConfigError


def stable_members(fleet: Fleet, version: Version) -> tuple[list[Member], str]:
    """The live members and their one version; refuses a fleet that cannot be deployed to."""
    members = fleet.members()
    if not members:
        raise ChaoskitError(
            f"no process of {fleet.component} answers /metrics; start the environment (or `chaoskit up`) first"
        )
    versions = sorted({m.version for m in members})
    if len(versions) > 1:
        raise ChaoskitError(
            f"{fleet.component} runs several versions ({', '.join(f'{m.name}={m.version}' for m in members)}): "
            "another deploy is under way or was left half done; finish it or run "
            "`python -m chaoskit.deploy rollback` first"
        )
    if versions[0] == version.name:
        raise ConfigError(f"version {version.name!r} is already what {fleet.component} runs; nothing to deploy")
    return members, versions[0]


def start_instance(fleet: Fleet, name: str, version: Version) -> Member | Decision:
    """Start a new-version instance, or the rollback decision if it would not even start."""
    try:
        return fleet.start(name, version)
    except ComponentStartError as err:
        return Decision(Action.ROLLBACK, f"rollback: {name} did not start: {err.reason}", {})
