"""Faults: network faults through Toxiproxy, process faults through the runtime.

``Faults(runtime, timeline)`` builds them; each is a ``Fault`` (``with fault:``,
``inject()``/``heal()``, or a step in a schedule). ``toxiproxy.py`` is the one adapter over
the Toxiproxy HTTP API, which the runtime uses too.
"""

from chaoskit.faults.factory import Faults
from chaoskit.faults.fault import Fault, HealError
from chaoskit.faults.params import TargetError
from chaoskit.faults.schedule import Schedule, ScheduleError, Step

__all__ = ["Fault", "Faults", "HealError", "Schedule", "ScheduleError", "Step", "TargetError"]
