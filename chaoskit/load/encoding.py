"""Cheap JSON for the load process's hot path (one call per event, tens of thousands a second).

Ids made here are hex and keys repeat, so most strings need no escaping or have been
escaped before; anything else goes through ``json.dumps`` and comes out the same.
"""

from __future__ import annotations

import json
import random
from functools import lru_cache

_cached_dumps = lru_cache(maxsize=65536)(json.dumps)


def json_string(value: str) -> str:
    """``json.dumps(value)`` for a string: quoted as is when alphanumeric (ids)."""
    return f'"{value}"' if value.isalnum() and value.isascii() else json.dumps(value)


def json_repeated(value: str) -> str:
    """``json.dumps(value)`` for a string seen again and again (keys, content), memoised."""
    return _cached_dumps(value)


def uuid4_hex(rng: random.Random) -> str:
    """``uuid.uuid4().hex`` from a seeded-by-the-OS Mersenne Twister instead of one
    ``getrandom`` syscall per id (slow in some VMs): the same version and variant bits,
    122 random bits, unique for load purposes (not for secrets)."""
    n = rng.getrandbits(128)
    n = (n & ~(0xC000 << 48)) | (0x8000 << 48)
    n = (n & ~(0xF000 << 64)) | (4 << 76)
    return f"{n:032x}"
