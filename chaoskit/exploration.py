"""Random fault schedules from Hypothesis, shrunk to a minimal one and printed as code.

DESIGN principle 6, in three layers that each work alone:

- ``fault_schedules(faults, ...)`` is a Hypothesis strategy for schedules
  ``[(at_s, fault, duration_s), ...]`` over the topology's own links and components. It is
  shaped so that shrinking means something to a reader: times are whole seconds from the
  schedule's start (a step shrinks toward "immediately"), kinds and their parameters are
  sampled from mildest to harshest (a step shrinks toward the mildest fault that still
  breaks the system), durations shrink toward 1 s and lists stay short. A drawn schedule
  prints as the code that replays it, so Hypothesis' "Falsifying example" already is code.
- ``replay_code(steps)`` is ``faults.run_schedule([...])``, built from each ``Fault.code``.
- ``run_drawn_schedule(experiment, steps, ...)`` runs one schedule as one experiment, and
  ``explore_schedules`` runs it for the schedules Hypothesis draws, seeded by the run's
  ``--chaos-seed``. Each schedule runs *through its replay code*, so the code printed for a
  failure is exactly what ran; a failed check raises ``ScheduleFailure``, whose message ends
  with that code, and Hypothesis reports the failure of the smallest schedule it found.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from chaoskit.checks import CheckResult
from chaoskit.checks.retry import RetryPolicy
from chaoskit.errors import ConfigError
from chaoskit.experiment import Experiment, Load, conclude
from chaoskit.faults import Fault, Faults, params
from chaoskit.faults.schedule import Step as ScheduleStep
from chaoskit.faults.schedule import overlaps
from chaoskit.observe.timeline import Timeline
from chaoskit.report.attachments import attach_text
from chaoskit.report.steps import step
from chaoskit.topology import Link

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from chaoskit.topology import Topology

CALL = "fault_schedules"
#: Every kind a schedule can draw, mildest first: the order shrinking lowers severity in.
KINDS: tuple[str, ...] = ("latency", "bandwidth", "reset_peer", "timeout", "down", "pause", "kill", "broker_loss")
LINK_KINDS = frozenset({"latency", "bandwidth", "reset_peer", "timeout", "down"})
COMPONENT_KINDS = frozenset({"pause", "kill"})
# Parameters, LEVELS of them each, mildest first. broker_loss keeps the broker's data: losing
# it loses acked events by construction (one broker), a recovery experiment, not a random fault.
LEVELS = 3
LEVELED_KINDS = frozenset({"latency", "bandwidth", "broker_loss"})
LATENCY_MS = (100, 500, 2000)
BANDWIDTH_KBPS = (100, 10, 1)
BROKER_LOSS_MODES = ("cut", "pause", "kill")
#: No database (a run replays from its seed, not from local files) and no explain phase
#: (it reruns examples, and every example here runs real faults).
PHASES = (Phase.explicit, Phase.generate, Phase.shrink)

DrawnStep = tuple[int, Fault, int]
State = Mapping[str, Mapping[str, Any]]


class DrawnSchedule(list[DrawnStep]):
    """A drawn schedule: a plain list of ``(at_s, fault, duration_s)`` steps, so anything that
    takes a schedule takes it, that prints as the code that replays it."""

    def __repr__(self) -> str:
        return "[" + ", ".join(f"({at_s!r}, {fault.code}, {duration_s!r})" for at_s, fault, duration_s in self) + "]"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How Hypothesis prints it in "Falsifying example: ...": as code too."""
        printer.text(repr(self))


Target = Link | str | None  # a link for link kinds, a component for pause and kill, None for broker_loss


@dataclass(frozen=True)
class _Menu:
    """What a schedule may draw from: kinds mildest first, and per kind its variants (target
    and parameter level) mildest first, then in topology order."""

    kinds: tuple[str, ...]
    variants: Mapping[str, tuple[tuple[Target, int], ...]]

    @property
    def widest(self) -> int:
        return max(len(v) for v in self.variants.values())


def fault_schedules(
    faults: Faults,
    *,
    kinds: Iterable[str] = KINDS,
    links: Iterable[tuple[str, str] | str] | None = None,
    components: Iterable[str] | None = None,
    max_steps: int = 4,
    horizon_s: int = 20,
    max_duration_s: int = 8,
) -> SearchStrategy[DrawnSchedule]:
    """Schedules of up to ``max_steps`` steps built with ``faults``: each starts at a whole second
    in ``[0, horizon_s]`` and lasts ``[1, max_duration_s]`` s. ``kinds`` are taken mildest first
    whatever order they are given in; link faults hit ``links`` (default: every proxied link),
    ``pause``/``kill`` hit ``components`` (default: the services under test), ``broker_loss``
    the Kafka broker. Every target is checked against the topology now, and a drawn schedule
    never holds steps the faults engine would refuse (see ``_without_conflicts``).

    The empty schedule is one of them: Hypothesis tries it first (a baseline before any fault),
    and it is where shrinking ends when the system fails with no fault at all.

    Each step is exactly four choices (kind, variant, start, duration). Hypothesis deletes a
    list element by deleting its choices in one go, five at most with the list's own "one
    more" choice, so a step of more choices could not be deleted while shrinking: a step
    that does not matter would stay in the minimal schedule.
    """
    menu = _menu(faults.runtime.topology, kinds, links, components)
    steps = params.whole(CALL, "max_steps", max_steps, minimum=1, unit="steps per schedule")
    horizon = params.whole(CALL, "horizon_s", horizon_s, unit="the latest start, whole seconds")
    longest = params.whole(CALL, "max_duration_s", max_duration_s, minimum=1, unit="whole seconds")

    def step(choice: tuple[str, int, int, int]) -> DrawnStep:
        kind, variant, at_s, duration_s = choice
        variants = menu.variants[kind]
        target, level = variants[variant % len(variants)]
        return at_s, _fault(faults, kind, target, level), duration_s

    choices = st.tuples(
        st.sampled_from(menu.kinds),
        st.integers(0, menu.widest - 1),
        st.integers(0, horizon),
        st.integers(1, longest),
    )
    return st.lists(choices.map(step), max_size=steps).map(_without_conflicts)


def _menu(
    topology: Topology,
    kinds: Iterable[str],
    links: Iterable[tuple[str, str] | str] | None,
    components: Iterable[str] | None,
) -> _Menu:
    given_kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    if not given_kinds or any(kind not in KINDS for kind in given_kinds):
        raise ConfigError(
            f"{CALL}(kinds={given_kinds!r}): kinds must be a non-empty list of fault kinds from "
            f"{', '.join(KINDS)} (mildest to harshest)"
        )
    link_targets = tuple(topology.links) if links is None else tuple(params.links(topology, CALL, links))
    component_targets = (
        tuple(c.name for c in topology.services)
        if components is None
        else tuple(dict.fromkeys(params.component(topology, CALL, name) for name in components))
    )
    variants: dict[str, tuple[tuple[Target, int], ...]] = {}
    for kind in (k for k in KINDS if k in given_kinds):
        if kind in LINK_KINDS and not link_targets:
            raise ConfigError(
                f"{CALL}(kinds=[..., {kind!r}]): {kind} acts on a link and the topology has no proxied links"
            )
        if kind in COMPONENT_KINDS and not component_targets:
            raise ConfigError(
                f"{CALL}(kinds=[..., {kind!r}], components=[]): {kind} acts on a component; name at least one "
                f"(the topology has {', '.join(sorted(topology.components))})"
            )
        levels = range(LEVELS) if kind in LEVELED_KINDS else range(1)
        targets: tuple[Target, ...] = (
            link_targets if kind in LINK_KINDS else component_targets if kind in COMPONENT_KINDS else (None,)
        )
        variants[kind] = tuple((target, level) for level in levels for target in targets)
    return _Menu(tuple(variants), variants)


def _fault(faults: Faults, kind: str, target: Target, level: int) -> Fault:
    """One fault of ``kind`` on ``target``; ``level`` picks its parameter, 0 the mildest."""
    if kind == "broker_loss":
        return faults.broker_loss(mode=BROKER_LOSS_MODES[level], data="kept")
    if kind in COMPONENT_KINDS:
        return getattr(faults, kind)(target)  # type: ignore[no-any-return]
    assert isinstance(target, Link), f"{kind} acts on a link"
    if kind == "latency":
        return faults.latency(target.client, target.target, ms=LATENCY_MS[level])
    if kind == "bandwidth":
        return faults.bandwidth(target.client, target.target, kbps=BANDWIDTH_KBPS[level])
    return getattr(faults, kind)(target.client, target.target)  # type: ignore[no-any-return]


def _without_conflicts(steps: list[DrawnStep]) -> DrawnSchedule:
    """The engine refuses process faults on one component at overlapping times (there is no
    sensible heal for killing a paused process). A step that would overlap one drawn before it
    starts instead when the last such step ends: the same faults, a little later, and a choice
    of Hypothesis' never turns into a schedule the engine rejects."""
    kept: list[DrawnStep] = []
    for at_s, fault, duration_s in steps:
        while clashes := [
            other_at + other_duration
            for other_at, other, other_duration in kept
            if set(other.holds) & set(fault.holds)
            and overlaps(ScheduleStep(other_at, other, other_duration), ScheduleStep(at_s, fault, duration_s))
        ]:
            at_s = max(clashes)
        kept.append((at_s, fault, duration_s))
    return DrawnSchedule(kept)


def schedule_code(steps: Iterable[tuple[float, Fault, float]]) -> str:
    """The steps as a list literal of ``faults.<kind>(...)`` calls, one step a line."""
    lines = [f"    ({at_s!r}, {fault.code}, {duration_s!r})," for at_s, fault, duration_s in steps]
    return "\n".join(["[", *lines, "]"])


def replay_code(steps: Iterable[tuple[float, Fault, float]]) -> str:
    """Python that rebuilds the schedule and runs it to its end, given ``faults`` (a ``Faults``)."""
    return f"faults.run_schedule({schedule_code(steps)})"


@dataclass(frozen=True)
class Method:
    """How each drawn schedule is run: the load under it (``experiment.load.run`` arguments)
    and the bounds of its waits. ``settle_s`` bounds how long the state may take to converge
    once load and schedule are over (the consistency bound); ``warmup_s`` how long the first
    event may take to be applied before the schedule starts."""

    load: Mapping[str, Any] = field(default_factory=lambda: {"users": 4, "rate": 20})
    retry: RetryPolicy | None = None
    warmup_s: float = 30.0
    settle_s: float = 60.0


class ScheduleFailure(AssertionError):
    """A schedule broke checks: the message explains each failed check and ends with the code
    that replays the schedule. ``results`` holds every verdict, ``example`` the experiment it
    ran as (its history, timeline and key namespace)."""

    def __init__(self, code: str, results: list[CheckResult], example: Experiment) -> None:
        self.code = code
        self.results = results
        self.example = example
        failed = [r for r in results if r.outcome == "fail"]
        super().__init__(
            f"under this fault schedule {len(failed)} of {len(results)} checks failed:\n"
            + "\n".join(r.explain() for r in failed)
            + f"\n\nThe schedule, as code that replays it (with `faults` the environment's Faults, "
            f"under load, inside experiment.recording()); this run's seed is --chaos-seed={example.seed}:\n{code}"
        )


def run_drawn_schedule(
    experiment: Experiment,
    steps: Sequence[tuple[float, Fault, float]],
    *,
    workdir: Path,
    expected_state: Callable[[], State],
    method: Method = Method(),
) -> list[CheckResult]:
    """Run one schedule as one experiment and return its verdicts, or raise ``ScheduleFailure``.

    The example gets a key namespace of its own inside ``experiment``'s (so one example's
    leftovers never fail the next), its own timeline and faults, and load files under
    ``workdir``. In order: reset the environment; start recording and load; wait until an
    event is applied; run the schedule through its replay code; stop the load; ``settle``
    (at most ``settle_s``), which is the consistency verdict; stop recording; judge.
    ``expected_state`` is the verifier's expected state for ``experiment``'s namespace (the
    experiments' ``expected_state`` fixture); it is narrowed to the example's keys. The last
    example's history, verdicts and timeline become ``experiment``'s, for its report, where
    each schedule is a step (failed or passed) and a failing one's replay code is attached.
    """
    code = replay_code(steps)
    with step("fault schedule", schedule=code, seed=experiment.seed):
        example = _example_of(experiment, workdir)
        try:
            _run(example, code, expected_state, method)
        except BaseException as err:
            err.add_note(f"while running this fault schedule (seed --chaos-seed={experiment.seed}):\n{code}")
            raise
        experiment.history, experiment.results, experiment.timeline = example.history, example.results, example.timeline
        if any(r.outcome == "fail" for r in example.results):
            attach_text("fault schedule: replay code", code)
            raise ScheduleFailure(code, example.results, example)
        conclude(example.results)  # a schedule run on no evidence is inconclusive, not passed
    return example.results


def _run(example: Experiment, code: str, expected_state: Callable[[], State], method: Method) -> None:
    """The example's method and verdicts (into ``example.results``); the recorder always stops."""
    try:
        example.runtime.reset()
        with example.recording(), example.load.run(**method.load):
            example.wait_until(
                example.final_state,
                method.warmup_s,
                "an event applied under load before the schedule (the system was not steady)",
            )
            exec(compile(code, "<fault schedule>", "exec"), {"faults": example.faults})
        consistency = example.settle(expected_state, method.settle_s)
        example.results = example.judge(consistency=consistency, retry=method.retry)
    finally:
        if example.recording_active:
            example.stop_recording()


def _example_of(parent: Experiment, workdir: Path) -> Experiment:
    label = uuid.uuid4().hex[:6]
    namespace = f"{parent.namespace}{label}:"
    timeline = Timeline(origin=time.time())
    return Experiment(
        name=f"{parent.name}[{label}]",
        runtime=parent.runtime,
        services=parent.services,
        faults=Faults(parent.runtime, timeline),
        timeline=timeline,
        load=Load(parent.runtime, namespace, workdir / label, parent.seed),
        kafka=parent.kafka,
        namespace=namespace,
        seed=parent.seed,
        redis=parent.redis,
        meta=dict(parent.meta),
    )


def schedule_settings(parent: settings | None = None, *, max_examples: int | None = None) -> settings:
    """Hypothesis settings for examples that each run real faults, on top of ``parent`` (default:
    the loaded profile): no deadline, no example database (a run replays from its seed),
    no explain phase, health checks off, and one failure reported, the minimal one."""
    base = parent if parent is not None else settings()
    return settings(
        base,
        max_examples=base.max_examples if max_examples is None else max_examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=PHASES,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )


def explore(
    schedules: SearchStrategy[DrawnSchedule],
    run: Callable[[DrawnSchedule], object],
    *,
    seed: int,
    hypothesis_settings: settings | None = None,
) -> None:
    """Call ``run`` on schedules Hypothesis draws, seeded by ``seed`` (the same seed draws the
    same schedules); when one fails, Hypothesis shrinks it and raises the minimal one's error."""

    @hypothesis.seed(seed)
    @schedule_settings(hypothesis_settings)
    @given(steps=schedules)
    def fault_schedule(steps: DrawnSchedule) -> None:
        run(steps)

    fault_schedule()


def explore_schedules(
    experiment: Experiment,
    schedules: SearchStrategy[DrawnSchedule],
    *,
    workdir: Path,
    expected_state: Callable[[], State],
    method: Method = Method(),
    hypothesis_settings: settings | None = None,
) -> None:
    """Run drawn schedules as experiments (``run_drawn_schedule``), seeded by the run's
    ``--chaos-seed``; a failure is shrunk and reported as the minimal schedule's
    ``ScheduleFailure``, whose message ends with the code that replays it."""

    def run(steps: DrawnSchedule) -> None:
        run_drawn_schedule(experiment, steps, workdir=workdir, expected_state=expected_state, method=method)

    explore(schedules, run, seed=experiment.seed, hypothesis_settings=hypothesis_settings)
