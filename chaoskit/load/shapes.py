"""How many users run at a time ``t`` of a load run, per shape.

Pure arithmetic, kept apart from Locust's ``LoadTestShape`` (which the driver wraps
around it) so the shapes can be unit-tested without importing Locust into pytest.

- ``constant``: ``users`` the whole time.
- ``ramp``: from 0 up to ``users``, linearly over the duration.
- ``spike``: ``base`` users, ``users`` in the middle third of the duration, ``base`` again.
- ``step``: ``steps`` equal stages, stage ``i`` (from 1) running ``ceil(users * i / steps)``.

Past the duration every shape returns None (the run is over); an open-ended constant run
(``duration_s=None``) never ends by itself. With workers the shape runs on Locust's
master, which hands the users out to the workers itself.
"""

from __future__ import annotations

import math

from chaoskit.errors import ConfigError


def users_at(
    shape: str,
    t: float,
    *,
    users: int,
    duration_s: float | None,
    base: int = 1,
    steps: int = 1,
) -> int | None:
    """The user count at ``t`` seconds into the run, or None once the run is over."""
    if duration_s is None:
        if shape != "constant":
            raise ConfigError(f"shape {shape!r} needs a duration")
        return users
    if t >= duration_s:
        return None
    t = max(t, 0.0)
    if shape == "constant":
        return users
    if shape == "ramp":
        return round(users * t / duration_s)
    if shape == "spike":
        third = duration_s / 3
        return users if third <= t < 2 * third else base
    if shape == "step":
        stage = min(int(t * steps / duration_s), steps - 1) + 1
        return math.ceil(users * stage / steps)
    raise ConfigError(f"unknown shape {shape!r}")


def split(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` shares differing by at most one, the larger ones first: the
    users each of ``parts`` workers runs, as Locust's master spreads them."""
    return [total // parts + (index < total % parts) for index in range(parts)]
