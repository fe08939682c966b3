"""Ctrl-C is held back while a fault changes the system.

A KeyboardInterrupt raised half-way through an inject or a heal would leave a fault
half-applied (one of two toxics added, a proxy disabled but not counted) or half-healed.
While :func:`deferred_interrupts` is active on the main thread, SIGINT is only noted; when
the step is done, the previous handler runs (by default: KeyboardInterrupt is raised).
Other threads cannot receive KeyboardInterrupt, so there is nothing to defer there.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from types import FrameType
from typing import Iterator

_depth = 0


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT until the block ends; re-entrant (only the outermost block delivers)."""
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

    received: list[FrameType | None] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(frame)

    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, note)
    _depth = 1
    try:
        yield
    finally:
        _depth = 0
        signal.signal(signal.SIGINT, previous)
        if received:
            if callable(previous):
                previous(signal.SIGINT, received[0])
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt
