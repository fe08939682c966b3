"""The run-level files Allure shows beside the results: Environment and Executor.

``environment.properties`` answers "what exactly was this run against?" (the pinned
component versions, the runtime, the seed that replays it, the topology and its hash),
so a reviewer comparing two nightly runs can rule out a changed environment.
``executor.json`` links the report back to the CI build that produced it and gives
Allure's trend charts their build order.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import chaoskit
from chaoskit import install
from chaoskit.options import ChaosOptions


def environment(options: ChaosOptions | None) -> dict[str, str]:
    """The Environment widget's rows, in display order."""
    rows = {
        "chaoskit": chaoskit.__version__,
        "Kafka": install.KAFKA_VERSION,
        "Toxiproxy": install.TOXIPROXY_VERSION,
        "Redis": redis_version(),
        "Python": platform.python_version(),
        "pytest": _dist_version("pytest"),
        "allure-pytest": _dist_version("allure-pytest"),
        "Hypothesis": _dist_version("hypothesis"),
        "Locust": _dist_version("locust"),
    }
    if options is not None:
        rows["runtime"] = options.runtime
        rows["seed"] = str(options.seed)
        rows["topology"] = str(options.topology)
        rows["topology.sha256"] = _sha256(options.topology)
    return rows


def redis_version() -> str:
    """From ``redis-server --version`` ("Redis server v=7.0.15 sha=..."): the server
    the process runtime really starts, not the version Debian's index claims."""
    found = shutil.which("redis-server")
    if not found:
        return "redis-server not on PATH"
    try:
        out = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"unknown ({err})"
    match = re.search(r"\bv=(\S+)", out)
    return match.group(1) if match else out.strip() or "unknown"


def properties_text(rows: Mapping[str, str]) -> str:
    """Java properties format: keys and values escaped so '=' ':' '\\' and newlines survive."""
    return "".join(f"{_escape(k, key=True)}={_escape(v, key=False)}\n" for k, v in rows.items())


def write_environment(results_dir: Path, options: ChaosOptions | None) -> Path:
    path = results_dir / "environment.properties"
    path.write_text(properties_text(environment(options)), encoding="utf-8")
    return path


def executor(env: Mapping[str, str]) -> dict[str, object] | None:
    """executor.json for GitHub Actions, a generic one under ``CI=true``, else None.

    ``CHAOSKIT_REPORT_URL`` (where the published report will live) fills ``reportUrl``
    so the history's trend entries link back to each run's report.
    """
    report_url = env.get("CHAOSKIT_REPORT_URL")
    if env.get("GITHUB_ACTIONS") == "true" or env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        repo = env.get("GITHUB_REPOSITORY", "")
        run_id = env.get("GITHUB_RUN_ID", "")
        attempt = env.get("GITHUB_RUN_ATTEMPT")
        info: dict[str, object] = {
            "name": "GitHub Actions",
            "type": "github",
            "buildName": f"{env.get('GITHUB_WORKFLOW', repo)} #{env.get('GITHUB_RUN_NUMBER', run_id)}"
            + (f" (attempt {attempt})" if attempt and attempt != "1" else ""),
            "buildUrl": f"{server}/{repo}/actions/runs/{run_id}",
            "reportName": "chaoskit",
        }
        if env.get("GITHUB_RUN_NUMBER", "").isdigit():
            info["buildOrder"] = int(env["GITHUB_RUN_NUMBER"])
    elif env.get("CI", "").lower() in ("true", "1"):
        info = {"name": "CI", "type": "ci", "buildName": env.get("CI_JOB_NAME") or "CI run", "reportName": "chaoskit"}
    else:
        return None
    if report_url:
        info["reportUrl"] = report_url
    return info


def write_executor(results_dir: Path, env: Mapping[str, str] = os.environ) -> Path | None:
    info = executor(env)
    if info is None:
        return None
    path = results_dir / "executor.json"
    path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return path


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError as err:
        return f"unreadable ({err.strerror})"


def _escape(text: str, *, key: bool) -> str:
    out = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    if key:
        out = out.replace("=", "\\=").replace(":", "\\:").replace(" ", "\\ ")
    return out
