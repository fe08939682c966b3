"""The pinned Allure 2 command line, installed from npm into chaoskit's cache.

Why Allure 2 via ``allure-commandline``: its npm tarball bundles the whole Allure
distribution (no download at install time, so it installs from the npm registry alone),
it keeps history and trends between runs, and it can also write a single-file report.
It needs Java 8+ at run time, which chaoskit already needs for Kafka.

Installed like the other components (see ``chaoskit.install``): into
``cache_dir()/allure-<version>``, marked complete by a stamp written last, so an
interrupted install is redone and a cached one costs a file check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from chaoskit.errors import ChaoskitError, MissingToolError
from chaoskit.install import Progress, cache_dir

ALLURE_VERSION = "2.46.1"
ALLURE_PACKAGE = "allure-commandline"

_HOW_TO_GET = {
    "npm": "install Node.js 18+ with npm (Debian: apt-get install nodejs npm)",
    "java": "install a Java 8+ runtime; chaoskit uses Java 17 (Debian: apt-get install openjdk-17-jre-headless)",
}


def print_progress(message: str) -> None:
    print(f"[chaoskit install] {message}", file=sys.stderr, flush=True)


def allure_home() -> Path:
    return cache_dir() / f"allure-{ALLURE_VERSION}"


def _binary(home: Path) -> Path:
    # The distribution's own launcher (a shell script that runs java), not the npm
    # node wrapper around it: one process less, and no node needed at report time.
    return home / "node_modules" / ALLURE_PACKAGE / "dist" / "bin" / "allure"


def require(tool: str) -> Path:
    found = shutil.which(tool)
    if not found:
        raise MissingToolError(f"{tool} is not on PATH; chaoskit needs it for the Allure report: {_HOW_TO_GET[tool]}")
    return Path(found)


def install_allure(say: Progress = print_progress) -> Path:
    """The ``allure`` launcher of the pinned version, installing it first if needed."""
    home = allure_home()
    binary = _binary(home)
    stamp = home / ".complete"
    if stamp.exists() and binary.exists():
        say(f"allure {ALLURE_VERSION}: cached in {home}")
        return binary
    npm = require("npm")
    say(f"allure {ALLURE_VERSION}: installing npm package {ALLURE_PACKAGE}@{ALLURE_VERSION} ...")
    started = time.monotonic()
    if home.exists():
        shutil.rmtree(home)  # a half-finished earlier attempt
    home.mkdir(parents=True)
    cmd = [
        str(npm),
        "install",
        "--prefix",
        str(home),
        "--no-audit",
        "--no-fund",
        "--no-save",
        "--loglevel=error",
        f"{ALLURE_PACKAGE}@{ALLURE_VERSION}",
    ]
    env = {**os.environ, "npm_config_update_notifier": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, check=False)
    if proc.returncode != 0 or not binary.exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise ChaoskitError(
            f"installing {ALLURE_PACKAGE}@{ALLURE_VERSION} with npm failed (exit {proc.returncode}): "
            f"{' '.join(cmd)}\n{tail}"
        )
    binary.chmod(0o755)
    stamp.write_text(ALLURE_VERSION + "\n")
    say(f"allure {ALLURE_VERSION}: {binary} ({time.monotonic() - started:.1f} s)")
    return binary


def run_allure(binary: Path, args: list[str], what: str, timeout_s: float = 600) -> str:
    """Run ``binary`` (from ``install_allure``) with ``args``; its output, or an error with its tail."""
    require("java")
    proc = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=timeout_s, check=False)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-25:])
        raise ChaoskitError(f"{what} failed (exit {proc.returncode}): allure {' '.join(args)}\n{tail}")
    return output
