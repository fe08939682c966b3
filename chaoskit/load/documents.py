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

import json
import random
import time
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
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
        return json.dumps(
            {"event_id": self.event_id, "key": self.key, "content": self.content, "version": self.version},
            separators=(",", ":"),
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
        self._versions: dict[str, int] = {}

    def next(self) -> Document:
        key = f"{self.prefix}-{self._random.randrange(self.count)}"
        version = self._versions.get(key, 0) + 1
        self._versions[key] = version
        return Document(uuid.uuid4().hex, uuid.uuid4().hex, key, version, self.content)
