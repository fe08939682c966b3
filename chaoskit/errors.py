"""The exceptions chaoskit raises on purpose.

Every error a user can cause (a bad topology, a bad fault parameter, a missing tool) is a
``ChaoskitError`` whose message is one paragraph naming the field, the value and what is
allowed, so the CLI and the pytest plugin can print it instead of a traceback.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import NoReturn


class ChaoskitError(Exception):
    """Base class: an error with a message fit to show a user as is."""


class ConfigError(ChaoskitError, ValueError):
    """Bad input: topology, fault parameters, schedules, CLI flags or gate policies."""


class MissingToolError(ChaoskitError):
    """A tool chaoskit needs (java, mvn, go, apt-get, ...) is not installed."""


class ComponentStartError(ChaoskitError):
    """A component of the environment did not become healthy; carries its log tail."""

    def __init__(self, component: str, reason: str, log_tail: str = "") -> None:
        self.component = component
        self.reason = reason
        self.log_tail = log_tail
        text = f"{component} failed to start: {reason}"
        if log_tail:
            text += f"\n--- last lines of the {component} log ---\n{log_tail}"
        super().__init__(text)


class BlastRadiusError(ChaoskitError):
    """A fault, load or probe was aimed at something outside the environment's topology."""


class ExperimentInterrupted(ChaoskitError):
    """An experiment was stopped before it could reach a verdict (Ctrl-C, SIGTERM from a
    cancelled CI job, its time budget). Its result is broken, never passed: nothing was
    decided, whatever the checks that did run said."""


class ExperimentInconclusive(ChaoskitError):
    """An experiment ran to its end but proved nothing: its fault did not provoke what the
    hypothesis needs, or the evidence could not decide (no acknowledgement, a record the
    contract does not fit). Never a pass; a required one holds the release."""


class ExperimentTimeout(ExperimentInterrupted):
    """An experiment ran past its time budget; it was stopped, its faults healed."""


def did_you_mean(name: str, allowed: Iterable[str], cutoff: float = 0.6) -> str:
    """``" (did you mean 'latency'?)"`` when ``name`` is close to one of ``allowed``, else "".

    A refused name is usually a typo of an allowed one; naming the likely intent saves the
    reader from scanning the whole list. ``difflib``'s default cutoff keeps far-off guesses
    out; a short list of short names (a call's parameters) can afford a lower one.
    """
    close = difflib.get_close_matches(name, list(allowed), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def exit_from(run: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None, prog: str) -> NoReturn:
    """A command line's ``main``: run it, print a ChaoskitError as its one paragraph (exit 2,
    never a traceback), Ctrl-C as exit 130."""
    try:
        code = run(argv)
    except ChaoskitError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
