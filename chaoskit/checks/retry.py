"""Retry: failed events are retried with the configured backoff, and give up loudly.

The policy under test: after attempt ``n`` fails, attempt ``n + 1`` waits at least
``min(cap_s, base_s * factor ** (n - 1))`` ("retry after x seconds"), measured from
that failure (its ``failed_at`` detail, else the time it was observed; or from attempt
``n``'s start when no failure was logged), within ``tolerance_s``; there are never
more than ``max_attempts`` attempts; and when the last allowed attempt fails, exactly
one alert is raised. An alert for an event that was not exhausted (or was applied
after all) is a false alarm and fails the check as well.

Attempts are ``attempted`` observations, numbered by their ``attempt`` detail when
present, else by their order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

from chaoskit.checks.fate import describe, event_window, origin_of, window_label
from chaoskit.checks.result import CheckResult, Offender, name_ids, plural
from chaoskit.errors import ConfigError
from chaoskit.observe.history import Columns, History, Kind
from chaoskit.observe.timeline import Timeline

NAME = "retry"
Breach = tuple[str, str, float | None]  # (expected, observed, when; None: the whole event)


@dataclass(frozen=True)
class RetryPolicy:
    """The retry policy under test, as the system's redriver is configured: the check holds
    every retried event to it."""

    base_s: float
    factor: float
    cap_s: float
    max_attempts: int
    tolerance_s: float = 0.25

    @classmethod
    def from_env(cls, env: Mapping[str, str], tolerance_s: float = 0.25) -> RetryPolicy:
        """From a service's ``BACKOFF_BASE_S``, ``BACKOFF_FACTOR``, ``BACKOFF_CAP_S``, ``MAX_ATTEMPTS``."""
        try:
            return cls(
                base_s=float(env["BACKOFF_BASE_S"]),
                factor=float(env["BACKOFF_FACTOR"]),
                cap_s=float(env["BACKOFF_CAP_S"]),
                max_attempts=int(env["MAX_ATTEMPTS"]),
                tolerance_s=tolerance_s,
            )
        except KeyError as err:
            raise ConfigError(f"retry policy: the service's environment has no {err.args[0]}") from None
        except ValueError as err:
            raise ConfigError(f"retry policy: {err}") from None

    def backoff_s(self, failed_attempt: int) -> float:
        return backoff_s(failed_attempt, self.base_s, self.factor, self.cap_s)

    def __str__(self) -> str:
        return f"base {self.base_s:g}s × {self.factor:g}^(n-1), cap {self.cap_s:g}s, tolerance {self.tolerance_s:g}s"


@dataclass
class _Tries:
    """One suspect event's attempts (time, number), failure times, alerts and last effect."""

    attempts: list[tuple[float, int]] = field(default_factory=list)
    failures: list[float] = field(default_factory=list)
    alerts: int = 0
    last_effect: float | None = None


def backoff_s(failed_attempt: int, base_s: float, factor: float, cap_s: float) -> float:
    """The minimum wait after attempt ``failed_attempt`` (1-based) failed."""
    return min(cap_s, base_s * factor ** (failed_attempt - 1))


def check_retry(
    history: History,
    base_s: float,
    factor: float,
    cap_s: float,
    max_attempts: int,
    tolerance_s: float = 0.05,
    timeline: Timeline | None = None,
) -> CheckResult:
    """Judge every event that was retried, failed or alerted against the policy."""
    policy = RetryPolicy(base_s, factor, cap_s, max_attempts, tolerance_s)
    _validate(policy)
    origin = origin_of(history, timeline)
    breaches: dict[int, list[Breach]] = {}
    retried = exhausted = 0
    for number, event in _suspects(history).items():
        found, gave_up = _judge(event, policy, origin)
        retried += len(event.attempts) > 1
        exhausted += gave_up
        if found:
            breaches[number] = found

    offenders = list(_offenders(history, breaches, timeline, origin))
    if offenders:
        summary = (
            f"retry policy broken by {plural(len(breaches), 'event')} ({name_ids(offenders)}); "
            f"{plural(retried, 'event')} retried, {exhausted} exhausted; {policy}, max {max_attempts} attempts"
        )
    else:
        summary = (
            f"{plural(retried, 'retried event')} respected the backoff ({policy}) and max {max_attempts} attempts; "
            f"{plural(exhausted, 'exhausted event')} raised exactly one alert each"
        )
    return CheckResult(NAME, not offenders, summary, tuple(offenders))


def _judge(event: _Tries, policy: RetryPolicy, origin: float) -> tuple[list[Breach], bool]:
    """One event's breaches of the policy, and whether it gave up (exhausted its attempts)."""
    found = _early(event, policy, origin)
    most = max([len(event.attempts), *(n for _, n in event.attempts)])
    limit = policy.max_attempts
    if most > limit:
        found.append((f"at most {limit} attempts", f"{most} attempts", None))
    gave_up = _gave_up(event, most, limit)
    if gave_up and event.alerts != 1:
        what = "no alert" if not event.alerts else f"{event.alerts} alerts"
        found.append(("exactly one alert once the last attempt failed", f"{what} after attempt {limit} failed", None))
    elif event.alerts and not gave_up:
        why = "it was applied afterwards" if event.last_effect is not None else f"only {most} of {limit} attempts ran"
        observed = f"{event.alerts} alert(s) although {why}"
        found.append(("no alert before the last allowed attempt failed", observed, None))
    return found, gave_up


def _suspects(history: History) -> dict[int, _Tries]:
    """The events worth a look (retried, failed or alerted), gathered column-wise."""
    attempted, failed, alerted = (history.select(k) for k in (Kind.ATTEMPTED, Kind.FAILED, Kind.ALERTED))
    counts = Counter(attempted.event)
    wanted = {n for n, count in counts.items() if count > 1} | set(failed.event) | set(alerted.event)
    tries: dict[int, _Tries] = {}
    for at, event, number in _rows(attempted, wanted, "attempt"):
        attempts = tries.setdefault(event, _Tries()).attempts
        attempts.append((at, number if isinstance(number, int) and not isinstance(number, bool) else len(attempts) + 1))
    for at, event, failed_at in _rows(failed, wanted, "failed_at"):
        # the service's own failure time, which its backoff counts from, when it logged one
        tries.setdefault(event, _Tries()).failures.append(failed_at if isinstance(failed_at, (int, float)) else at)
    for _, event in _rows(alerted, wanted):
        tries.setdefault(event, _Tries()).alerts += 1
    applied = history.select(Kind.APPLIED)
    for at, event, changed in _rows(applied, wanted, "applied"):
        if changed is not False:
            tries[event].last_effect = at
    return tries


def _rows(columns: Columns, wanted: set[int], *fields: str) -> Iterator[tuple[Any, ...]]:
    """(time, event number, *fields) of the rows whose event is wanted."""
    rows = zip(columns.time, columns.event, *(columns.field(f) for f in fields))
    return compress(rows, map(wanted.__contains__, columns.event))


def _early(event: _Tries, policy: RetryPolicy, origin: float) -> list[Breach]:
    """Every attempt that came sooner than its backoff after the previous one."""
    early: list[Breach] = []
    for (started, number), (at, next_number) in zip(event.attempts, event.attempts[1:]):
        failures = [t for t in event.failures if started <= t <= at]
        since, reference = (failures[-1], "failed") if failures else (started, "started")
        wait = policy.backoff_s(number)
        gap = at - since
        if gap < wait - policy.tolerance_s:
            expected = f"attempt {next_number} at least {wait:.2f}s after attempt {number} {reference} ({policy})"
            observed = (
                f"attempt {next_number} at {at - origin:.2f}s came {gap:.2f}s after attempt {number} {reference} "
                f"at {since - origin:.2f}s"
            )
            early.append((expected, observed, at))
    return early


def _gave_up(event: _Tries, most: int, max_attempts: int) -> bool:
    """The last allowed attempt ran and failed, and nothing applied the event afterwards."""
    if not event.attempts or most < max_attempts:
        return False
    last = event.attempts[-1][0]
    failed_last = any(t >= last for t in event.failures)
    applied_after = event.last_effect is not None and event.last_effect >= last
    return failed_last and not applied_after


def _offenders(
    history: History, breaches: dict[int, list[Breach]], timeline: Timeline | None, origin: float
) -> Iterator[Offender]:
    named = {history.event_id(n): found for n, found in breaches.items()}
    paths = history.for_events(named)
    for event_id, found in named.items():
        observations = paths[event_id]
        trace = next((o.trace_id for o in observations if o.trace_id), None)
        path = describe(observations, origin)
        for expected, observed, moment in found:
            if moment is None:
                window = event_window(timeline, observations, origin)
            else:
                window = window_label(timeline, moment, moment, origin)
            yield Offender(event_id, trace, expected, f"{observed}: {path}", window)


def _validate(policy: RetryPolicy) -> None:
    attempts = policy.max_attempts
    rules = [
        ("base_s", policy.base_s, policy.base_s > 0, "a number of seconds > 0"),
        ("factor", policy.factor, policy.factor >= 1, "a number ≥ 1"),
        ("cap_s", policy.cap_s, policy.cap_s >= policy.base_s, f"a number of seconds ≥ base_s ({policy.base_s:g})"),
        ("max_attempts", attempts, isinstance(attempts, int) and attempts > 0, "an integer ≥ 1"),
        ("tolerance_s", policy.tolerance_s, policy.tolerance_s >= 0, "a number of seconds ≥ 0"),
    ]
    for name, value, ok, allowed in rules:
        if not ok:
            raise ConfigError(f"check_retry: {name}={value!r} is not allowed; expected {allowed}")
