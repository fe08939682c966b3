"""chaoskit's pytest plugin: experiments are ordinary pytest tests.

Loaded through the ``pytest11`` entry point. It adds the ``--chaos-*`` options (and ini
twins), the ``chaos`` marker, and fixtures: ``chaos_env`` (the session's environment,
started once and reset between experiments), ``services``, ``kafka`` and ``redis``
(direct clients for observing, never proxied), ``timeline``, ``faults``, ``load`` and
``experiment`` (the steady-state / method / verify shape of an experiment). The
environment starts only when a test asks for one of these fixtures, so unit tests in the
same run never pay for it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from chaoskit.errors import ChaoskitError, ConfigError, ExperimentInconclusive, ExperimentTimeout
from chaoskit.marker import FIELDS, SEVERITIES
from chaoskit.options import OPTIONS, ChaosOptions
from chaoskit.runtime.base import Runtime
from chaoskit.topology import load_topology

if TYPE_CHECKING:
    import redis as redis_py

    from chaoskit.checks import CheckResult
    from chaoskit.experiment import Experiment, KafkaClients, Load, Services
    from chaoskit.faults import Faults
    from chaoskit.observe.timeline import Timeline

RUNTIMES = ("process", "docker")
_STASH_RUNTIME = pytest.StashKey[Runtime]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaoskit", "chaos experiments against an event system")
    group.addoption("--chaos-runtime", default=None, help="how components run: process (default) or docker")
    group.addoption("--chaos-topology", default=None, help="the compose file (default docker-compose.chaos.yml)")
    group.addoption("--chaos-seed", default=None, help="seed for random fault schedules and generated data")
    group.addoption(
        "--chaos-keep",
        action="store_true",
        default=None,
        help="leave the environment up after the run for inspection (`chaoskit down` removes it)",
    )
    parser.addini("chaos_runtime", "default for --chaos-runtime", default="process")
    parser.addini("chaos_topology", "default for --chaos-topology", default="docker-compose.chaos.yml")
    parser.addini("chaos_seed", "default for --chaos-seed", default="")
    parser.addini("chaos_keep", "default for --chaos-keep", type="bool", default=False)
    parser.addini("chaos_budget_s", "default time budget of one experiment, seconds (marker: budget_s)", default="300")
    group.addoption(
        "--load-workers",
        type=int,
        default=None,
        help="run load in Locust's master/worker mode with N local workers (default 0: one process)",
    )
    parser.addini("load_workers", "default for --load-workers", default="0")


def _options(config: pytest.Config) -> ChaosOptions:
    runtime = config.getoption("--chaos-runtime") or config.getini("chaos_runtime")
    if runtime not in RUNTIMES:
        raise ConfigError(f"--chaos-runtime={runtime!r} is not a runtime; allowed: {', '.join(RUNTIMES)}")
    topology = Path(config.getoption("--chaos-topology") or config.getini("chaos_topology"))
    if not topology.is_absolute():
        topology = Path(config.rootpath) / topology
    raw_seed = config.getoption("--chaos-seed") or config.getini("chaos_seed") or ""
    try:
        seed = int(raw_seed) if str(raw_seed).strip() else int.from_bytes(os.urandom(4), "big")
    except ValueError:
        raise ConfigError(f"--chaos-seed={raw_seed!r} must be an integer") from None
    keep = bool(config.getoption("--chaos-keep") or config.getini("chaos_keep"))
    raw_workers = config.getoption("--load-workers")
    raw_workers = config.getini("load_workers") if raw_workers is None else raw_workers
    try:
        workers = int(raw_workers)
        if workers < 0:
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"--load-workers={raw_workers!r} must be a whole number >= 0 (0: one load process)") from None
    return ChaosOptions(runtime=runtime, topology=topology, seed=seed, keep=keep, load_workers=workers)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.import_plugin("chaoskit.report.allure_plugin")
    config.addinivalue_line(
        "markers",
        "chaos(title=None, hypothesis=None, severity='normal', tags=(), feature=None, story=None, budget_s=None, "
        "provokes=None): a chaos experiment, the metadata its report carries, its time budget, and what its fault "
        "must provoke for the hypothesis to be tested at all",
    )
    try:
        config.stash[OPTIONS] = _options(config)
    except ConfigError as err:
        raise pytest.UsageError(str(err)) from None
    # CI stops jobs with SIGTERM: treat it as Ctrl-C so faults heal and the environment stops.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _sigterm_as_interrupt)


def _sigterm_as_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("SIGTERM")


def pytest_report_header(config: pytest.Config) -> str:
    opts = config.stash[OPTIONS]
    return f"chaoskit: runtime={opts.runtime} topology={opts.topology.name} seed={opts.seed} keep={opts.keep}"


def pytest_unconfigure(config: pytest.Config) -> None:
    """Last line of defence: an environment still up (e.g. after an internal error) stops."""
    runtime = config.stash.get(_STASH_RUNTIME, None)
    if runtime is not None and not config.stash[OPTIONS].keep:
        runtime.down()


@pytest.fixture(scope="session")
def chaos_options(pytestconfig: pytest.Config) -> ChaosOptions:
    """The resolved --chaos-* options of this run."""
    return pytestconfig.stash[OPTIONS]


@pytest.fixture(scope="session")
def chaos_env(pytestconfig: pytest.Config, chaos_options: ChaosOptions) -> Iterator[Runtime]:
    """The environment of this session: started once on first use, stopped at the end
    (unless --chaos-keep). A start failure is an infrastructure error, never a verdict."""
    from chaoskit.runtime.factory import make_runtime

    topology = load_topology(chaos_options.topology)
    runtime = make_runtime(chaos_options.runtime, topology, owner_pid=os.getpid(), keep=chaos_options.keep)
    runtime.up()
    pytestconfig.stash[_STASH_RUNTIME] = runtime
    try:
        yield runtime
    finally:
        del pytestconfig.stash[_STASH_RUNTIME]
        if chaos_options.keep:
            print(f"\nchaoskit: environment {runtime.env_id} kept; remove it with `chaoskit down {runtime.env_id}`")
        else:
            runtime.down()


@pytest.fixture
def chaos_namespace(request: pytest.FixtureRequest) -> str:
    """A key prefix unique to this experiment, so experiments never see each other's data."""
    from chaoskit.experiment import namespace_for

    return namespace_for(request.node.nodeid)


@pytest.fixture
def timeline() -> Timeline:
    """This experiment's record of fault windows (every inject and heal, timestamped). Its
    origin is the experiment's t0: every explanation, step, plot and CSV counts from it."""
    from chaoskit.observe.timeline import Timeline

    return Timeline(origin=time.time())


@pytest.fixture
def services(chaos_env: Runtime) -> Services:
    """Endpoints and control (stop, kill, pause, resume, restart, logs) of each component."""
    from chaoskit.experiment import Services

    chaos_env.reset()
    return Services(chaos_env)


@pytest.fixture(scope="session")
def kafka(chaos_env: Runtime) -> KafkaClients:
    """Kafka clients on the broker's direct listener: the observer's view, never faulted."""
    from chaoskit.experiment import KafkaClients

    return KafkaClients(chaos_env.endpoint(_kind(chaos_env, "kafka")))


@pytest.fixture(scope="session")
def redis(chaos_env: Runtime) -> Iterator[redis_py.Redis]:
    """A redis-py client on Redis's direct port: the observer's view, never faulted."""
    import redis as redis_py

    host, port = chaos_env.endpoint(_kind(chaos_env, "redis")).split(":")
    client = redis_py.Redis(
        host=host, port=int(port), socket_timeout=5, socket_connect_timeout=2, decode_responses=True
    )
    yield client
    client.close()


@pytest.fixture
def faults(chaos_env: Runtime, timeline: Timeline) -> Iterator[Faults]:
    """Faults on this environment; whatever is still injected heals when the test ends."""
    from chaoskit.faults import Faults

    chaos_env.reset()
    entry = Faults(chaos_env, timeline)
    try:
        yield entry
    finally:
        entry.heal_all()


@pytest.fixture
def load(chaos_env: Runtime, chaos_namespace: str, chaos_options: ChaosOptions, tmp_path: Path) -> Iterator[Load]:
    """Locust load against order-service (or Kafka directly), in its own process, or as a
    Locust master with ``--load-workers`` local workers (a run's own ``workers=`` wins)."""
    from chaoskit.experiment import Load

    handle = Load(chaos_env, chaos_namespace, tmp_path / "load", chaos_options.seed, workers=chaos_options.load_workers)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def experiment(
    request: pytest.FixtureRequest,
    chaos_env: Runtime,
    services: Services,
    faults: Faults,
    timeline: Timeline,
    load: Load,
    kafka: KafkaClients,
    redis: redis_py.Redis,
    chaos_namespace: str,
    chaos_options: ChaosOptions,
    tmp_path: Path,
) -> Iterator[Experiment]:
    """Everything an experiment uses, with the steady-state helper and the checks; its
    evidence (timeline plot, history, offending events, logs, load phases) goes on the
    test's own page of the Allure report when one is being collected (see
    ``pytest_runtest_call``)."""
    from chaoskit.experiment import Experiment

    marker = request.node.get_closest_marker("chaos")
    exp = Experiment(
        name=request.node.name,
        runtime=chaos_env,
        services=services,
        faults=faults,
        timeline=timeline,
        load=load,
        kafka=kafka,
        namespace=chaos_namespace,
        seed=chaos_options.seed,
        redis=redis,
        meta=dict(marker.kwargs) if marker else {},
        started_at=timeline.origin or time.time(),  # one time base: the timeline's
        workdir=tmp_path,
    )
    yield exp
    exp.wind_down()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A ChaoskitError (bad input, a component that would not start) is shown as its
    one-paragraph message, not as a traceback from deep inside the framework."""
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, ChaoskitError):
        report.longrepr = f"{type(call.excinfo.value).__name__}: {call.excinfo.value}"
    exp = getattr(item, "funcargs", {}).get("experiment")
    if call.when == "call" and exp is not None and exp.results:
        report.sections.append(("chaoskit verdicts", "\n".join(r.explain() for r in exp.results)))
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A misspelt ``chaos`` marker field, severity or provocation would silently drop out of
    the report and the gate: refuse it at collection, naming the experiment."""
    for item in items:
        marker = item.get_closest_marker("chaos")
        if marker is None:
            continue
        unknown = sorted(set(marker.kwargs) - set(FIELDS))
        if unknown or marker.args:
            raise pytest.UsageError(
                f"{item.nodeid}: chaos marker takes keyword fields {', '.join(FIELDS)}; "
                f"got {unknown or list(marker.args)}"
            )
        severity = marker.kwargs.get("severity", "normal")
        if severity not in SEVERITIES:
            raise pytest.UsageError(
                f"{item.nodeid}: chaos(severity={severity!r}) is not a severity; allowed: {', '.join(SEVERITIES)}"
            )
        if marker.kwargs.get("provokes") is not None:
            from chaoskit.checks.provocation import normalize

            try:
                normalize(marker.kwargs["provokes"], f"{item.nodeid}: chaos marker")
            except ValueError as err:
                raise pytest.UsageError(str(err)) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Runs an experiment within its time budget, files its evidence on the test's own page
    of the report (passed or failed: during the call, not among the fixtures' teardown),
    then holds it to what its marker promised."""
    try:
        with _budget(item):
            outcome = yield
    except Exception:
        _report_evidence(item)
        raise
    _report_evidence(item)
    _promise_checked(item)
    return outcome


def _report_evidence(item: pytest.Item) -> None:
    """The experiment's checks, fault windows, timeline plot, history and logs, attached
    while the test's own result is current. An interrupted run (KeyboardInterrupt) skips
    this: it must stop, and its result says it was interrupted."""
    from chaoskit.report.steps import collecting

    exp = getattr(item, "funcargs", {}).get("experiment")
    if exp is None or not collecting():
        return
    from chaoskit.report import report_experiment

    exp.wind_down()
    report_experiment(exp.report_record(exp.started_at, time.time(), exp.workdir))


@contextmanager
def _budget(item: pytest.Item) -> Iterator[None]:
    """An experiment that runs past its budget is stopped (ExperimentTimeout is raised in
    the test), then its fixtures' teardown heals the faults and stops the load, and it is
    reported as interrupted. Needs the main thread (SIGALRM), like pytest-timeout's signal mode."""
    if "chaos_env" not in getattr(item, "fixturenames", ()):
        yield
        return
    marker = item.get_closest_marker("chaos")
    raw = (marker.kwargs.get("budget_s") if marker else None) or item.config.getini("chaos_budget_s")
    try:
        budget = float(raw)
        if budget <= 0:
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(
            f"chaos(budget_s={raw!r}) on {item.nodeid}: the budget must be a number of seconds > 0"
        ) from None

    def expired(signum: int, frame: Any) -> None:
        raise ExperimentTimeout(
            f"{item.name} exceeded its budget of {budget:g} s and was stopped; its faults are healed "
            f"and its load stopped on teardown (raise it with @pytest.mark.chaos(budget_s=...))"
        )

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _promise_checked(item: pytest.Item) -> None:
    """An experiment that declares ``provokes`` but never had it checked (no ``verify()``,
    no ``provoked(...)``) made a promise nobody checked: it is inconclusive, not passed."""
    marker = item.get_closest_marker("chaos")
    if marker is None or marker.kwargs.get("provokes") is None:
        return
    exp = getattr(item, "funcargs", {}).get("experiment")
    if item.stash.get(_PROVOKED, None) is None and getattr(exp, "provocation", None) is None:
        raise ExperimentInconclusive(
            f"{item.name} declares provokes={marker.kwargs['provokes']!r} but nothing checked it: call "
            f"experiment.verify(), or the provoked(...) fixture with the counts the experiment measured"
        )


_PROVOKED = pytest.StashKey["CheckResult"]()


@pytest.fixture
def provoked(request: pytest.FixtureRequest) -> Callable[..., CheckResult]:
    """``provoked(rollback=1)``: for an experiment that measures what its fault provoked
    itself (a deploy's rollbacks, say), checks the counts against the marker's ``provokes``.
    Short of them, the experiment is inconclusive (ExperimentInconclusive), never passed."""
    from chaoskit.checks.provocation import check_provoked, normalize

    def check(**counts: int) -> CheckResult:
        marker = request.node.get_closest_marker("chaos")
        declared = marker.kwargs.get("provokes") if marker else None
        if declared is None:
            raise ConfigError(f"{request.node.nodeid}: provoked() needs @pytest.mark.chaos(provokes=...) to check")
        result = check_provoked(normalize(declared, request.node.nodeid), counted=counts)
        request.node.stash[_PROVOKED] = result
        if not result.ok:
            raise ExperimentInconclusive(result.explain())
        return result

    return check


def _kind(runtime: Runtime, kind: str) -> str:
    comp = runtime.topology.of_kind(kind)
    if comp is None:
        raise ConfigError(f"the topology {runtime.topology.path.name} has no component of kind {kind}")
    return comp.name
