"""Which runs the final comparison makes: seeds on the fixed splits, or, for small data,
repeated k-fold cross-validation over train + validation.

With a few hundred sequences the test split holds a few dozen: accuracy moves in steps of
several points and any interval is wide. Below `CV_BELOW` sequences in train + validation
(not for forecasting, whose windows must stay in time order), each seed instead runs `FOLDS`
folds over train + validation, the same folds and seeds for both cells; each fold is scored on
the sequences it held out, and the comparison is judged with Nadeau and Bengio's corrected
resampled t-test (`selector.decision.stats.corrected_resampled`). The test split stays untouched until
the handed-over model's one final score.

The refit of the chosen cell (`refit_sets`) trains on train + validation and is scored on the
test split; a forecaster is then trained on every step of the history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from selector.data.dataset import SequenceData

CV_BELOW = 1_000  # train + validation sequences below which the comparison cross-validates
FOLDS = 5
INNER_VAL = 0.15  # of each fold's training part, held back for early stopping


@dataclass(frozen=True)
class Run:
    """One final training run: its seed, fold (None on the fixed splits) and sequences."""

    seed: int
    fold: int | None
    train: np.ndarray
    val: np.ndarray  # early stopping
    held: np.ndarray  # scored: the test split, or the fold's held-out part


def cross_validates(data: SequenceData) -> bool:
    """Whether the comparison is repeated k-fold cross-validation (small, not forecasting)."""
    size = len(data.splits.train) + len(data.splits.val)
    return data.task != "forecasting" and size < CV_BELOW


def plan(data: SequenceData, seeds: tuple[int, ...], *,
         cross_validate: bool | None = None) -> list[Run]:
    """The final runs of one cell, in order: the same for both cells. ``cross_validate``
    overrides the choice by size (`cross_validates`)."""
    splits = data.splits
    if not (cross_validates(data) if cross_validate is None else cross_validate):
        return [Run(seed, None, splits.train, splits.val, splits.test) for seed in seeds]
    pool = np.concatenate([splits.train, splits.val])
    runs = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        order = rng.permutation(pool)
        if data.task == "classification":  # dealt in class order: every fold keeps the mix
            order = order[np.argsort(data.targets[order], kind="stable")]
        fold_of = np.arange(len(order)) % FOLDS
        for fold in range(FOLDS):
            rest = rng.permutation(order[fold_of != fold])
            inner = max(1, round(INNER_VAL * len(rest)))
            runs.append(Run(seed, fold, np.sort(rest[inner:]), np.sort(rest[:inner]),
                            np.sort(order[fold_of == fold])))
    return runs


def refit_sets(data: SequenceData) -> tuple[np.ndarray, ...]:
    """The examples each fit of the refit (`selector.comparison.runs.refit`) trains on:
    train + validation, scored on the test split; for forecasts, then every window of the
    history (train + validation + test), as neighbours refit before forecasting: a model that
    never saw the test part's steps would forecast from a level and trend months out of date
    (air passengers: 26 of 144 months)."""
    both = np.concatenate([data.splits.train, data.splits.val])
    if data.task != "forecasting":
        return (both,)
    return both, np.concatenate([both, data.splits.test])


def refit_share(data: SequenceData) -> float:
    """The refit's training, as a multiple of one run on the training split."""
    return sum(len(s) for s in refit_sets(data)) / len(data.splits.train)

