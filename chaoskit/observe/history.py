"""The History: every observation of every event, the one input all checks judge.

An observation is ``(time, event_id, trace_id, kind, where, detail)``: at ``time`` (unix
epoch seconds) the event ``event_id`` reached ``kind`` at ``where`` (a service, a topic
or ``"load"``), with a small ``detail`` dict (attempt, error, version, key, offset...).

Why the layout is columnar: a long experiment records a million events, six or more
observations each, and the verdict must not wait on the record. So observations are
stored per kind as parallel lists ("columns"), and so are their detail fields; event
ids and places are stored once in symbol tables and referenced by number; an event's
trace id is stored once with the event, and per observation only where it differs (a
DLQ record that lost its trace, say). The checks read whole columns of one kind
(``select``) at C speed; saving and loading move large JSON arrays through orjson, and
a loaded file parses each part only when something first reads it, so a check that
needs three kinds never pays for the other seven. Iteration, ``for_event``,
``for_trace`` and ``for_key`` give the human-scale view, in time order.

File format (JSON lines, written by ``save``, read by ``load``)::

    {"format": "chaoskit.history", "version": 1, "observations": N}
    {"symbols": "trace_id", "rows": n}                 a description line, then its data:
    {"values": [...]}
    {"symbols": "event_id", "rows": n}
    {"values": [...], "trace": [trace number per event]}
    {"symbols": "where", "rows": n}
    {"values": [...]}
    {"block": "acked", "rows": n, "first": t, "last": t}
    {"time": [...], "event": [...], "where": [...], "trace_at": [row...], "trace": [...],
     "detail": {"field": [value | null, ...]}}

Symbol tables come before the blocks that refer to them and may span several line
pairs, each extending the table; a number is an index into its table. A kind's blocks
are in time order; ``trace_at`` lists the block rows whose trace differs from their
event's own.
"""

from __future__ import annotations

import gc
import heapq
import itertools
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from chaoskit.errors import ChaoskitError

FORMAT = "chaoskit.history"
VERSION = 1
_BLOCK_ROWS = 100_000


class Kind(StrEnum):
    """The points of an event's life, in the order a healthy event passes them."""

    PRODUCED = "produced"
    ACKED = "acked"
    CONSUMED = "consumed"
    ATTEMPTED = "attempted"
    FAILED = "failed"
    DEAD_LETTERED = "dead-lettered"
    REDRIVEN = "redriven"
    APPLIED = "applied"
    ALERTED = "alerted"
    COMMITTED = "committed"


KINDS: tuple[Kind, ...] = tuple(Kind)
_LIFECYCLE = {kind: code for code, kind in enumerate(KINDS)}


class Observation(NamedTuple):
    time: float
    event_id: str
    trace_id: str | None
    kind: Kind
    where: str
    detail: Mapping[str, Any]


def is_effect(detail: Mapping[str, Any] | None) -> bool:
    """Whether an ``applied`` observation changed state: all do unless their detail says
    ``applied: false`` (a no-op: a duplicate delivery, or a version already superseded)."""
    return not detail or detail.get("applied", True) is not False


class HistoryFormatError(ChaoskitError, ValueError):
    """A history file that ``History`` cannot read; names the file and the line."""


class _Deferred(NamedTuple):
    """A data line of a loaded file, kept as bytes until something reads it."""

    path: str
    number: int
    raw: bytes
    rows: int

    def parse(self) -> dict[str, Any]:
        try:
            body = orjson.loads(self.raw)
        except orjson.JSONDecodeError as exc:
            raise self.error(f"not JSON ({exc})") from None
        if not isinstance(body, dict):
            raise self.error("not a JSON object")
        return body

    def error(self, text: str) -> HistoryFormatError:
        return HistoryFormatError(f"{self.path}: line {self.number}: {text}")


class _Symbols:
    """A table of distinct values referred to by number; for events, also each one's trace."""

    def __init__(self, traces: _Symbols | None = None) -> None:
        self._values: list[Any] = []
        self._traces: list[int] = []  # event table only: the trace number each event came with
        self._trace_table = traces
        self._index: dict[Any, int] | None = {}
        self._deferred: list[_Deferred] = []
        self._deferred_rows = 0

    def __len__(self) -> int:
        return len(self._values) + self._deferred_rows

    @property
    def values(self) -> list[Any]:
        self._parse()
        return self._values

    @property
    def traces(self) -> list[int]:
        self._parse()
        return self._traces

    def ref(self, value: Any, trace: int = -1) -> tuple[int, bool]:
        """The value's number, and whether it is new (a new event records ``trace``)."""
        if self._index is None:
            self._index = dict(zip(self.values, range(len(self.values))))
        ref = self._index.get(value)
        if ref is not None:
            return ref, False
        ref = self._index[value] = len(self._values)
        self._values.append(value)
        if self._trace_table is not None:
            self._traces.append(trace)
        return ref, True

    def refs_of(self, wanted: Collection[Any]) -> set[int]:
        """Numbers of the wanted values, by one C-speed scan (no reverse index needed)."""
        return set(itertools.compress(range(len(self.values)), map(wanted.__contains__, self.values)))

    def defer(self, line: _Deferred) -> None:
        self._deferred.append(line)
        self._deferred_rows += line.rows

    def _parse(self) -> None:
        if not self._deferred:
            return
        lines, self._deferred, self._deferred_rows = self._deferred, [], 0
        with _no_gc():
            for line in lines:
                body = line.parse()
                values = body.get("values")
                if not isinstance(values, list) or len(values) != line.rows:
                    raise line.error(f"expected a list of {line.rows} values")
                if self._trace_table is not None:
                    traces = body.get("trace")
                    if not isinstance(traces, list) or len(traces) != line.rows or max(traces, default=-1) >= len(self._trace_table):
                        raise line.error("event traces do not match the events or the trace table")
                    self._traces += traces
                self._values += values
        self._index = None


class _KindColumns:
    """The stored observations of one kind."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.time: list[float] = []
        self.event: list[int] = []
        self.where: list[int] = []
        self.traces: dict[int, int] = {}  # row -> trace number, where it differs from the event's
        self.fields: dict[str, list[Any]] = {}  # detail field -> value per row (None: absent)
        self.ordered = True
        self.deferred: list[tuple[_Deferred, float, float]] = []  # (line, first, last time)

    def __len__(self) -> int:
        return len(self.time) + sum(line.rows for line, _, _ in self.deferred)

    def span(self) -> tuple[float, float] | None:
        firsts = self.time[:1] + [first for _, first, _ in self.deferred]
        lasts = self.time[-1:] + [last for _, _, last in self.deferred]
        return (min(firsts), max(lasts)) if firsts else None

    def parse(self, history: History) -> None:
        """Parse the deferred blocks, checking they fit the symbol tables."""
        lines, self.deferred = self.deferred, []
        with _no_gc():
            for line, _, _ in lines:
                self._add_block(line, line.parse(), history)

    def sort(self) -> None:
        """Restore time order after out-of-order appends (stable: ties keep append order)."""
        if self.ordered:
            return
        order = sorted(range(len(self.time)), key=self.time.__getitem__)
        self.time = [self.time[i] for i in order]
        self.event = [self.event[i] for i in order]
        self.where = [self.where[i] for i in order]
        self.fields = {name: [column[i] for i in order] for name, column in self.fields.items()}
        if self.traces:
            new_row = {old: new for new, old in enumerate(order)}
            self.traces = {new_row[old]: ref for old, ref in self.traces.items()}
        self.ordered = True

    def _add_block(self, line: _Deferred, block: dict[str, Any], history: History) -> None:
        try:
            times, events, wheres = block["time"], block["event"], block["where"]
            trace_rows, traces = block.get("trace_at", []), block.get("trace", [])
            detail: dict[str, list[Any]] = block.get("detail", {})
        except KeyError as exc:
            raise line.error(f"the {self.kind} block lacks {exc}") from None
        rows = line.rows
        if any(len(c) != rows for c in (times, events, wheres, *detail.values())) or len(trace_rows) != len(traces):
            raise line.error(f"the {self.kind} block's columns are not all {rows} rows long")
        if (
            max(events, default=-1) >= len(history._events)
            or max(wheres, default=-1) >= len(history._wheres)
            or max(traces, default=-1) >= len(history._traces)
        ):
            raise line.error(f"the {self.kind} block refers to a symbol not defined on an earlier line")
        start = len(self.time)
        if start and rows and times[0] < self.time[-1]:
            self.ordered = False
        self.time += times
        self.event += events
        self.where += wheres
        self.traces.update(zip((start + r for r in trace_rows), traces))
        for name in detail.keys() - self.fields.keys():
            self.fields[name] = [None] * start
        for name, column in self.fields.items():
            column += detail.get(name) or itertools.repeat(None, rows)


class Columns:
    """Observations of one kind as parallel lists in time order: the checks' fast path.

    ``event`` holds event numbers, dense ints standing for ``history.event_ids()[n]``:
    sets and counts over a million of them cost a fraction of the same over strings.
    The lists are shared by every reader of this selection: treat them as read-only.
    """

    def __init__(self, history: History, kind: Kind) -> None:
        self._history = history
        self._columns = history._sorted(kind)
        self.time: list[float] = list(self._columns.time)
        self.event: list[int] = list(self._columns.event)
        self._derived: dict[str, list[Any]] = {}

    def __len__(self) -> int:
        return len(self.time)

    @property
    def event_id(self) -> list[str]:
        return self._derive("event_id", lambda: list(map(self._history._events.values.__getitem__, self.event)))

    @property
    def trace_id(self) -> list[str | None]:
        def build() -> list[str | None]:
            refs = list(map(self._history._events.traces.__getitem__, self.event))
            for row, ref in self._columns.traces.items():
                refs[row] = ref
            return list(map(self._history._traces.values.__getitem__, refs))

        return self._derive("trace_id", build)

    @property
    def where(self) -> list[str]:
        return self._derive("where", lambda: list(map(self._history._wheres.values.__getitem__, self._columns.where)))

    def field(self, name: str) -> list[Any]:
        """One detail field per observation (None where the observation lacks it)."""
        column = self._columns.fields.get(name)
        return self._derive(f"detail.{name}", lambda: list(column) if column is not None else [None] * len(self.time))

    def _derive(self, name: str, build: Any) -> list[Any]:
        if name not in self._derived:
            self._derived[name] = build()
        return self._derived[name]


class History:
    """An append-only record of observations; iteration and lookups are in time order."""

    def __init__(self, observations: Iterable[Observation] = ()) -> None:
        self._columns: dict[Kind, _KindColumns] = {kind: _KindColumns(kind) for kind in KINDS}
        self._traces = _Symbols()
        self._events = _Symbols(traces=self._traces)
        self._wheres = _Symbols()
        self._selected: dict[Kind, Columns] = {}
        self._by_event: dict[str, list[Observation]] | None = None
        self._by_trace: dict[str | None, list[Observation]] | None = None
        self._keys: dict[str, str] | None = None
        for observation in observations:
            self.append(*observation)

    # -- recording ---------------------------------------------------------------

    def append(
        self,
        time: float,
        event_id: str,
        trace_id: str | None,
        kind: Kind | str,
        where: str,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one observation. Appends may arrive out of time order (several sources).

        Detail fields whose value is None are not stored: None means "absent".
        """
        columns = self._sorted(Kind(kind))
        row = len(columns.time)
        if row and time < columns.time[-1]:
            columns.ordered = False
        trace, _ = self._traces.ref(trace_id)
        event, new_event = self._events.ref(event_id, trace)
        if not new_event and trace != self._events.traces[event]:
            columns.traces[row] = trace
        columns.time.append(float(time))
        columns.event.append(event)
        columns.where.append(self._wheres.ref(where)[0])
        detail = detail or {}
        for name in detail.keys() - columns.fields.keys():
            if detail[name] is not None:
                columns.fields[name] = [None] * row
        for name, column in columns.fields.items():
            column.append(detail.get(name))
        self._selected.pop(columns.kind, None)
        self._by_event = self._by_trace = self._keys = None

    # -- reading -----------------------------------------------------------------

    def __len__(self) -> int:
        return sum(map(len, self._columns.values()))

    def __iter__(self) -> Iterator[Observation]:
        """All observations in time order; ties in lifecycle order, then append order."""
        streams = []
        for code, kind in enumerate(KINDS):
            columns = self._sorted(kind)
            streams.append(zip(columns.time, itertools.repeat(code), range(len(columns.time))))
        for _, code, row in heapq.merge(*streams):
            yield self._observation(KINDS[code], row)

    def span(self) -> tuple[float, float] | None:
        """(first, last) observation time, or None for an empty history."""
        spans = [s for s in (c.span() for c in self._columns.values()) if s is not None]
        return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None

    def event_ids(self) -> list[str]:
        """Every event id observed, in order of first appearance; ``Columns.event`` indexes it."""
        return list(self._events.values)

    def count(self, kind: Kind) -> int:
        return len(self._columns[kind])

    def select(self, kind: Kind) -> Columns:
        """The observations of one kind as columns, in time order (shared: read-only)."""
        if kind not in self._selected:
            self._selected[kind] = Columns(self, kind)
        return self._selected[kind]

    def for_event(self, event_id: str) -> list[Observation]:
        """The event's observations in time order (empty if never observed)."""
        return list(self._event_index().get(event_id, ()))

    def for_events(self, event_ids: Collection[str]) -> dict[str, list[Observation]]:
        """Observations of some events, found by one scan instead of a full index.

        The checks explain a few thousand offenders in histories of millions of
        observations; building the whole per-event index for that would cost more than
        the verdict itself.
        """
        if self._by_event is not None or not event_ids:
            return {e: list(self._event_index().get(e, ())) for e in event_ids}
        found = self._group(self._events.refs_of(set(event_ids)))
        return {e: found.get(e, []) for e in event_ids}

    def traces_of(self, event_ids: Collection[str]) -> dict[str, str | None]:
        """The trace id each event was first recorded with (events never seen are left out)."""
        events, traces = self._events.values, self._traces.values
        return {events[ref]: traces[self._events.traces[ref]] for ref in self._events.refs_of(set(event_ids))}

    def for_trace(self, trace_id: str) -> list[Observation]:
        """Observations carrying this trace id, in time order (a request's whole story)."""
        if self._by_trace is None:
            by_trace: dict[str | None, list[Observation]] = {}
            for observations in self._event_index().values():
                for observation in observations:
                    by_trace.setdefault(observation.trace_id, []).append(observation)
            for observations in by_trace.values():
                observations.sort(key=_order)
            self._by_trace = by_trace
        return list(self._by_trace.get(trace_id, ()))

    def key_of(self, event_id: str) -> str | None:
        """The entity key of an event: the first ``detail["key"]`` recorded for it."""
        return self._key_map().get(event_id)

    def for_key(self, key: str) -> list[Observation]:
        """Observations of every event on this entity key, in time order."""
        index = self._event_index()
        events = [e for e, k in self._key_map().items() if k == key]
        return sorted((o for e in events for o in index.get(e, ())), key=_order)

    # -- files -------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the history as JSON lines (format in the module docstring)."""
        with open(path, "wb") as out:

            def write(description: dict[str, Any], data: dict[str, Any]) -> None:
                out.write(orjson.dumps(description) + b"\n" + orjson.dumps(data) + b"\n")

            out.write(orjson.dumps({"format": FORMAT, "version": VERSION, "observations": len(self)}) + b"\n")
            for name, table in (("trace_id", self._traces), ("event_id", self._events), ("where", self._wheres)):
                for start in range(0, len(table), _BLOCK_ROWS):
                    values = table.values[start : start + _BLOCK_ROWS]
                    data: dict[str, Any] = {"values": values}
                    if table is self._events:
                        data["trace"] = table.traces[start : start + _BLOCK_ROWS]
                    write({"symbols": name, "rows": len(values)}, data)
            for kind in KINDS:
                columns = self._sorted(kind)
                for start in range(0, len(columns.time), _BLOCK_ROWS):
                    times = columns.time[start : start + _BLOCK_ROWS]
                    description = {"block": kind.value, "rows": len(times), "first": times[0], "last": times[-1]}
                    write(description, _block(columns, start, start + _BLOCK_ROWS))

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a file written by ``save``. Its data lines are parsed when first read, so
        a malformed one raises HistoryFormatError then; the structure is checked now."""
        history = cls()
        header: dict[str, Any] | None = None
        awaiting: tuple[Any, dict[str, Any]] | None = None  # (target, description) of the next data line
        with open(path, "rb") as source:
            for number, raw in enumerate(source, start=1):
                if not raw.strip():
                    continue
                if awaiting is not None:
                    target, description = awaiting
                    line = _Deferred(str(path), number, raw, description["rows"])
                    if isinstance(target, _Symbols):
                        target.defer(line)
                    else:
                        target.deferred.append((line, description["first"], description["last"]))
                    awaiting = None
                    continue
                try:
                    record = orjson.loads(raw)
                    if header is None:
                        header = _check_header(record)
                    else:
                        awaiting = (history._target(record), record)
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                    raise HistoryFormatError(f"{path}: line {number}: {exc}") from None
        expected = header.get("observations") if header else None
        if header is None or awaiting is not None or expected != len(history):
            found = "no header" if header is None else f"{len(history)} of {expected} observations"
            raise HistoryFormatError(f"{path}: truncated or incomplete history file ({found})")
        return history

    # -- internals ---------------------------------------------------------------

    def _target(self, description: dict[str, Any]) -> _Symbols | _KindColumns:
        """Where the data line after this description goes; checks the description."""
        if not isinstance(description.get("rows"), int) or description["rows"] < 0:
            raise ValueError(f"a description line needs a row count, got {description.get('rows')!r}")
        if "symbols" in description:
            tables = {"trace_id": self._traces, "event_id": self._events, "where": self._wheres}
            if description["symbols"] not in tables:
                raise ValueError(f"unknown symbol table {description['symbols']!r}; tables are {list(tables)}")
            return tables[description["symbols"]]
        if "block" in description:
            if not all(isinstance(description.get(name), (int, float)) for name in ("first", "last")):
                raise ValueError("a block description needs its first and last times")
            return self._columns[Kind(description["block"])]
        raise ValueError("expected a symbol table or block description")

    def _event_index(self) -> dict[str, list[Observation]]:
        if self._by_event is None:
            self._by_event = self._group(None)
        return self._by_event

    def _sorted(self, kind: Kind) -> _KindColumns:
        columns = self._columns[kind]
        if columns.deferred:
            columns.parse(self)
        columns.sort()
        return columns

    def _observation(self, kind: Kind, row: int) -> Observation:
        columns = self._columns[kind]
        event = columns.event[row]
        trace = columns.traces.get(row, self._events.traces[event])
        detail = {name: column[row] for name, column in columns.fields.items() if column[row] is not None}
        return Observation(
            columns.time[row],
            self._events.values[event],
            self._traces.values[trace],
            kind,
            self._wheres.values[columns.where[row]],
            detail,
        )

    def _group(self, refs: set[int] | None) -> dict[str, list[Observation]]:
        """Observations per event id, for all events (refs None) or only the given refs."""
        grouped: dict[str, list[Observation]] = {}
        for kind in KINDS:
            columns = self._sorted(kind)
            rows: Iterable[int] = range(len(columns.event))
            if refs is not None:
                rows = itertools.compress(rows, map(refs.__contains__, columns.event))
            for row in rows:
                observation = self._observation(kind, row)
                grouped.setdefault(observation.event_id, []).append(observation)
        for observations in grouped.values():
            observations.sort(key=_order)
        return grouped

    def _key_map(self) -> dict[str, str]:
        if self._keys is None:
            keys: dict[str, str] = {}
            events = self._events.values
            for kind in KINDS:
                columns = self._sorted(kind)
                for ref, key in zip(columns.event, columns.fields.get("key", ())):
                    if key is not None:
                        keys.setdefault(events[ref], str(key))
            self._keys = keys
        return self._keys


def _order(observation: Observation) -> tuple[float, int]:
    """Time order; at equal times, lifecycle order (acked before applied)."""
    return observation.time, _LIFECYCLE[observation.kind]


def _block(columns: _KindColumns, start: int, end: int) -> dict[str, Any]:
    trace_rows = sorted(r for r in columns.traces if start <= r < end)
    return {
        "time": columns.time[start:end],
        "event": columns.event[start:end],
        "where": columns.where[start:end],
        "trace_at": [r - start for r in trace_rows],
        "trace": [columns.traces[r] for r in trace_rows],
        "detail": {name: column[start:end] for name, column in columns.fields.items()},
    }


def _check_header(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"not a chaoskit history header (format {FORMAT!r})")
    if record.get("version") != VERSION:
        raise ValueError(f"history format version {record.get('version')!r}; this chaoskit reads version {VERSION}")
    return record


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC while parsing: millions of fresh objects would trigger
    repeated full collections that can free nothing (every object is reachable)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
