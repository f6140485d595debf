"""Profiling: the shape of a dataset, as the decision criteria need it."""

from __future__ import annotations

import numpy as np

from selector.data.dataset import SequenceData
from selector.records import (
    LARGE_TRAINING_SET,
    SHORT_SEQUENCE_STEPS,
    SMALL_TRAINING_SET,
    ClassCount,
    DataProfile,
)


def training_size(n_train: int) -> str:
    if n_train < SMALL_TRAINING_SET:
        return "small"
    return "large" if n_train >= LARGE_TRAINING_SET else "medium"


def profile_dataset(data: SequenceData) -> DataProfile:
    """Sizes, sequence lengths, features, task, class balance and memory of ``data``."""
    lengths = data.lengths
    classes: tuple[ClassCount, ...] = ()
    balance = None
    if data.task == "classification":
        counts = np.bincount(data.targets, minlength=len(data.classes))
        classes = tuple(ClassCount(label, int(c), round(float(c) / len(data), 4))
                        for label, c in zip(data.classes, counts, strict=True))
        balance = round(float(counts.min() / counts.max()), 4)
    n_train, n_val, n_test = data.splits.sizes()
    scale = data.forecast_scale
    median = float(np.median(lengths))
    return DataProfile(
        source=data.source, format=data.format, task=data.task, n_sequences=len(data),
        n_train=n_train, n_val=n_val, n_test=n_test, split_rule=data.splits.rule,
        length_min=int(lengths.min()), length_median=median,
        length_p95=float(np.percentile(lengths, 95)), length_max=int(lengths.max()),
        n_features=data.n_features, feature_names=data.feature_names,
        target_names=data.target_names, classes=classes, class_balance=balance,
        vocabulary_size=data.vocabulary_size or None, lookback=data.lookback,
        horizon=data.horizon, memory_bytes=data.nbytes(),
        short_sequences=median < SHORT_SEQUENCE_STEPS, training_size=training_size(n_train),
        n_series=None if scale is None else len(scale.naive_mae),
        season=None if scale is None else scale.season, lookbacks=data.lookbacks,
    )
