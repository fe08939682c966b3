"""The documents load sends: ids, keys, versions, and their HTTP and Kafka encodings.

Every event gets its id and trace id here, in the load process, before it is sent, so the
history can follow it whatever the system does with it. Keys come from the experiment's
namespace (``{prefix}-{n}``) so concurrent experiments never touch each other's keys, and
each key's versions increase in the order the events are created (one counter per key,
shared by all users of the process: greenlets never interleave inside ``next``).

The Kafka encoding is the reference system's ``documents.requested`` format: key = entity
key, value = JSON ``{"event_id","key","content","version"}``, headers ``event_id``,
``trace_id`` and ``produced_at`` (epoch float as a string).

The Kafka user makes tens of thousands of these a second in one process, so ``next`` and
the encodings are written for speed: keys and their JSON are made once, ids come from one
``randbytes`` call, and the value is one f-string (the unit tests hold it to ``json.dumps``).
"""

from __future__ import annotations

import random
import time
from typing import NamedTuple

from chaoskit.load.encoding import json_repeated, json_string


class Document(NamedTuple):
    """One event. A NamedTuple, not a dataclass: several times cheaper to build."""

    event_id: str
    trace_id: str
    key: str
    version: int
    content: str

    def http_body(self) -> dict[str, object]:
        return {
            "key": self.key,
            "content": self.content,
            "version": self.version,
            "event_id": self.event_id,
            "trace_id": self.trace_id,
        }

    def kafka_value(self) -> bytes:
        """Compact JSON, as ``json.dumps(..., separators=(",", ":"))`` would write it."""
        return (
            f'{{"event_id":{json_string(self.event_id)},"key":{json_repeated(self.key)},'
            f'"content":{json_repeated(self.content)},"version":{self.version}}}'
        ).encode()

    def kafka_headers(self, produced_at: str | None = None) -> list[tuple[str, str | bytes | None]]:
        """``produced_at`` is ``repr`` of an epoch float; a caller sending a group of events
        at once formats it once for all of them (``repr`` of a float is not cheap)."""
        return [
            ("event_id", self.event_id),
            ("trace_id", self.trace_id),
            ("produced_at", repr(time.time()) if produced_at is None else produced_at),
        ]

    def context(self) -> dict[str, object]:
        """What a request record needs, passed through Locust's ``request`` event."""
        return {"event_id": self.event_id, "trace_id": self.trace_id, "key": self.key, "version": self.version}


class KeySpace:
    """Keys ``{prefix}-0 .. {prefix}-{count-1}``, drawn at random, versions counting up per key.

    One load process of ``stride`` draws only the keys ``n`` with ``n % stride == offset``,
    so each key's versions are counted in one process and still count up.

    Event and trace ids are 128 random bits each, as 32 hex digits (the W3C trace-context
    trace-id format for the trace id), from a generator seeded by the OS: they never repeat
    across runs, whatever ``seed`` (which only fixes the order of keys).
    """

    def __init__(
        self,
        prefix: str,
        count: int,
        content_bytes: int = 0,
        seed: int | None = None,
        *,
        stride: int = 1,
        offset: int = 0,
    ) -> None:
        self.prefix = prefix
        self.content = "x" * content_bytes
        self._keys = [f"{prefix}-{n}" for n in range(offset, count, stride)]
        self.count = len(self._keys)
        self._versions = [0] * self.count
        self._draw = random.Random(seed).random
        self._id_bytes = random.Random().randbytes

    def next(self) -> Document:
        n = int(self._draw() * self.count)
        version = self._versions[n] + 1
        self._versions[n] = version
        ids = self._id_bytes(32).hex()
        return Document(ids[:32], ids[32:], self._keys[n], version, self.content)
