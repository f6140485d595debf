"""Splits are seeded, disjoint, complete and stratified where the task is classification; a
time split forecasts every step after the training part from the history before it."""

from __future__ import annotations

import numpy as np
import pytest

from selector.data import DataOptions, load_dataset
from selector.data.split import (
    lookback_room,
    random_split,
    short_part,
    stratified_split,
    time_parts,
    window_starts,
)


def test_stratified_split_keeps_class_shares() -> None:
    codes = np.array([0] * 80 + [1] * 20)
    splits = stratified_split(codes, ("a", "b"), 0.15, 0.15, seed=3, source="x")
    parts = [splits.train, splits.val, splits.test]
    assert sorted(np.concatenate(parts).tolist()) == list(range(100))
    for part in parts:
        share = (codes[part] == 1).mean()
        assert share == pytest.approx(0.2, abs=0.05)


def test_splits_depend_on_seed_only() -> None:
    one = random_split(50, 0.2, 0.2, seed=1, source="x")
    again = random_split(50, 0.2, 0.2, seed=1, source="x")
    other = random_split(50, 0.2, 0.2, seed=2, source="x")
    np.testing.assert_array_equal(one.test, again.test)
    assert not np.array_equal(one.test, other.test)


def test_dataset_seed_changes_the_split() -> None:
    a = load_dataset("example:digits", DataOptions(seed=0))
    b = load_dataset("example:digits", DataOptions(seed=1))
    assert not np.array_equal(a.splits.test, b.splits.test)
    assert a.splits.rule == "stratified"


def test_a_time_split_forecasts_every_later_step_from_the_history_before_it() -> None:
    parts = time_parts(20, 0.25, 0.25)  # train 0-10, validation 10-15, test 15-20
    starts = window_starts(parts, lookback=4, horizon=2)
    assert starts == {"train": range(0, 5), "val": range(6, 10), "test": range(11, 15)}
    targets = {name: {k + 4 + h for k in found for h in range(2)}
               for name, found in starts.items()}
    assert targets == {"train": set(range(4, 10)), "val": set(range(10, 15)),
                       "test": set(range(15, 20))}
    assert max(k + 4 for k in starts["train"]) <= 10  # no training input after its part
    assert lookback_room([parts, time_parts(40, 0.25, 0.25)]) == 10
    assert short_part(parts, 4, 2) is None


@pytest.mark.parametrize(("lookback", "horizon", "message"), [
    (9, 2, "the train part has 10 of 20 steps, and a train window needs lookback + horizon = 11"),
    (2, 6, "the val part has 5 of 20 steps, and a val window needs the horizon, 6"),
])
def test_a_part_too_short_is_named_with_what_it_needs(lookback: int, horizon: int,
                                                       message: str) -> None:
    assert short_part(time_parts(20, 0.25, 0.25), lookback, horizon) == message
