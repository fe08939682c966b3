"""Ctrl-C (and a SIGTERM turned into one) is held back while a fault changes the system.

A KeyboardInterrupt raised half-way through an inject or a heal would leave a fault
half-applied (one of two toxics added, a proxy disabled but not counted) or half-healed.
While :func:`deferred_interrupts` is active on the main thread, SIGINT and SIGTERM are only
noted if a Python handler would have turned them into an exception (Python's own SIGINT
handler, the pytest plugin's SIGTERM handler); when the step is done, that handler runs.
A SIGTERM with its default action still ends the process at once: that is not deferred.
Other threads never receive KeyboardInterrupt, so there is nothing to defer there.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

Handler = Callable[[int, FrameType | None], object]
_depth = 0


def _python_handlers() -> dict[signal.Signals, Handler]:
    found = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if callable(handler):
            found[signum] = handler
    return found


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends; re-entrant (only the outermost block delivers)."""
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _depth:
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
        return

    received: list[tuple[int, FrameType | None]] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append((signum, frame))

    previous = _python_handlers()
    for signum in previous:
        signal.signal(signum, note)
    _depth = 1
    try:
        yield
    finally:
        _depth = 0
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            first, frame = received[0]
            previous[signal.Signals(first)](first, frame)
