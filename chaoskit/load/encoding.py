"""Cheap JSON for the load process's hot path (one call per event, tens of thousands a second).

Event and trace ids are hex and keys repeat, so most strings need no escaping or have been
escaped before; anything else goes through ``json.dumps`` and comes out the same.
"""

from __future__ import annotations

import json
from functools import lru_cache

_cached_dumps = lru_cache(maxsize=65536)(json.dumps)


def json_string(value: str) -> str:
    """``json.dumps(value)`` for a string: quoted as is when alphanumeric (ids)."""
    return f'"{value}"' if value.isalnum() and value.isascii() else json.dumps(value)


def json_repeated(value: str) -> str:
    """``json.dumps(value)`` for a string seen again and again (keys, content), memoised."""
    return _cached_dumps(value)
