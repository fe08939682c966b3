"""The blast-radius guard: chaoskit only ever aims at its own environment.

Faults, load and health probes target the topology's own endpoints on loopback. A typo in
an experiment (a production host name, a port from another environment) must be refused
with an explanation before any traffic or fault goes out, not discovered afterwards.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from chaoskit.errors import BlastRadiusError

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def split_address(address: str) -> tuple[str, int | None]:
    """``host:port``, ``[v6]:port`` or a URL -> (host, port)."""
    if "://" in address:
        parts = urlsplit(address)
        return parts.hostname or "", parts.port
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    host, sep, port = address.rpartition(":")
    if not sep:
        return address, None
    if not port.isdigit():
        raise BlastRadiusError(f"{address!r} is not host:port (the port {port!r} is not a number)")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and names that only resolve to them. No DNS lookup is
    made for other names: a name that needs the network is, by definition, not ours."""
    host = host.strip("[]")
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ensure_loopback(address: str, what: str) -> None:
    host, _ = split_address(address)
    if not is_loopback(host):
        raise BlastRadiusError(
            f"{what} targets {address!r}, which is not on loopback. chaoskit only sends faults, load "
            f"and probes to the environment it started on 127.0.0.1; point {what} at an endpoint "
            f"from `chaoskit status` (or services[...].endpoint() in an experiment)."
        )


def ensure_own_endpoint(address: str, own: set[str], what: str) -> None:
    """Refuse ``address`` unless it is loopback AND one of the environment's endpoints."""
    ensure_loopback(address, what)
    host, port = split_address(address)
    normalized = f"{socket.gethostbyname(host) if host in _LOOPBACK_NAMES else host}:{port}"
    if normalized not in own and address not in own:
        raise BlastRadiusError(
            f"{what} targets {address!r}, which is not an endpoint of this environment; its endpoints "
            f"are {', '.join(sorted(own))}. A port outside the topology may belong to another run "
            f"or another program."
        )
