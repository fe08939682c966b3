"""``python -m chaoskit.deploy status | canary | rolling | rollback``: deploys from a terminal.

Works on a running environment (``chaoskit up``, or a pytest run with ``--chaos-keep``),
the newest one unless ``--env`` names another. Exit codes: 0 done (promoted, rolled back
on request, nothing to do), 1 a deploy was rolled back automatically, 2 bad input or an
error chaoskit explains (one paragraph, no traceback).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from chaoskit.deploy.canary import canary_deploy
from chaoskit.deploy.fleet import DEFAULT_COMPONENT, Fleet
from chaoskit.deploy.outcome import DeployOutcome
from chaoskit.deploy.policy import DeployPolicy
from chaoskit.deploy.revert import DEFAULT_ALERTS_TOPIC, rollback
from chaoskit.deploy.rolling import rolling_deploy
from chaoskit.deploy.version import Version
from chaoskit.errors import ChaoskitError, ConfigError, exit_from
from chaoskit.runtime.process import ProcessRuntime
from chaoskit.runtime.state import all_records
from chaoskit.topology import load_topology

PROG = "python -m chaoskit.deploy"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{message} (see `{PROG} --help`)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="canary and rolling deploys with automatic rollback")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _Parser(add_help=False)
    common.add_argument("--env", help="environment id (default: the newest running one)")
    common.add_argument(
        "--component", default=DEFAULT_COMPONENT, help=f"service to deploy (default {DEFAULT_COMPONENT})"
    )
    status = sub.add_parser("status", parents=[common], help="members, their versions and the partitions they serve")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    for name, text in (("canary", "deploy a version as a canary"), ("rolling", "replace members one by one")):
        deploy = sub.add_parser(name, parents=[common], help=text)
        deploy.add_argument("--version", required=True, dest="version_name", help="the new version's name")
        deploy.add_argument("--fail-rate", type=float, default=0.0, help="stage a bad version: share of events failing")
        deploy.add_argument("--extra-latency-ms", type=float, default=0.0, help="stage a slow version")
        deploy.add_argument(
            "--policy",
            action="append",
            default=[],
            metavar="FIELD=VALUE",
            help="policy field, repeatable (window_s, min_events, max_error_rate_delta, "
            "max_dlq_rate, max_health_failures, max_wait_s)",
        )
        deploy.add_argument("--alerts-topic", default=DEFAULT_ALERTS_TOPIC)
    back = sub.add_parser("rollback", parents=[common], help="roll back to the stable version now")
    back.add_argument("--reason", default="manual rollback", help="why (goes into the log line and the alert)")
    back.add_argument("--no-alert", action="store_true", help="do not publish the ops alert")
    back.add_argument("--alerts-topic", default=DEFAULT_ALERTS_TOPIC)
    return parser


def _runtime(env_id: str | None) -> ProcessRuntime:
    records = all_records()
    if env_id:
        record = next((r for r in records if r.id == env_id), None)
        if record is None:
            known = ", ".join(r.id for r in records) or "none"
            raise ConfigError(f"no environment {env_id!r}; running environments: {known}")
    elif records:
        record = records[-1]
    else:
        raise ChaoskitError("no chaoskit environment is running (start one with `chaoskit up`)")
    return ProcessRuntime.attach(record, load_topology(Path(record.topology)))


def _policy(pairs: list[str]) -> DeployPolicy:
    values: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"--policy {pair!r} is not FIELD=VALUE")
        values[name.strip()] = value.strip()
    return DeployPolicy.from_mapping(values)


def _status(fleet: Fleet) -> dict[str, object]:
    return {
        "component": fleet.component,
        "members": [{"name": m.name, "version": m.version, "endpoint": m.endpoint} for m in fleet.members()],
        "assignment": fleet.assignment().to_dict(),
    }


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("canary", "rolling"):  # bad input fails before anything is touched
        version = Version(args.version_name, args.fail_rate, args.extra_latency_ms)
        policy = _policy(args.policy)
    runtime = _runtime(args.env)
    if args.command == "status":
        status = _status(Fleet(runtime, args.component))
        if args.json:
            print(json.dumps(status))
        else:
            for member in status["members"]:  # type: ignore[attr-defined]
                print(f"{member['name']:<36} {member['version']:<12} {member['endpoint']}")
            print(f"assignment: {json.dumps(status['assignment'])}")
        return 0
    if args.command == "rollback":
        outcome = rollback(
            runtime,
            component=args.component,
            reason=args.reason,
            alert=not args.no_alert,
            alerts_topic=args.alerts_topic,
        )
        print(
            f"{outcome.reason}: removed {list(outcome.removed)}, restored {list(outcome.restored)}, "
            f"took {outcome.took_s:.1f} s, alert {'sent' if outcome.alert_sent else 'not sent'}"
            if outcome.did_anything
            else f"nothing to roll back: every member runs {outcome.to_version}"
        )
        return 0
    deploy = canary_deploy if args.command == "canary" else rolling_deploy
    result: DeployOutcome = deploy(runtime, version, policy, component=args.component, alerts_topic=args.alerts_topic)
    print(result.summary())
    return 1 if result.rolled_back else 0


def main(argv: Sequence[str] | None = None) -> None:
    exit_from(run, argv, PROG)


if __name__ == "__main__":
    main()
