"""Observation: what happened to every event (History), when faults were on (Timeline),
and the recorder that builds the History from Kafka, the services' logs and Redis."""

from chaoskit.observe.history import NO_TRACE, Columns, History, HistoryFormatError, Kind, Observation, is_effect
from chaoskit.observe.logs import LogRead, UnparseableLine, observation_from_log_line, read_logs
from chaoskit.observe.recorder import Recorder, RecorderStats, reconcile
from chaoskit.observe.redis_state import State, read_state
from chaoskit.observe.timeline import FaultWindow, Timeline
from chaoskit.observe.topic_records import Record, Topics, UnparseableRecord, observation_from_record

__all__ = [
    "NO_TRACE",
    "Columns",
    "FaultWindow",
    "History",
    "HistoryFormatError",
    "Kind",
    "LogRead",
    "Observation",
    "Record",
    "Recorder",
    "RecorderStats",
    "State",
    "Timeline",
    "Topics",
    "UnparseableLine",
    "UnparseableRecord",
    "is_effect",
    "observation_from_log_line",
    "observation_from_record",
    "read_logs",
    "read_state",
    "reconcile",
]
