"""Podman's Docker-compatible API service, for machines with no Docker engine.

``podman system service --time=0 unix://<socket>`` serves the Docker Engine API the
``docker`` SDK speaks. There is no systemd on CI's machines to socket-activate it, so
chaoskit starts it itself: ``images/build.sh`` leaves one running as a machine service
(like dockerd), and the docker tests start one only when none answers and stop that one
again. The pid and log of a service started here sit next to its socket
(``<socket>.pid``, ``<socket>.log``).

    python -m chaoskit.runtime.podman start|stop|status [--socket PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil

from chaoskit.errors import MissingToolError
from chaoskit.runtime.health import DeadlineExceeded, wait_for

DEFAULT_SOCKET = "/run/chaoskit-podman.sock"
START_TIMEOUT_S = 60.0


def socket_path() -> Path:
    """``$CHAOSKIT_PODMAN_SOCKET``, else ``/run/chaoskit-podman.sock``."""
    return Path(os.environ.get("CHAOSKIT_PODMAN_SOCKET") or DEFAULT_SOCKET)


def answers(path: Path, timeout_s: float = 2.0) -> bool:
    """True when an API server answers ``GET /_ping`` on the unix socket ``path``.

    A raw request, not the SDK: the SDK's client negotiates the API version first, which
    is a second round trip and hides "no server" behind a generic DockerException.
    """
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(str(path))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: localhost\r\n\r\n")
            reply = sock.recv(4096)
    except OSError:
        return False
    status_line = reply.split(b"\r\n", 1)[0].split()
    return len(status_line) >= 2 and status_line[0].startswith(b"HTTP/") and status_line[1] == b"200"


def _pid_file(path: Path) -> Path:
    return Path(f"{path}.pid")


def start(path: Path | None = None, timeout_s: float = START_TIMEOUT_S) -> int | None:
    """Start the API service on ``path`` unless one answers there already.

    Returns the pid of the service started here, or None if one was already running
    (so a caller stops only what it started).
    """
    path = path or socket_path()
    if answers(path):
        return None
    podman = shutil.which("podman")
    if podman is None:
        raise MissingToolError("podman is not on PATH: run images/build.sh (it installs podman with apt-get)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # a stale socket of a dead service would refuse connections
    with Path(f"{path}.log").open("ab") as log:
        proc = subprocess.Popen(
            [podman, "system", "service", "--time=0", f"unix://{path}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _pid_file(path).write_text(f"{proc.pid}\n")

    def exited() -> str | None:
        code = proc.poll()
        return f"podman system service exited with code {code} (log: {path}.log)" if code is not None else None

    try:
        wait_for(lambda: answers(path), timeout_s, f"the podman API on {path}", interval_s=0.1, abort=exited)
    except DeadlineExceeded:
        stop(path)
        raise
    return proc.pid


def stop(path: Path | None = None) -> bool:
    """Stop the service whose pid file sits next to ``path``; True if one was stopped."""
    path = path or socket_path()
    pid_file = _pid_file(path)
    try:
        proc = psutil.Process(int(pid_file.read_text().strip()))
        if "podman" not in proc.name():
            raise psutil.NoSuchProcess(proc.pid)
    except (OSError, ValueError, psutil.Error):
        pid_file.unlink(missing_ok=True)
        return False
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except psutil.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)
    pid_file.unlink(missing_ok=True)
    path.unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaoskit.runtime.podman", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument(
        "--socket", type=Path, default=None, help=f"default $CHAOSKIT_PODMAN_SOCKET or {DEFAULT_SOCKET}"
    )
    args = parser.parse_args(argv)
    path = args.socket or socket_path()
    if args.action == "status":
        up = answers(path)
        print(f"podman API on {path}: {'up' if up else 'down'}")
        return 0 if up else 1
    if args.action == "stop":
        print(f"podman API on {path}: {'stopped' if stop(path) else 'not started by chaoskit'}")
        return 0
    try:
        pid = start(path)
    except (MissingToolError, DeadlineExceeded) as err:
        print(f"chaoskit: error: {err}", file=sys.stderr)
        return 1
    print(f"podman API on {path}: {'started, pid ' + str(pid) if pid else 'already up'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
