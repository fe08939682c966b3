"""The Runtime contract: how the components of an environment are run and controlled.

One implementation per runtime (``process.py`` runs local processes; a Docker one drives
the Docker Engine API). Faults, the pytest plugin and the CLI use only this surface.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from chaoskit.runtime.toxiproxy import ToxiproxyAPI
from chaoskit.topology import Topology

STATES = ("healthy", "starting", "stopped", "failed")


class Runtime(Protocol):
    name: str
    topology: Topology

    @property
    def env_id(self) -> str: ...

    @property
    def toxiproxy(self) -> ToxiproxyAPI: ...

    def up(self) -> None:
        """Start every component, wait until all are healthy; on failure leave nothing behind."""

    def down(self) -> None:
        """Stop everything and remove the environment's temp data."""

    def reset(self) -> None:
        """Between experiments: remove toxics, enable proxies, bring stopped components back."""

    def endpoint(self, component: str, client: str | None = None) -> str:
        """``host:port`` of ``component``: as ``client`` reaches it (its proxy), or direct."""

    def start(self, component: str) -> None:
        """Start a stopped component again and wait until it is healthy."""

    def stop(self, component: str) -> None: ...
    def kill(self, component: str) -> None: ...
    def pause(self, component: str) -> None: ...
    def resume(self, component: str) -> None: ...
    def restart(self, component: str) -> None: ...
    def wipe(self, component: str) -> None:
        """Lose a stateful component's data (Kafka log, Redis dataset) and start it fresh."""

    def logs(self, component: str) -> str: ...
    def service_logs(self) -> list[Path]:
        """Logs of every service under test (and instance of one), for the history recorder."""

    def log_path(self, component: str) -> Path: ...
    def status(self) -> dict[str, Any]: ...

    def add_instance(self, component: str, instance: str, env: dict[str, str] | None = None) -> str:
        """Run one more instance of a service (own port, log and ``SERVICE_NAME``, the
        service's proxied links); returns its endpoint."""

    def remove_instance(self, instance: str, graceful: bool = True) -> None: ...
    def instances(self, component: str | None = None) -> dict[str, str]:
        """Instance name -> endpoint, of one service or of all."""
