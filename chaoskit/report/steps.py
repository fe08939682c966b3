"""Allure steps that cost nothing when no report is being collected.

Experiments and framework code call these unconditionally; without ``--alluredir``
allure-pytest registers no listener, so the calls fall through to no hook
implementations, and outside a running test the listener files them as orphans.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import allure
from allure_commons import plugin_manager


def collecting() -> bool:
    """Whether an Allure listener is recording (``--alluredir`` was given).

    Lets callers skip expensive work (plots, log cutting) whose only use is the report.
    """
    return bool(plugin_manager.hook.attach_data.get_hookimpls())


@contextmanager
def step(title: str, **params: Any) -> Iterator[None]:
    """``with step("inject latency", target="workflow-service->kafka", ms=500): ...``

    The keyword arguments become the step's parameters in the report (shown as text).
    An exception inside the block marks the step failed (AssertionError) or broken
    (anything else) and propagates unchanged.
    """
    context = allure.step(title)
    context.params.update({name: _text(value) for name, value in params.items()})
    with context:
        yield


def failed_step(title: str, explanation: str = "", **params: Any) -> None:
    """Record a step that failed without failing the test now.

    Allure takes a step's status from the exception leaving it, so a failed check is
    shown red by raising an AssertionError inside the step and catching it outside;
    the test's own verdict stays with the experiment, which asserts on its checks.
    """
    try:
        with step(title, **params):
            raise AssertionError(explanation or title)
    except AssertionError:
        pass


def broken_step(title: str, explanation: str = "", **params: Any) -> None:
    """Record a step that could not decide (shown broken, not failed and never passed)."""
    try:
        with step(title, **params):
            raise Undecided(explanation or title)
    except Undecided:
        pass


class Undecided(Exception):
    """Raised inside a step only to mark it broken: a check whose evidence could not decide."""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)
