"""A service's log cut to one experiment's window.

The environment lives for the whole session, so a service log holds every experiment's
lines; a reviewer wants only the ones of the experiment in front of them. The services
log JSON lines with a ``time`` field (unix epoch seconds): those outside the window are
dropped. Any other line (a stack trace, a JVM warning) cannot be placed in time, and a
trace is exactly what a reviewer needs, so it is kept.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

# Lines with a timestamp this far before the window still belong to it: the
# experiment's clock and the service's clock read time.time() a few ms apart.
_SLACK_S = 1.0
# chaoskit's services write "time" first (services/log.py): read it without parsing the
# whole line, which keeps cutting a session-long log of a million lines to a second.
_LEADING_TIME = re.compile(r'\{"time":\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)[,}]')


def cut_log(path: Path, start: float, end: float) -> str:
    """The lines of ``path`` that fall in ``[start, end]`` or carry no time."""
    kept: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            at = _time_of(line)
            if at is None or start - _SLACK_S <= at <= end + _SLACK_S:
                kept.append(line)
    return "".join(kept)


def _time_of(line: str) -> float | None:
    stripped = line.strip()
    if not stripped.startswith("{"):
        return None
    leading = _LEADING_TIME.match(stripped)
    if leading:
        return float(leading.group(1))
    try:
        value = json.loads(stripped).get("time")
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
