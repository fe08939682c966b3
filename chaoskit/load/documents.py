"""The documents load sends: ids, keys, versions, and their HTTP and Kafka encodings.

Every event gets its id and trace id here, in the load process, before it is sent, so the
history can follow it whatever the system does with it. Keys come from the experiment's
namespace (``{prefix}-{n}``) so concurrent experiments never touch each other's keys, and
each key's versions increase in the order the events are created (one counter per key,
shared by all users of the process: greenlets never interleave inside ``next``).

The Kafka encoding is the reference system's ``documents.requested`` format: key = entity
key, value = JSON ``{"event_id","key","content","version"}``, headers ``event_id``,
``trace_id`` and ``produced_at`` (epoch float as a string).
"""

from __future__ import annotations

import random
import time
from typing import NamedTuple

from chaoskit.load.encoding import json_repeated, json_string, uuid4_hex


class Document(NamedTuple):
    """One event. A NamedTuple, not a dataclass: the Kafka user makes tens of thousands a
    second and this is several times cheaper to build."""

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

    def kafka_headers(self, produced_at: float | None = None) -> list[tuple[str, bytes]]:
        at = time.time() if produced_at is None else produced_at
        return [
            ("event_id", self.event_id.encode()),
            ("trace_id", self.trace_id.encode()),
            ("produced_at", repr(at).encode()),
        ]

    def context(self) -> dict[str, object]:
        """What a request record needs, passed through Locust's ``request`` event."""
        return {"event_id": self.event_id, "trace_id": self.trace_id, "key": self.key, "version": self.version}


class KeySpace:
    """Keys ``{prefix}-0 .. {prefix}-{count-1}``, drawn at random, versions counting up per key."""

    def __init__(self, prefix: str, count: int, content_bytes: int = 0, seed: int | None = None) -> None:
        self.prefix = prefix
        self.count = count
        self.content = "x" * content_bytes
        self._random = random.Random(seed)
        self._ids = random.Random()  # seeded by the OS: ids never repeat across runs, whatever the seed
        self._versions: dict[str, int] = {}

    def next(self) -> Document:
        key = f"{self.prefix}-{int(self._random.random() * self.count)}"
        version = self._versions.get(key, 0) + 1
        self._versions[key] = version
        # The trace id is 16 random bytes in hex, the W3C trace-context trace-id format.
        return Document(uuid4_hex(self._ids), f"{self._ids.getrandbits(128):032x}", key, version, self.content)
