"""Small data is cross-validated over train + validation; the test split stays untouched."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from selector.data import DataOptions, load_dataset
from selector.data.crossval import CV_BELOW, FOLDS, cross_validates, plan
from selector.decision.stats import corrected_resampled


def test_small_data_runs_the_same_k_folds_per_seed_and_never_touches_the_test_split() -> None:
    data = load_dataset("example:adding?n=300")
    assert cross_validates(data)
    runs = plan(data, (3, 4))
    assert [(r.seed, r.fold) for r in runs] == [(s, f) for s in (3, 4) for f in range(FOLDS)]
    again = plan(data, (3, 4))  # deterministic: both cells get exactly these
    assert all(np.array_equal(getattr(a, f), getattr(b, f)) for a, b in zip(runs, again, strict=True)
               for f in ("train", "val", "held"))
    pool = set(np.concatenate([data.splits.train, data.splits.val]).tolist())
    test = set(data.splits.test.tolist())
    for seed in (3, 4):
        mine = [r for r in runs if r.seed == seed]
        held = np.concatenate([r.held for r in mine])
        assert sorted(held.tolist()) == sorted(pool)  # each sequence held out once per seed
        for r in mine:
            used = set(r.train.tolist()) | set(r.val.tolist()) | set(r.held.tolist())
            assert not used & test and len(used) == len(pool)
            assert not set(r.held.tolist()) & (set(r.train.tolist()) | set(r.val.tolist()))


def test_folds_keep_the_class_mix() -> None:
    data = load_dataset("example:digits")
    splits = replace(data.splits, train=data.splits.train[:400], val=data.splits.val[:100])
    small = plan(replace(data, splits=splits), (0,))
    shares = [np.bincount(data.targets[r.held], minlength=10) / len(r.held) for r in small]
    overall = np.bincount(data.targets[np.concatenate([r.held for r in small])],
                          minlength=10) / 500
    assert max(np.abs(s - overall).max() for s in shares) < 0.03


@pytest.mark.parametrize(("source", "options"), [
    ("example:digits", DataOptions()),  # 1,527 sequences in train + validation
    ("example:sine?length=600", DataOptions(lookback=12, horizon=1)),  # time order matters
])
def test_large_data_and_forecasting_use_seeds_on_the_fixed_splits(source: str,
                                                                  options: DataOptions) -> None:
    data = load_dataset(source, options)
    assert not cross_validates(data)
    runs = plan(data, (0, 1))
    assert [r.fold for r in runs] == [None, None]
    assert all(r.held is data.splits.test for r in runs)


def test_corrected_resampled_t_widens_for_overlapping_training_sets() -> None:
    gains = [0.02, 0.01, 0.03, 0.0, 0.02] * 3
    naive = np.std(gains, ddof=1) / np.sqrt(len(gains))
    gain = corrected_resampled(gains, 1 / (FOLDS - 1), 0.95)
    corrected = np.sqrt((1 / len(gains) + 1 / (FOLDS - 1)) * np.var(gains, ddof=1))
    assert gain.seed_sd == pytest.approx(corrected) and corrected > 2 * naive
    assert gain.pairs == 15 and gain.low < gain.mean < gain.high
    assert CV_BELOW == 1_000
