"""How fast a recorded history loads and is judged.

Builds a synthetic history of N events (default 1,000,000) from a model of the
reference system: every event is produced by the load, acked by the broker, consumed
and attempted by the workflow service, then applied (or a no-op when a newer version of
its key won) and committed; some fail, are dead-lettered and redriven with exponential
backoff, and a few exhaust their attempts and raise an alert. Failures cluster in one
fault window. The history is written to a temporary JSON-lines file; the timed part is
loading that file and running every check (delivery with the final state, DLQ, retry,
ordering, consistency over a final snapshot, SLO over one sample per request), in a
fresh process.

Prints one JSON line: {"events": N, "seconds": S, "events_per_s": R, ...} where
seconds = load + all checks. Target on a 2-core machine: <= 5 s for 1,000,000 events.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from chaoskit.checks import Slo, check_convergence, check_delivery, check_dlq, check_ordering, check_retry, check_slo
from chaoskit.observe.history import History, Kind
from chaoskit.observe.timeline import Timeline

START = 1_800_000_000.0
RATE = 1000.0  # events per second
KEYS = 10_000
BASE_S, FACTOR, CAP_S, MAX_ATTEMPTS = 0.5, 2.0, 4.0, 3
FAULT = (400.0, 450.0)
CALM = Slo(0.02, {50: 50, 99: 1000})


Samples = list[tuple[float, float, bool]]
LINK = "workflow-service->document-service"
ERROR = "document-service unavailable"


def build(events: int, seed: int) -> tuple[History, Timeline, dict[str, dict[str, Any]], Samples]:
    """The model's history, fault timeline, final state and per-request samples."""
    rng = random.Random(seed)
    history = History()
    timeline = Timeline(origin=START)
    window = timeline.record_inject(f"down {LINK}", LINK, {}, START + FAULT[0])
    timeline.record_heal(window, START + FAULT[1])
    versions: dict[str, int] = {}
    to_apply: list[tuple[float, str, int, str, str, str]] = []  # (time, key, version, event, trace, where)
    samples: Samples = []
    for n in range(events):
        event, trace = uuid.UUID(int=rng.getrandbits(128)).hex, uuid.UUID(int=rng.getrandbits(128)).hex
        key = f"doc-{rng.randrange(KEYS)}"
        version = versions[key] = versions.get(key, 0) + 1
        t = START + n / RATE

        def see(at: float, kind: Kind, where: str, **detail: Any) -> None:
            history.append(at, event, trace, kind, where, detail)

        see(t, Kind.PRODUCED, "load")
        see(t + 0.002, Kind.ACKED, "documents.requested", key=key, partition=n % 6, offset=n // 6, version=version)
        see(t + 0.010, Kind.CONSUMED, "workflow-service")
        failures = _failures(rng, FAULT[0] <= t - START < FAULT[1])
        attempt_at, where = t + 0.011, "workflow-service"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            see(attempt_at, Kind.ATTEMPTED, where, attempt=attempt)
            if attempt > failures:
                to_apply.append((attempt_at + 0.005, key, version, event, trace, where))
                samples.append((t, (attempt_at + 0.005 - t) * 1000.0, True))
                break
            failed_at = attempt_at + 0.020
            see(failed_at, Kind.FAILED, where, attempt=attempt, error=ERROR)
            see(failed_at + 0.003, Kind.DEAD_LETTERED, "documents.dlq", key=key, error=ERROR, attempts=attempt)
            if attempt == MAX_ATTEMPTS:
                see(failed_at + 0.005, Kind.ALERTED, "ops.alerts", key=key, reason="exhausted", attempts=attempt)
                samples.append((t, (failed_at - t) * 1000.0, False))
                break
            attempt_at = failed_at + min(CAP_S, BASE_S * FACTOR ** (attempt - 1)) + 0.01
            where = "redriver"
            see(attempt_at - 0.001, Kind.REDRIVEN, where, attempt=attempt + 1)
    final: dict[str, dict[str, Any]] = {}
    newest: dict[str, int] = {}
    for at, key, version, event, trace, where in sorted(to_apply):
        effect = version > newest.get(key, 0)
        if effect:
            newest[key] = version
            final[key] = {"version": str(version), "content": f"c-{event}", "event_id": event, "trace_id": trace}
        noop = {} if effect else {"applied": False, "outcome": "stale"}
        history.append(at, event, trace, Kind.APPLIED, where, {"key": key, "version": version, **noop})
        history.append(at + 0.001, event, trace, Kind.COMMITTED, where, None)
    return history, timeline, final, samples


def _failures(rng: random.Random, in_fault: bool) -> int:
    """How many attempts fail before one succeeds (MAX_ATTEMPTS or more: exhausted)."""
    roll = rng.random()
    if in_fault:
        return 0 if roll < 0.7 else 1 if roll < 0.9 else MAX_ATTEMPTS
    return 0 if roll < 0.99 else 1


def judge(directory: Path) -> dict[str, Any]:
    """Load the history and run every check; the only timed part (in a fresh process)."""
    timeline = Timeline.from_json((directory / "timeline.json").read_bytes())
    final = orjson.loads((directory / "final.json").read_bytes())
    samples = orjson.loads((directory / "samples.json").read_bytes())
    end = orjson.loads((directory / "end.json").read_bytes())
    started = time.perf_counter()
    history = History.load(directory / "history.jsonl")
    loaded = time.perf_counter()
    results = [
        check_delivery(history, final_state=final, timeline=timeline),
        check_dlq(history, timeline=timeline),
        check_retry(history, BASE_S, FACTOR, CAP_S, MAX_ATTEMPTS, timeline=timeline),
        check_ordering(history, timeline=timeline),
        check_convergence(final, [(end + 1.0, final)], bound_s=30.0, since=end, timeline=timeline),
        check_slo(samples, timeline, {"before": CALM, "during": Slo(0.2, {50: 100, 99: 10_000}), "after": CALM}),
    ]
    judged = time.perf_counter()
    failed = [r.explain(limit=5) for r in results if not r.ok]
    if failed:
        raise SystemExit("the model's history should pass every check:\n" + "\n".join(failed))
    return {"load_s": loaded - started, "checks_s": judged - loaded, "observations": len(history)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the history (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--judge", type=Path, help=argparse.SUPPRESS)  # the timed child process
    args = parser.parse_args()
    if args.judge is not None:
        sys.stdout.write(orjson.dumps(judge(args.judge)).decode() + "\n")
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        history, timeline, final, samples = build(args.events, args.seed)
        history.save(directory / "history.jsonl")
        (directory / "timeline.json").write_text(timeline.to_json())
        (directory / "final.json").write_bytes(orjson.dumps(final))
        (directory / "samples.json").write_bytes(orjson.dumps(samples))
        (directory / "end.json").write_bytes(orjson.dumps(START + args.events / RATE + 10.0))
        size = (directory / "history.jsonl").stat().st_size
        del history, final, samples
        # A fresh interpreter, like any process that judges a recorded history: the heap
        # left by building six million observations would otherwise slow the timed part.
        child = subprocess.run([sys.executable, __file__, "--judge", tmp], check=True, capture_output=True, text=True)
        figures = json.loads(child.stdout)
    seconds = figures["load_s"] + figures["checks_s"]
    print(
        json.dumps(
            {
                "events": args.events,
                "seconds": round(seconds, 3),
                "events_per_s": round(args.events / seconds),
                "observations": figures["observations"],
                "file_mb": round(size / 1e6, 1),
                "load_s": round(figures["load_s"], 3),
                "checks_s": round(figures["checks_s"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
