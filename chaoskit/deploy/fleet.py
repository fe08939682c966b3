"""The running processes of one service, as the deployer sees and changes them.

A service's *fleet* is its own process (the topology's component, the "base") plus any
extra instances the runtime runs next to it in the same consumer group, sharing its
proxied links. The deployer adds instances of a new version, retires old ones and
restores them on rollback; everything goes through the runtime's instance API, so the
runtime's reset and down still sweep whatever a deploy left behind.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chaoskit.deploy.assignment import Assignment, read_assignment, wait_for_assignment
from chaoskit.deploy.metrics import MetricsUnavailable, read_metrics
from chaoskit.deploy.version import Version
from chaoskit.errors import ConfigError
from chaoskit.runtime.base import Runtime
from chaoskit.runtime.health import http_ok

DEFAULT_COMPONENT = "workflow-service"
REBALANCE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Member:
    """One process of the fleet.

    ``name`` is its instance name (or the component's name for the base process), which
    is also its Kafka client id and the ``service`` of its log lines; ``env`` holds the
    overrides it was started with, so a retired member can be brought back as it was.
    """

    name: str
    version: str
    endpoint: str
    log_path: Path
    base: bool = False
    env: Mapping[str, str] = field(default_factory=dict)


class Fleet:
    """The members of ``component`` and the group they share."""

    def __init__(self, runtime: Runtime, component: str = DEFAULT_COMPONENT) -> None:
        comp = runtime.topology.component(component)
        if comp.kind != "service":
            raise ConfigError(f"only services under test can be deployed; {component!r} is kind {comp.kind}")
        env = dict(comp.env)
        missing = [name for name in ("CONSUMER_GROUP", "REQUESTS_TOPIC") if not env.get(name)]
        if missing:
            raise ConfigError(
                f"{component!r} has no {' or '.join(missing)} in its x-chaoskit env in {runtime.topology.path.name}; "
                "the deployer needs the consumer group and its topic to watch the partitions move"
            )
        kafka = runtime.topology.of_kind("kafka")
        if kafka is None:
            raise ConfigError(f"the topology {runtime.topology.path.name} has no kafka component to deploy against")
        self.runtime = runtime
        self.component = component
        self.group = env["CONSUMER_GROUP"]
        self.topic = env["REQUESTS_TOPIC"]
        self.bootstrap = runtime.endpoint(kafka.name)

    # -- reading ------------------------------------------------------------------------
    def members(self) -> list[Member]:
        """The live members (answering /metrics), base first; their version as they report it."""
        found: list[Member] = []
        base_endpoint = self.runtime.endpoint(self.component)
        version = self.version_of(base_endpoint)
        if version is not None:
            log = self.runtime.log_path(self.component)
            found.append(Member(self.component, version, base_endpoint, log, base=True))
        for name, endpoint in sorted(self.runtime.instances(self.component).items()):
            version = self.version_of(endpoint)
            if version is not None:
                # Its other overrides are the runtime's to know; restoring it keeps its version.
                env = {"SERVICE_VERSION": version}
                found.append(Member(name, version, endpoint, self.runtime.log_path(name), env=env))
        return found

    @staticmethod
    def version_of(endpoint: str) -> str | None:
        """The version a process reports on /metrics, or None if it does not answer."""
        try:
            return read_metrics(endpoint).version
        except MetricsUnavailable:
            return None

    def assignment(self) -> Assignment:
        return read_assignment(self.bootstrap, self.group, self.topic)

    def wait_served_by(self, names: Collection[str], what: str, timeout_s: float = REBALANCE_TIMEOUT_S) -> Assignment:
        """Wait until every partition is owned by one of ``names`` (and only by them)."""
        wanted = set(names)
        return wait_for_assignment(
            self.bootstrap, self.group, self.topic, lambda a: a.served_only_by(wanted), timeout_s, what
        )

    def wait_serving(self, name: str, what: str, timeout_s: float = REBALANCE_TIMEOUT_S) -> Assignment:
        """Wait until ``name`` owns a share of the partitions in a settled group."""
        return wait_for_assignment(self.bootstrap, self.group, self.topic, lambda a: a.serves(name), timeout_s, what)

    # -- changing -----------------------------------------------------------------------
    def start(self, name: str, version: Version) -> Member:
        """Run one more instance of ``version``; returns once it answers its health check."""
        env = version.env()
        endpoint = self.runtime.add_instance(self.component, name, env)
        return Member(name, version.name, endpoint, self.runtime.log_path(name), env=env)

    def retire(self, member: Member) -> None:
        """Stop a member gracefully: it commits what it finished and leaves the group at once."""
        if member.base:
            self.runtime.stop(self.component)
        else:
            self.runtime.remove_instance(member.name, graceful=True)

    def restore(self, member: Member) -> Member:
        """Bring a retired member back as it was (same name, same overrides)."""
        if member.base:
            self.runtime.start(self.component)
            return member
        endpoint = self.runtime.add_instance(self.component, member.name, dict(member.env))
        return Member(member.name, member.version, endpoint, member.log_path, env=member.env)

    def ensure_base(self) -> bool:
        """Start the base process if it is not serving; True if it had to be started."""
        if http_ok(f"http://{self.runtime.endpoint(self.component)}/health"):
            return False
        self.runtime.start(self.component)
        return True
