"""Users over time for each load shape (pure arithmetic, no Locust)."""

from __future__ import annotations

import pytest

from chaoskit.errors import ConfigError
from chaoskit.load.shapes import split, users_at


def series(shape: str, *, users: int, duration_s: float, **kw: int) -> list[int | None]:
    return [users_at(shape, float(t), users=users, duration_s=duration_s, **kw) for t in range(int(duration_s) + 1)]


def test_constant_holds_the_user_count_until_the_duration_ends() -> None:
    assert series("constant", users=7, duration_s=5) == [7, 7, 7, 7, 7, None]


def test_constant_without_a_duration_never_ends() -> None:
    assert users_at("constant", 10_000.0, users=3, duration_s=None) == 3


@pytest.mark.parametrize("shape", ["ramp", "spike", "step"])
def test_shapes_other_than_constant_need_a_duration(shape: str) -> None:
    with pytest.raises(ConfigError, match=shape):
        users_at(shape, 1.0, users=3, duration_s=None)


def test_ramp_goes_linearly_from_zero_to_the_user_count() -> None:
    assert series("ramp", users=10, duration_s=10) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, None]
    assert users_at("ramp", 9.99, users=10, duration_s=10) == 10


def test_spike_is_base_then_peak_in_the_middle_third_then_base() -> None:
    assert series("spike", users=20, duration_s=9, base=4) == [4, 4, 4, 20, 20, 20, 4, 4, 4, None]


def test_step_climbs_in_equal_stages_and_ends_at_the_user_count() -> None:
    assert series("step", users=10, duration_s=8, steps=4) == [3, 3, 5, 5, 8, 8, 10, 10, None]


def test_step_with_one_step_is_constant() -> None:
    assert series("step", users=6, duration_s=3, steps=1) == [6, 6, 6, None]


def test_negative_time_counts_as_the_start() -> None:
    assert users_at("ramp", -1.0, users=10, duration_s=10) == 0


def test_unknown_shape_is_refused() -> None:
    with pytest.raises(ConfigError, match="wave"):
        users_at("wave", 0.0, users=1, duration_s=1)


@pytest.mark.parametrize(
    ("total", "parts", "shares"),
    [(7, 3, [3, 2, 2]), (2, 4, [1, 1, 0, 0]), (0, 2, [0, 0]), (9, 1, [9])],
)
def test_split_gives_shares_that_add_up_and_differ_by_at_most_one(total: int, parts: int, shares: list[int]) -> None:
    assert split(total, parts) == shares


def test_processes_following_their_split_of_a_shape_follow_the_shape() -> None:
    for t in range(10):
        total = users_at("step", float(t), users=10, duration_s=10, steps=4)
        assert total is not None and sum(split(total, 3)) == total
