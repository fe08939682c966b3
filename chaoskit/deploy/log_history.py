"""What a deploy experiment judges afterwards: the events' history and the alerts raised.

The history is read from the services' JSON logs, including the logs of instances a
deploy started and already removed (their paths are in the DeployOutcome), limited to
the experiment's own events so other experiments in the same session never count.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from chaoskit.deploy.alerts import ALERT_TYPE
from chaoskit.observe.history import History
from chaoskit.observe.logs import read_logs


def history_from_logs(paths: Iterable[str | Path], events: Collection[str] | None = None) -> History:
    """Every observation the logs at ``paths`` record (only of ``events``, if given)."""
    observations = read_logs(paths).observations
    if events is not None:
        wanted = set(events)
        observations = [o for o in observations if o.event_id in wanted]
    return History(observations)


def deployment_alerts(records: Iterable[Any], since: float = 0.0) -> list[dict[str, Any]]:
    """The deployment alerts among alerts-topic records (``KafkaClients.read_all``), sent at or after ``since``."""
    alerts = []
    for record in records:
        try:
            body = json.loads(record.value())
        except (TypeError, ValueError):
            continue
        if isinstance(body, dict) and body.get("type") == ALERT_TYPE and float(body.get("time", 0)) >= since:
            alerts.append(body)
    return alerts
