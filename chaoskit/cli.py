"""``chaoskit install | check | up | down | status``: the environment from a terminal.

Errors chaoskit raises on purpose (bad input, a missing tool, a component that would not
start) are printed as one paragraph with exit code 2; they are never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chaoskit import install
from chaoskit.errors import ChaoskitError, ConfigError, exit_from
from chaoskit.report import commands as report_cli
from chaoskit.report.allure_cli import install_allure
from chaoskit.runtime.base import Runtime
from chaoskit.runtime.factory import attach_runtime, make_runtime
from chaoskit.runtime.process import down_all, sweep_orphans
from chaoskit.runtime.state import EnvRecord, all_records
from chaoskit.topology import load_topology

DEFAULT_TOPOLOGY = "docker-compose.chaos.yml"


class _Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chaoskit", description="chaos and resilience testing for event-driven microservices")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("install", help="fetch and cache the pinned Kafka, Toxiproxy and Redis")
    up = sub.add_parser("up", help="start an environment and print where everything is")
    up.add_argument("--topology", default=os.environ.get("CHAOSKIT_TOPOLOGY", DEFAULT_TOPOLOGY))
    up.add_argument("--runtime", choices=["process", "docker"], default="process")
    check = sub.add_parser("check", help="validate a topology file and summarise it, without starting anything")
    check.add_argument("--topology", default=os.environ.get("CHAOSKIT_TOPOLOGY", DEFAULT_TOPOLOGY))
    down = sub.add_parser("down", help="stop an environment and remove its temp data")
    down.add_argument("env", nargs="?", help="environment id (default: the only one no live run owns)")
    down.add_argument("--all", action="store_true", help="remove every environment chaoskit left on this machine")
    status = sub.add_parser("status", help="show an environment's components")
    status.add_argument("env", nargs="?", help="environment id (default: the only one no live run owns)")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    run = sub.add_parser("run", help="run the experiment suite, generate the report, and apply the release gate")
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments (e.g. -k latency)")
    deploy = sub.add_parser(
        "deploy",
        help="canary, rolling, rollback or status of a service's versions (see `chaoskit deploy --help`)",
        add_help=False,
    )
    deploy.add_argument("deploy_args", nargs=argparse.REMAINDER)
    report_cli.add_cli(sub)
    return parser


def _find(env_id: str | None, command: str) -> EnvRecord:
    """The environment ``env_id`` names; without one, the only environment no live run owns.

    An environment a live pytest run owns is never picked implicitly (a second terminal's
    ``chaoskit down`` would pull it from under a running experiment). With no or several
    candidates the error lists every environment and asks for an id.
    """
    records = all_records()
    if env_id:
        for record in records:
            if record.id == env_id:
                return record
        known = ", ".join(r.id for r in records) or "none"
        raise ConfigError(f"no environment {env_id!r}; running environments: {known}")
    if not records:
        raise ChaoskitError("no chaoskit environment is running (start one with `chaoskit up`)")
    free = [r for r in records if not r.owner_alive()]
    if len(free) == 1:
        return free[0]
    listing = "\n".join(
        f"  {r.id}  {r.runtime:<7} {r.ownership()}  topology={r.topology}  age={r.age()}" for r in records
    )
    why = (
        "every environment belongs to a live run, which only an explicit id may touch"
        if not free
        else f"{len(free)} environments have no live owner"
    )
    raise ConfigError(f"`chaoskit {command}` needs an environment id: {why}:\n{listing}\nuse `chaoskit {command} <id>`")


def _attach(record: EnvRecord) -> Runtime:
    return attach_runtime(record)


def _docker(action: str) -> list[str]:
    """Run the docker runtime's sweep (``down_all`` or ``sweep_orphans``); no engine, no containers."""
    from chaoskit.runtime import docker
    from chaoskit.runtime.docker_api import DockerUnavailable

    try:
        return list(getattr(docker, action)() or [])
    except DockerUnavailable:
        return []


def _print_status(status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(status))
        return
    ownership = f": {status['ownership']}" if "ownership" in status else ""
    print(f"environment {status['environment']} ({status['runtime']} runtime){ownership}")
    for name, comp in status["components"].items():
        endpoints = "  ".join(f"{k}={v}" for k, v in comp["endpoints"].items())
        print(f"  {name:<18} {comp['state']:<9} pid={comp['pid']}  {endpoints}")


def _run_suite(pytest_args: list[str]) -> int:
    """The main job: experiments (results in reports/allure-results), then the HTML report,
    then the gate; the exit code is the gate's (0 pass, 1 hold, 3 environment failure,
    4 experiment error, 5 interrupted)."""
    import subprocess

    results = Path(report_cli.RESULTS)
    shutil.rmtree(results, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "pytest", "experiments", "--alluredir", str(results), *pytest_args], check=False
    )
    report_cli.report(results, Path("reports/allure-report"))
    return report_cli.gate(results, None, Path("reports"))


def run(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "run":
        args.pytest_args = [*extra, *args.pytest_args]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command in report_cli.COMMANDS:
        return report_cli.handle(args)
    if args.command == "install":
        install.install_all()
        install_allure()
        return 0
    if args.command == "run":
        return _run_suite(args.pytest_args)
    if args.command == "deploy":
        from chaoskit.deploy.__main__ import run as deploy

        return deploy(args.deploy_args)
    if args.command == "check":
        # the validation `up` and the pytest plugin run before they start anything, and nothing more
        print("\n".join(load_topology(args.topology).summary()))
        print("valid; nothing was started")
        return 0
    if args.command == "up":
        if args.runtime == "process":
            install.install_all(say=lambda m: None)
        runtime = make_runtime(args.runtime, load_topology(args.topology), keep=True)
        runtime.up()
        _print_status(runtime.status(), as_json=False)
        print(f"stop it with: chaoskit down {runtime.env_id}")
        return 0
    if args.command == "down":
        if args.all:
            ids = down_all() + _docker("down_all")
            print(f"removed {len(ids)} environment(s): {' '.join(ids) or '-'}")
            return 0
        swept = sweep_orphans() + _docker("sweep_orphans")
        if swept and not args.env and not all_records():
            print(f"swept orphaned environment(s): {' '.join(swept)}")
            return 0
        record = _find(args.env, "down")
        if record.owner_alive():
            print(f"environment {record.id} is {record.ownership()}; removing it as asked", file=sys.stderr)
        _attach(record).down()
        print(f"removed environment {record.id}")
        return 0
    if args.command == "status":
        record = _find(args.env, "status")
        status = _attach(record).status()
        status["ownership"] = record.ownership()
        status["orphaned"] = record.orphaned()
        _print_status(status, as_json=args.json)
        return 0
    raise AssertionError(args.command)


def main(argv: Sequence[str] | None = None) -> None:
    exit_from(run, argv, "chaoskit")


if __name__ == "__main__":
    main()
