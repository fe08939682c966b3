"""Free loopback ports for an environment.

Ports come from 20000-32000, below Linux's ephemeral range (32768-60999), so a port
chaoskit hands out is not taken a moment later by some client's outgoing connection
(Toxiproxy's README gives the same advice). A port is "free" when we can bind it on
127.0.0.1 right now; ports handed out in this process are remembered so two
environments started by one process never get the same port.
"""

from __future__ import annotations

import errno
import random
import socket
import threading

import psutil

PORT_RANGE = (20000, 32000)
_handed_out: set[int] = set()
_lock = threading.Lock()


def _bind_errno(port: int, host: str) -> int | None:
    """The errno of binding ``port`` on ``host`` now, or None when the bind succeeds."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            return err.errno
    return None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    return _bind_errno(port, host) is None


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether binding ``port`` fails with EADDRINUSE: another socket listens there. Read
    from the bind's errno, never from a message, so it means the same whatever language
    (or locale) a component reports its own bind failure in."""
    return _bind_errno(port, host) == errno.EADDRINUSE


def holder(port: int) -> str:
    """`` (by pid N: name)`` for the process listening on ``port``, when it can be seen."""
    try:
        for conn in psutil.net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return f" (by pid {conn.pid}: {psutil.Process(conn.pid).name()})"
    except psutil.Error:
        pass
    return ""


def allocate_ports(count: int, rng: random.Random | None = None) -> list[int]:
    """``count`` distinct ports that are free on 127.0.0.1 now."""
    rng = rng or random.Random()
    low, high = PORT_RANGE
    ports: list[int] = []
    with _lock:
        for _ in range(count * 50):
            if len(ports) == count:
                break
            port = rng.randint(low, high)
            if port in _handed_out or port in ports or not port_is_free(port):
                continue
            ports.append(port)
        if len(ports) < count:
            raise RuntimeError(f"could not find {count} free ports in {low}-{high} on 127.0.0.1")
        _handed_out.update(ports)
    return ports


def release_ports(ports: list[int]) -> None:
    with _lock:
        _handed_out.difference_update(ports)
