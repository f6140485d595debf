"""Splits are seeded, disjoint, complete and stratified where the task is classification."""

from __future__ import annotations

import numpy as np
import pytest

from selector.data import DataOptions, load_dataset
from selector.data.split import random_split, stratified_split


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
