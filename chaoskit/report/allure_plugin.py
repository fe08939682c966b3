"""pytest plugin: chaos experiments as Allure results a reviewer can read.

Registered by chaoskit's main plugin; does nothing unless ``--alluredir`` is given.
Then it

* labels every ``@pytest.mark.chaos`` test from the marker: title, description (the
  hypothesis), severity, tags, feature and story (feature and story otherwise come from
  the faults injected, see ``report_experiment``), and the run's seed as a parameter
  (excluded from Allure's history id, so trends follow the experiment across seeds);
* files an experiment stopped by Ctrl-C or SIGTERM as ``broken`` with all its labels
  (allure-pytest alone records it as *passed* with none: pytest makes no report for a
  phase a KeyboardInterrupt cut short, and the setup phase had passed);
* keeps ``chaoskit-run.json`` (``run_file.py``) in the results directory: which
  experiments were selected, and whether the run finished or was interrupted;
* writes, at the end of the session, ``environment.properties`` (pinned versions,
  runtime, seed, topology), ``categories.json`` (what a red result asks of its reader)
  and, under CI, ``executor.json`` into the results directory.

Labels are added as allure-pytest's own ``allure_label`` marks at collection, first, so
``--allure-features``/``--allure-severities`` selection sees them too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import allure
import pytest
from allure_commons.model2 import Status, StatusDetails

from chaoskit.errors import ExperimentInterrupted
from chaoskit.marker import SEVERITIES
from chaoskit.options import OPTIONS, ChaosOptions
from chaoskit.report.categories import write_categories
from chaoskit.report.environment import write_environment, write_executor
from chaoskit.report.run_file import FINISHED, INTERRUPTED, RunFile, started

_TEXT_FIELDS = ("title", "hypothesis", "feature", "story")


def pytest_configure(config: pytest.Config) -> None:
    results = config.getoption("allure_report_dir", default=None)
    if results and not config.pluginmanager.has_plugin(ChaosAllure.NAME):
        config.pluginmanager.register(ChaosAllure(Path(os.path.abspath(results))), ChaosAllure.NAME)


class ChaosAllure:
    """The active half of the plugin, registered only when Allure is collecting."""

    NAME = "chaoskit-allure"

    def __init__(self, results_dir: Path) -> None:
        self.results_dir = results_dir
        self.run: RunFile | None = None
        self.begun: set[str] = set()
        self.interrupted_by = ""

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker("chaos")
            if marker is None:
                continue
            for mark in marks_for(item.nodeid, marker.kwargs):
                item.add_marker(mark)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput"):
            return
        chosen = [item.nodeid for item in session.items if item.get_closest_marker("chaos") is not None]
        self.run = started(chosen)
        self.run.write(self.results_dir)

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.begun.add(nodeid)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        """Inside allure-pytest's own wrapper, which writes the result once this returns:
        an interruption turns the result being written into a labelled ``broken`` one."""
        try:
            return (yield)
        except KeyboardInterrupt as interrupt:
            self.interrupted_by = _signal_name(interrupt)
            if item.get_closest_marker("chaos") is not None:
                self._file_interrupted(item, self.interrupted_by)
            raise

    def _file_interrupted(self, item: pytest.Item, why: str) -> None:
        listener = item.config.pluginmanager.getplugin("allure_listener")
        result = listener.allure_logger.get_test(None) if listener is not None else None
        if result is None:
            return
        error = ExperimentInterrupted(
            f"{item.name} was interrupted by {why} before it reached a verdict; its faults were healed and "
            f"its load stopped on teardown. Nothing was decided: rerun it."
        )
        result.status = Status.BROKEN
        result.statusDetails = StatusDetails(message=f"{type(error).__module__}.{type(error).__name__}: {error}")
        # allure-pytest labels a result in its teardown hook, which an interrupted test never reaches
        labels = listener.pytest_runtest_teardown(item)
        next(labels)
        next(labels, None)
        self.pytest_runtest_teardown(item)

    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        """Title and seed go on at teardown: allure-pytest sets the result's name after
        setup, and at teardown the result still exists even when setup failed."""
        marker = item.get_closest_marker("chaos")
        if marker is None:
            return
        title = marker.kwargs.get("title")
        if title:
            callspec = getattr(item, "callspec", None)
            allure.dynamic.title(f"{title} [{callspec.id}]" if callspec is not None else title)
        options = _options(item.config)
        if options is not None:
            allure.dynamic.parameter("seed", options.seed, excluded=True)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(session.config, "workerinput"):
            return  # xdist workers: the controller writes the run-level files once
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self._finish_run(session, exitstatus)
        write_environment(self.results_dir, _options(session.config))
        write_categories(self.results_dir)
        write_executor(self.results_dir)

    def _finish_run(self, session: pytest.Session, exitstatus: int) -> None:
        if self.run is None:
            return  # collection never finished: no experiment was selected
        not_run = tuple(nodeid for nodeid in self.run.experiments if nodeid not in self.begun)
        stop = session.shouldstop or session.shouldfail
        if self.interrupted_by:
            reason = f"stopped by {self.interrupted_by}"
        elif exitstatus == pytest.ExitCode.INTERRUPTED:
            reason = "stopped by Ctrl-C (SIGINT) or SIGTERM"
        elif stop and not_run:
            reason = f"pytest stopped early: {stop}"
        else:
            reason = ""
        state = INTERRUPTED if reason else FINISHED
        RunFile(
            state=state,
            pid=self.run.pid,
            started=self.run.started,
            experiments=self.run.experiments,
            not_run=not_run,
            reason=reason,
            ended=time.time(),
        ).write(self.results_dir)


def _signal_name(interrupt: KeyboardInterrupt) -> str:
    """ "SIGTERM" when the main plugin turned a SIGTERM into this interrupt, else Ctrl-C."""
    return "SIGTERM (a cancelled job)" if interrupt.args == ("SIGTERM",) else "Ctrl-C (SIGINT)"


def marks_for(nodeid: str, kwargs: Mapping[str, Any]) -> list[pytest.MarkDecorator]:
    """allure-pytest marks for a ``chaos`` marker's kwargs, validated with errors that
    name the test, the field, the value and what is allowed."""
    where = f"{nodeid}: @pytest.mark.chaos"
    for name in _TEXT_FIELDS:
        value = kwargs.get(name)
        if value is not None and not isinstance(value, str):
            raise pytest.UsageError(f"{where}({name}={value!r}): {name} must be a string")
    severity = kwargs.get("severity", "normal")
    if severity not in SEVERITIES:
        raise pytest.UsageError(f"{where}(severity={severity!r}): severity must be one of {', '.join(SEVERITIES)}")
    marks = [_label("severity", severity)]
    marks += [_label("tag", tag) for tag in _tags(where, kwargs.get("tags", ()))]
    if kwargs.get("feature"):
        marks.append(_label("feature", kwargs["feature"]))
    if kwargs.get("story"):
        marks.append(_label("story", kwargs["story"]))
    if kwargs.get("hypothesis"):
        marks.append(pytest.mark.allure_description(f"Hypothesis: {kwargs['hypothesis']}"))
    return marks


def _tags(where: str, tags: Any) -> Iterator[str]:
    values: Iterable[Any] = (tags,) if isinstance(tags, str) else tags
    try:
        values = list(values)
    except TypeError:
        raise pytest.UsageError(f"{where}(tags={tags!r}): tags must be a string or a list of strings") from None
    for tag in values:
        if not isinstance(tag, str):
            raise pytest.UsageError(f"{where}(tags={tags!r}): tags must be a string or a list of strings")
        yield tag


def _label(label_type: str, value: str) -> pytest.MarkDecorator:
    return pytest.mark.allure_label(value, label_type=label_type)


def _options(config: pytest.Config) -> ChaosOptions | None:
    """The run's resolved --chaos-* options, as the main plugin stashed them."""
    return config.stash.get(OPTIONS, None)
