"""The History: every observation of every event, the one input all checks judge.

An observation is ``(time, event_id, trace_id, kind, where, detail)``: at ``time`` (unix
epoch seconds) the event ``event_id`` reached ``kind`` at ``where`` (a service, a topic
or ``"load"``), with a small ``detail`` dict (attempt, error, version, key, offset...).

Why the layout is columnar: a long experiment records a million events, six or more
observations each, and the verdict must not wait on the record. So observations are
stored per kind as parallel lists ("columns"), and so are their detail fields; event
ids, trace ids and places are stored once in symbol tables and referred to by number;
an event's trace is stored once with the event, and per observation only where it
differs (a DLQ record that lost its trace, say). The checks read whole columns of one
kind (``select``) at C speed. A saved file holds each column of each block on its own
JSON line, and a loaded file parses a column only when something first reads it, so a
check that needs three columns of two kinds never pays for the other forty.
Iteration, ``for_event``, ``for_trace`` and ``for_key`` give the human-scale view.

File format (JSON lines, written by ``save``, read by ``load``)::

    {"format": "chaoskit.history", "version": 1, "observations": N}
    {"symbols": "trace_id", "rows": n}          a description line, then its data line:
    [null, "9c1f...", ...]                      trace number 0 is "no trace id"
    {"symbols": "event_id", "rows": n}
    ["3f2a...", ...]
    {"symbols": "event_trace", "rows": n}       the trace number of each event
    [1, ...]
    {"symbols": "where", "rows": n}
    ["load", "documents.requested", ...]
    {"block": "acked", "rows": n, "first": t, "last": t, "overrides": k,
     "columns": ["time", "event", "where", "trace_at", "trace", "detail.key", ...],
     "encoded": ["detail.key"]}
    [1800000000.002, ...]                       one data line per listed column
    ...

Symbol lines extend their table and come before the blocks that refer to them. A
kind's blocks are in time order; ``trace_at`` (the kind's row numbers) and ``trace``
list the ``overrides`` rows whose trace differs from their event's. An encoded column
(text repeated across rows, like entity keys) is written ``[distinct values, numbers]``.
"""

from __future__ import annotations

import gc
import heapq
import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from chaoskit.errors import ChaoskitError

FORMAT = "chaoskit.history"
VERSION = 1
_BLOCK_ROWS = 100_000
_BASE = ("time", "event", "where")
NO_TRACE = 0  # the trace number of "no trace id": every trace table starts with it


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
    """A data line of a loaded file (a JSON array), kept as a slice until first read."""

    path: str
    number: int
    raw: memoryview

    def parse(self) -> list[Any]:
        try:
            values = orjson.loads(self.raw)
        except orjson.JSONDecodeError as exc:
            raise self.error(f"not JSON ({exc})") from None
        if not isinstance(values, list):
            raise self.error("a data line must be a JSON array")
        return values

    def error(self, text: str) -> HistoryFormatError:
        return HistoryFormatError(f"{self.path}: line {self.number}: {text}")


Check = Callable[[list[Any], int], "str | None"]  # (values, first row) -> what is wrong


class _Lazy:
    """A column: the values parsed so far, then data lines not parsed yet.

    The first read parses every pending line in order; a pending run without a line
    (a block that lacks this detail field) reads as that many Nones. An encoded line
    holds ``[distinct values, numbers]``: text repeated across rows (entity keys,
    errors) is parsed once and shared, so later set and dict work hashes it once.
    """

    __slots__ = ("_check", "_pending", "_pending_rows", "_values")

    def __init__(self, check: Check | None = None) -> None:
        self._values: list[Any] = []
        self._pending: list[tuple[_Deferred | None, int, bool]] = []
        self._pending_rows = 0
        self._check = check

    def __len__(self) -> int:
        return len(self._values) + self._pending_rows

    def defer(self, line: _Deferred | None, rows: int, encoded: bool = False) -> None:
        if rows:
            self._pending.append((line, rows, encoded))
            self._pending_rows += rows

    @property
    def values(self) -> list[Any]:
        if self._pending:
            pending, self._pending, self._pending_rows = self._pending, [], 0
            with _no_gc():
                for line, rows, encoded in pending:
                    if line is None:
                        self._values += itertools.repeat(None, rows)
                    else:
                        self._values += self._parse(line, rows, encoded)
        return self._values

    def _parse(self, line: _Deferred, rows: int, encoded: bool) -> list[Any]:
        values = line.parse()
        if encoded:
            if len(values) != 2 or not all(isinstance(part, list) for part in values):
                raise line.error("an encoded column must be [distinct values, numbers]")
            distinct, numbers = values
            if numbers and (min(numbers) < 0 or max(numbers) >= len(distinct)):
                raise line.error("an encoded column refers past its distinct values")
            values = list(map(distinct.__getitem__, numbers))
        if len(values) != rows:
            raise line.error(f"expected {rows} values, found {len(values)}")
        problem = self._check(values, len(self._values)) if self._check is not None else None
        if problem:
            raise line.error(problem)
        return values


def _refs_into(table: Any) -> Check:
    """A check that every value is the number of an entry of ``table`` (anything sized)."""

    def check(values: list[Any], _: int) -> str | None:
        if values and (min(values) < 0 or max(values) >= len(table)):
            return "refers to a symbol not defined on an earlier line"
        return None

    return check


def _starts_with_no_trace(values: list[Any], first_row: int) -> str | None:
    return "the trace table must start with null (no trace id)" if first_row == 0 and values[:1] != [None] else None


class _Symbols:
    """A table of distinct values referred to by number; the reverse index is built on demand."""

    def __init__(self, check: Check | None = None) -> None:
        self.column = _Lazy(check)
        self._index: dict[Any, int] | None = {}

    def __len__(self) -> int:
        return len(self.column)

    @property
    def values(self) -> list[Any]:
        return self.column.values

    def ref(self, value: Any) -> tuple[int, bool]:
        """The value's number, and whether it is new."""
        ref = self.number(value)
        if ref is not None:
            return ref, False
        assert self._index is not None  # built by number()
        ref = self._index[value] = len(self.values)
        self.values.append(value)
        return ref, True

    def number(self, value: Any) -> int | None:
        """The value's number, or None if the table does not hold it."""
        if self._index is None:
            self._index = dict(zip(self.values, range(len(self.values))))
        return self._index.get(value)

    def defer(self, line: _Deferred, rows: int) -> None:
        self.column.defer(line, rows)
        self._index = None

    def refs_of(self, wanted: Collection[Any]) -> set[int]:
        """Numbers of the wanted values, by one C-speed scan (no reverse index needed)."""
        return set(itertools.compress(range(len(self.values)), map(wanted.__contains__, self.values)))


class _KindColumns:
    """The stored observations of one kind: base columns, trace overrides, detail fields."""

    def __init__(self, kind: Kind, history: History) -> None:
        self.kind = kind
        self.rows = 0
        self.base = {
            "time": _Lazy(),
            "event": _Lazy(_refs_into(history._events)),
            "where": _Lazy(_refs_into(history._wheres)),
        }
        self.trace_at = _Lazy()
        self.trace = _Lazy(_refs_into(history._traces))
        self.fields: dict[str, _Lazy] = {}
        self._overrides: dict[int, int] | None = None
        self.first: float | None = None
        self.last: float | None = None
        self.ordered = True

    @property
    def time(self) -> list[float]:
        return self.base["time"].values

    @property
    def event(self) -> list[int]:
        return self.base["event"].values

    @property
    def where(self) -> list[int]:
        return self.base["where"].values

    def overrides(self) -> dict[int, int]:
        """Row → trace number, for the rows whose trace differs from their event's."""
        if self._overrides is None:
            self._overrides = dict(zip(self.trace_at.values, self.trace.values))
        return self._overrides

    def field(self, name: str) -> list[Any] | None:
        column = self.fields.get(name)
        return column.values if column is not None else None

    def add_block(self, description: Mapping[str, Any], lines: Mapping[str, _Deferred]) -> None:
        """Take a loaded block's data lines, unparsed; raises ValueError if it is malformed."""
        rows, overrides = description["rows"], description.get("overrides", 0)
        first, last = float(description["first"]), float(description["last"])
        for name in _BASE:
            self.base[name].defer(lines[name], rows)
        if overrides:
            self.trace_at.defer(lines["trace_at"], overrides)
            self.trace.defer(lines["trace"], overrides)
        names = {n.removeprefix("detail.") for n in lines if n.startswith("detail.")}
        encoded = set(description.get("encoded", ()))
        for name in names - self.fields.keys():
            self.fields[name] = _Lazy()
            self.fields[name].defer(None, self.rows)
        for name, column in self.fields.items():
            column.defer(lines.get(f"detail.{name}"), rows, f"detail.{name}" in encoded)
        self._extend_span(first, last)
        self.rows += rows
        self._overrides = None

    def append(self, time: float, event: int, where: int, trace: int | None, detail: Mapping[str, Any]) -> None:
        self.parse_all()
        row = self.rows
        self.time.append(time)
        self.event.append(event)
        self.where.append(where)
        if trace is not None:
            self.trace_at.values.append(row)
            self.trace.values.append(trace)
        for name in detail.keys() - self.fields.keys():
            if detail[name] is not None:
                self.fields[name] = _Lazy()
                self.fields[name].values.extend(itertools.repeat(None, row))
        for name, column in self.fields.items():
            column.values.append(detail.get(name))
        self._extend_span(time, time)
        self.rows += 1
        self._overrides = None

    def parse_all(self) -> None:
        for column in (*self.base.values(), self.trace_at, self.trace, *self.fields.values()):
            _ = column.values

    def sort(self) -> None:
        """Restore time order after out-of-order appends or blocks (stable for ties)."""
        if self.ordered:
            return
        self.parse_all()
        order = sorted(range(self.rows), key=self.time.__getitem__)
        new_row = {old: new for new, old in enumerate(order)} if self.trace_at.values else {}
        for column in (*self.base.values(), *self.fields.values()):
            values = column.values
            values[:] = [values[i] for i in order]
        self.trace_at.values[:] = [new_row[r] for r in self.trace_at.values]
        self._overrides = None
        self.ordered = True

    def _extend_span(self, first: float, last: float) -> None:
        if self.last is not None and first < self.last:
            self.ordered = False
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)


class Columns:
    """Observations of one kind as parallel lists in time order: the checks' fast path.

    ``event`` holds event numbers (``history.event_id(n)`` names one) and ``trace``
    trace numbers (equal numbers, equal trace ids; 0 is "no trace id"): sets and counts
    over a million of them cost a fraction of the same over strings. Each list is built
    on first use and shared by every reader of this selection: treat them as read-only.
    """

    def __init__(self, history: History, kind: Kind) -> None:
        self._history = history
        self._columns = history._sorted(kind)
        self._built: dict[str, list[Any]] = {}

    def __len__(self) -> int:
        return self._columns.rows

    @property
    def time(self) -> list[float]:
        return self._build("time", lambda: list(self._columns.time))

    @property
    def event(self) -> list[int]:
        return self._build("event", lambda: list(self._columns.event))

    @property
    def event_id(self) -> list[str]:
        return self._build("event_id", lambda: list(map(self._history._events.values.__getitem__, self.event)))

    @property
    def trace(self) -> list[int]:
        def build() -> list[int]:
            traces = list(map(self._history._event_trace.values.__getitem__, self.event))
            for row, trace in self._columns.overrides().items():
                traces[row] = trace
            return traces

        return self._build("trace", build)

    @property
    def trace_id(self) -> list[str | None]:
        return self._build("trace_id", lambda: list(map(self._history._traces.values.__getitem__, self.trace)))

    @property
    def where(self) -> list[str]:
        return self._build("where", lambda: list(map(self._history._wheres.values.__getitem__, self._columns.where)))

    def field(self, name: str) -> list[Any]:
        """One detail field per observation (None where the observation lacks it)."""

        def build() -> list[Any]:
            column = self._columns.field(name)
            return list(column) if column is not None else [None] * len(self)

        return self._build(f"detail.{name}", build)

    def _build(self, name: str, build: Callable[[], list[Any]]) -> list[Any]:
        if name not in self._built:
            self._built[name] = build()
        return self._built[name]


class History:
    """An append-only record of observations; iteration and lookups are in time order."""

    def __init__(self, observations: Iterable[Observation] = ()) -> None:
        self._setup()
        self._traces.ref(None)
        for observation in observations:
            self.append(*observation)

    def _setup(self) -> None:
        """Empty tables and columns; a new history then registers trace number 0 (none),
        a loaded one takes its trace table, which starts with it, from the file."""
        self._traces = _Symbols(_starts_with_no_trace)
        self._events = _Symbols()
        self._event_trace = _Lazy(_refs_into(self._traces))
        self._wheres = _Symbols()
        self._columns: dict[Kind, _KindColumns] = {kind: _KindColumns(kind, self) for kind in KINDS}
        self._selected: dict[Kind, Columns] = {}
        self._rows: dict[int, list[int]] | None = None  # event number -> its rows, packed (see _rows_of)
        self._keys: dict[str, str] | None = None

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
        columns = self._columns[Kind(kind)]
        trace, _ = self._traces.ref(trace_id)
        event, new_event = self._events.ref(event_id)
        if new_event:
            self._event_trace.values.append(trace)
        override = None if trace == self._event_trace.values[event] else trace
        columns.append(float(time), event, self._wheres.ref(where)[0], override, detail or {})
        self._selected.pop(columns.kind, None)
        self._rows = self._keys = None

    # -- reading -----------------------------------------------------------------

    def __len__(self) -> int:
        return sum(c.rows for c in self._columns.values())

    def __iter__(self) -> Iterator[Observation]:
        """All observations in time order; ties in lifecycle order, then append order."""
        streams = []
        for code, kind in enumerate(KINDS):
            columns = self._sorted(kind)
            streams.append(zip(columns.time, itertools.repeat(code), range(columns.rows)))
        for _, code, row in heapq.merge(*streams):
            yield self._observation(KINDS[code], row)

    def span(self) -> tuple[float, float] | None:
        """(first, last) observation time, or None for an empty history."""
        spans = [(c.first, c.last) for c in self._columns.values() if c.first is not None and c.last is not None]
        return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None

    def event_ids(self) -> list[str]:
        """Every event id observed, in order of first appearance (index: event number)."""
        return list(self._events.values)

    def event_id(self, number: int) -> str:
        """The event id behind an event number of ``Columns.event``."""
        event_id: str = self._events.values[number]
        return event_id

    def trace_id(self, number: int) -> str | None:
        """The trace id behind a trace number of ``Columns.trace`` (0: none)."""
        trace_id: str | None = self._traces.values[number]
        return trace_id

    def first_trace(self, event: int) -> int:
        """The trace number an event (by number) was first recorded with."""
        trace: int = self._event_trace.values[event]
        return trace

    def count(self, kind: Kind) -> int:
        return self._columns[kind].rows

    def select(self, kind: Kind) -> Columns:
        """The observations of one kind as columns, in time order (shared: read-only)."""
        if kind not in self._selected:
            self._selected[kind] = Columns(self, kind)
        return self._selected[kind]

    def for_event(self, event_id: str) -> list[Observation]:
        """The event's observations in time order (empty if never observed).

        The first call indexes every event's rows (numbers only, a few seconds for
        millions of observations); observations are built for the asked event alone.
        """
        number = self._events.number(event_id)
        return [] if number is None else self._story(self._rows_of().get(number, ()))

    def for_events(self, event_ids: Collection[str]) -> dict[str, list[Observation]]:
        """Observations of some events, found by one scan when no index is built yet.

        The checks explain a few thousand offenders in histories of millions of
        observations; indexing every event for that would cost more than the verdict.
        """
        if self._rows is not None or not event_ids:
            return {e: self.for_event(e) for e in event_ids}
        found = self._group(self._events.refs_of(set(event_ids)))
        return {e: found.get(e, []) for e in event_ids}

    def for_trace(self, trace_id: str) -> list[Observation]:
        """Observations carrying this trace id, in time order (a request's whole story)."""
        number = self._traces.number(trace_id)
        if number is None:
            return []
        event_trace = self._event_trace.values
        events = set(itertools.compress(range(len(event_trace)), map(number.__eq__, event_trace)))
        for columns in map(self._sorted, KINDS):
            events.update(columns.event[row] for row, trace in columns.overrides().items() if trace == number)
        rows = self._rows_of()
        found = (o for event in events for o in self._story(rows.get(event, ())) if o.trace_id == trace_id)
        return sorted(found, key=_order)

    def key_of(self, event_id: str) -> str | None:
        """The entity key of an event: the first ``detail["key"]`` recorded for it."""
        return self._key_map().get(event_id)

    def for_key(self, key: str) -> list[Observation]:
        """Observations of every event on this entity key, in time order."""
        events = [e for e, k in self._key_map().items() if k == key]
        return sorted((o for e in events for o in self.for_event(e)), key=_order)

    # -- files -------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the history as JSON lines (format in the module docstring)."""
        tables = (
            ("trace_id", self._traces.values),
            ("event_id", self._events.values),
            ("event_trace", self._event_trace.values),
            ("where", self._wheres.values),
        )
        with open(path, "wb") as out:
            out.write(orjson.dumps({"format": FORMAT, "version": VERSION, "observations": len(self)}) + b"\n")
            for name, values in tables:
                for start in range(0, len(values), _BLOCK_ROWS):
                    chunk = values[start : start + _BLOCK_ROWS]
                    out.write(orjson.dumps({"symbols": name, "rows": len(chunk)}) + b"\n" + orjson.dumps(chunk) + b"\n")
            for kind in KINDS:
                columns = self._sorted(kind)
                for start in range(0, columns.rows, _BLOCK_ROWS):
                    for line in _block(columns, start, min(start + _BLOCK_ROWS, columns.rows)):
                        out.write(orjson.dumps(line) + b"\n")

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a file written by ``save``. The structure is checked now; a column's data
        is parsed (and checked) when first read, and a bad one raises HistoryFormatError then."""
        history = cls.__new__(cls)
        history._setup()
        with open(path, "rb") as source:
            raw_file = source.read()
        data = memoryview(raw_file)  # data lines stay slices of it, parsed without a copy
        lines = ((n, raw) for n, raw in enumerate(_lines(raw_file, data), start=1) if not _blank(raw))
        header: dict[str, Any] | None = None
        number = 0
        try:
            for number, raw in lines:
                description = orjson.loads(raw)
                if header is None:
                    header = _check_header(description)
                    continue
                names = history._expect(description)
                data_lines = {}
                for name in names:
                    number, raw = next(lines)
                    data_lines[name] = _Deferred(str(path), number, raw)
                history._take(description, data_lines)
        except StopIteration:
            raise HistoryFormatError(f"{path}: truncated: the file ends inside a block") from None
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise HistoryFormatError(f"{path}: line {number}: {exc}") from None
        expected = header.get("observations") if header else None
        if header is None or expected != len(history):
            found = "no header" if header is None else f"{len(history)} of {expected} observations"
            raise HistoryFormatError(f"{path}: truncated or incomplete history file ({found})")
        return history

    # -- internals ---------------------------------------------------------------

    def _expect(self, description: Mapping[str, Any]) -> list[str]:
        """The data lines that follow this description line (checks the description)."""
        rows = description.get("rows")
        if not isinstance(rows, int) or rows < 0:
            raise ValueError(f"a description line needs a row count, got {rows!r}")
        if "symbols" in description:
            if description["symbols"] not in ("trace_id", "event_id", "event_trace", "where"):
                raise ValueError(f"unknown symbol table {description['symbols']!r}")
            return [description["symbols"]]
        if "block" in description:
            if description["block"] not in _LIFECYCLE:
                raise ValueError(f"unknown kind {description['block']!r}; kinds are {[k.value for k in KINDS]}")
            columns = list(description["columns"])
            missing = [c for c in _BASE if c not in columns]
            if missing or (description.get("overrides") and not {"trace_at", "trace"} <= set(columns)):
                raise ValueError(f"the block lacks columns {missing or ['trace_at', 'trace']}")
            return columns
        raise ValueError("expected a symbol table or block description")

    def _take(self, description: Mapping[str, Any], lines: Mapping[str, _Deferred]) -> None:
        if "symbols" in description:
            [line] = lines.values()
            rows = description["rows"]
            tables = {"trace_id": self._traces, "event_id": self._events, "where": self._wheres}
            if description["symbols"] == "event_trace":
                self._event_trace.defer(line, rows)
            else:
                tables[description["symbols"]].defer(line, rows)
        else:
            self._columns[Kind(description["block"])].add_block(description, lines)

    def _rows_of(self) -> dict[int, list[int]]:
        """Event number -> its rows, each packed as ``row << 4 | kind code`` (no objects per row)."""
        if self._rows is None:
            rows: dict[int, list[int]] = {}
            for code, kind in enumerate(KINDS):
                for row, event in enumerate(self._sorted(kind).event):
                    rows.setdefault(event, []).append(row << 4 | code)
            self._rows = rows
        return self._rows

    def _story(self, packed: Iterable[int]) -> list[Observation]:
        return sorted((self._observation(KINDS[p & 15], p >> 4) for p in packed), key=_order)

    def _sorted(self, kind: Kind) -> _KindColumns:
        columns = self._columns[kind]
        columns.sort()
        return columns

    def _observation(self, kind: Kind, row: int) -> Observation:
        columns = self._columns[kind]
        event = columns.event[row]
        trace = columns.overrides().get(row, self._event_trace.values[event])
        detail = {}
        for name, column in columns.fields.items():
            value = column.values[row]
            if value is not None:
                detail[name] = value
        return Observation(
            columns.time[row],
            self._events.values[event],
            self._traces.values[trace],
            kind,
            self._wheres.values[columns.where[row]],
            detail,
        )

    def _group(self, refs: set[int]) -> dict[str, list[Observation]]:
        """Observations per event id of the events with these numbers, by one scan."""
        grouped: dict[str, list[Observation]] = {}
        for kind in KINDS:
            columns = self._sorted(kind)
            for row in itertools.compress(range(columns.rows), map(refs.__contains__, columns.event)):
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
                for ref, key in zip(columns.event, columns.field("key") or ()):
                    if key is not None:
                        keys.setdefault(events[ref], str(key))
            self._keys = keys
        return self._keys


def _lines(raw: bytes, data: memoryview) -> Iterator[memoryview]:
    """The lines of ``raw`` as zero-copy slices of ``data`` (its view), without their line ends."""
    start, size = 0, len(data)
    while start < size:
        end = raw.find(b"\n", start)
        end = size if end < 0 else end
        yield data[start:end]
        start = end + 1


def _blank(raw: memoryview) -> bool:
    """Empty or whitespace only (read in full only when it starts with whitespace)."""
    return not raw or (raw[:1].tobytes().isspace() and not raw.tobytes().strip())


def _order(observation: Observation) -> tuple[float, int]:
    """Time order; at equal times, lifecycle order (acked before applied)."""
    return observation.time, _LIFECYCLE[observation.kind]


def _block(columns: _KindColumns, start: int, end: int) -> Iterator[Any]:
    """The description line and the data lines of rows [start, end) of one kind."""
    overrides = sorted((row, trace) for row, trace in columns.overrides().items() if start <= row < end)
    data: dict[str, Any] = {name: columns.base[name].values[start:end] for name in _BASE}
    if overrides:
        data["trace_at"] = [row for row, _ in overrides]
        data["trace"] = [trace for _, trace in overrides]
    encoded = []
    for name, column in columns.fields.items():
        values = column.values[start:end]
        if any(v is not None for v in values):
            distinct = dict.fromkeys(values)
            if 2 * len(distinct) <= len(values) and all(v is None or isinstance(v, str) for v in distinct):
                numbers = dict(zip(distinct, range(len(distinct))))
                values = [list(distinct), list(map(numbers.__getitem__, values))]
                encoded.append(f"detail.{name}")
            data[f"detail.{name}"] = values
    times = data["time"]
    yield {
        "block": columns.kind.value,
        "rows": end - start,
        "first": times[0],
        "last": times[-1],
        "overrides": len(overrides),
        "columns": list(data),
        "encoded": encoded,
    }
    yield from data.values()


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
