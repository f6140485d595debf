"""Seeded, leak-free splits into train, validation and test sequences."""

from __future__ import annotations

import numpy as np

from selector.data.dataset import Splits
from selector.errors import DataError

SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val",
               "validation": "val", "dev": "val", "test": "test", "holdout": "test"}


def _counts(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    n_test = max(1, round(n * test_fraction))
    n_val = max(1, round(n * val_fraction))
    return n_val, n_test


def random_split(n: int, val_fraction: float, test_fraction: float, seed: int,
                 source: str) -> Splits:
    """A seeded random split (regression)."""
    n_val, n_test = _counts(n, val_fraction, test_fraction)
    if n - n_val - n_test < 1:
        raise DataError(
            source, f"too few sequences for a train/validation/test split: {n} given, at least 3 "
            "needed (and far more for a meaningful comparison).")
    order = np.random.default_rng(seed).permutation(n)
    return Splits(train=np.sort(order[n_val + n_test:]), val=np.sort(order[:n_val]),
                  test=np.sort(order[n_val:n_val + n_test]), rule="random")


def stratified_split(codes: np.ndarray, classes: tuple[str, ...], val_fraction: float,
                     test_fraction: float, seed: int, source: str) -> Splits:
    """A seeded split that keeps each class's share in train, validation and test."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for code, name in enumerate(classes):
        members = np.flatnonzero(codes == code)
        if len(members) < 3:
            raise DataError(
                source,
                f"too few examples for the split: class '{name}' has {len(members)} sequence(s), "
                "and each class needs at least 3 (one each for train, validation and test).")
        members = rng.permutation(members)
        n_val, n_test = _counts(len(members), val_fraction, test_fraction)
        if len(members) - n_val - n_test < 1:
            n_val, n_test = 1, 1
        parts["val"].append(members[:n_val])
        parts["test"].append(members[n_val:n_val + n_test])
        parts["train"].append(members[n_val + n_test:])
    return Splits(**{k: np.sort(np.concatenate(v)) for k, v in parts.items()}, rule="stratified")


def column_split(labels: list[object], source: str, column: str) -> Splits:
    """The split a user gave per sequence: values train / val(idation) / test."""
    assigned: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for i, value in enumerate(labels):
        key = SPLIT_NAMES.get(str(value).strip().lower())
        if key is None:
            raise DataError(
                source,
                f"split column '{column}': sequence {i + 1} has {value!r}; expected train, "
                "val (or validation) or test.")
        assigned[key].append(i)
    empty = [k for k, v in assigned.items() if not v]
    if empty:
        raise DataError(source, f"split column '{column}' assigns no sequence to: "
                        f"{', '.join(empty)}. Each of train, val and test needs at least one.")
    return Splits(**{k: np.asarray(v, dtype=np.int64) for k, v in assigned.items()},
                  rule="column")


def time_bounds(n_steps: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """Step indices where validation and test begin in a time-ordered split of one series."""
    val_start = round(n_steps * (1 - val_fraction - test_fraction))
    test_start = round(n_steps * (1 - test_fraction))
    return val_start, test_start


def time_parts(n_steps: int, val_fraction: float, test_fraction: float
               ) -> dict[str, tuple[int, int]]:
    """The (start, end) steps of the training, validation and test parts of one series."""
    val_start, test_start = time_bounds(n_steps, val_fraction, test_fraction)
    return {"train": (0, val_start), "val": (val_start, test_start), "test": (test_start, n_steps)}


def lookback_room(parts: list[dict[str, tuple[int, int]]]) -> int:
    """The steps of the shortest training part of any series: what bounds a forecast's
    window (lookback + horizon), since a training window reads only training steps."""
    return min(series["train"][1] - series["train"][0] for series in parts)


def window_starts(parts: dict[str, tuple[int, int]], lookback: int, horizon: int
                  ) -> dict[str, range]:
    """The first steps of each part's windows in one series, as a backtest cuts them: a
    window belongs to the part that holds all ``horizon`` of its targets, and reads the
    ``lookback`` steps before them wherever they lie. No target crosses a part, so no
    training window sees a validation or test value; a validation or test window forecasts
    from the history before it, as a forecast made at that time would."""
    return {name: range(max(lo - lookback, 0), hi - lookback - horizon + 1)
            for name, (lo, hi) in parts.items()}


def short_part(parts: dict[str, tuple[int, int]], lookback: int, horizon: int) -> str | None:
    """Why one series' parts cannot all hold a window (None where they can): the training
    part needs lookback + horizon steps, the validation and test parts a horizon each."""
    n_steps = parts["test"][1]
    for name, (lo, hi) in parts.items():
        need, what = ((lookback + horizon, f"lookback + horizon = {lookback + horizon}")
                      if name == "train" else (horizon, f"the horizon, {horizon}"))
        if hi - lo < need:
            return (f"the {name} part has {hi - lo} of {n_steps} steps, and a {name} window "
                    f"needs {what}")
    return None
