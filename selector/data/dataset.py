"""The in-memory dataset every later stage trains on: validated, split and scaled."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from selector.choices import Task

Format = Literal["long", "text", "series", "panel", "arrays"]


@dataclass(frozen=True)
class Splits:
    """Indices of the train, validation and test sequences, and how they were drawn."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    rule: str  # "stratified", "random", "time-ordered" or "column"

    def sizes(self) -> tuple[int, int, int]:
        return len(self.train), len(self.val), len(self.test)


@dataclass(frozen=True)
class Preprocessing:
    """What was fitted on the training split, stored as plain data (JSON-able, never pickled)."""

    feature_mean: tuple[float, ...] = ()
    feature_std: tuple[float, ...] = ()
    target_mean: tuple[float, ...] = ()
    target_std: tuple[float, ...] = ()
    tokenizer_json: str | None = None  # a `tokenizers` JSON document, for text data
    # a panel's series (`selector.data.panel`): each one's training mean and std per column,
    # by its id as text, and the step between two times (a pandas frequency, or a number)
    series_scale: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = field(
        default_factory=dict)
    time_step: str | float | None = None
    window_spread: bool = False  # each window divided by its spread (`Panel.window`)

    def to_dict(self) -> dict[str, Any]:
        """As stored with a model (JSON types): a panel's fields only where set, so that a
        selector from before panels still reads the other models."""
        values = asdict(self)
        for name in ("series_scale", "time_step", "window_spread"):
            if not values[name]:
                del values[name]
        return values


@dataclass(frozen=True)
class ForecastScale:
    """What scale-free forecast metrics need (`selector.data.seasons`): the season, each
    window's series, and per series and target the seasonal naive forecast's mean absolute
    error on its training part (NaN: a constant series) and the level and spread that turn
    the stored targets back into the user's units (user = (stored * window spread + window
    level) * spread + level; a panel's windows are stored relative to their last value, in
    units of their own spread)."""

    season: int
    cycles: tuple[int, ...]  # the seasons a seasonal naive forecast repeats (cycles_of)
    window_series: np.ndarray  # (windows,)
    naive_mae: np.ndarray  # (series, targets)
    level: np.ndarray  # (series, targets)
    spread: np.ndarray
    window_level: np.ndarray  # (windows,)
    window_spread: np.ndarray  # (windows,)


@dataclass(frozen=True)
class SequenceData:
    """A validated dataset: one entry per sequence, with its split and preprocessing.

    ``sequences[i]`` is a float32 array of shape (steps, features) for numeric data, or an
    int64 array of token ids of shape (steps,) for text. ``targets`` holds class indices
    (classification), floats (regression) or a (n, horizon, outputs) array (forecasting).
    """

    source: str
    format: Format
    task: Task
    sequences: list[np.ndarray]
    targets: np.ndarray
    splits: Splits
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    classes: tuple[str, ...] = ()
    vocabulary_size: int = 0
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    lookback: int | None = None  # forecasting: the steps of every window
    lookbacks: tuple[int, ...] = ()  # forecasting: the lookbacks searched (`data.lookbacks`)
    horizon: int | None = None
    forecast_scale: ForecastScale | None = None  # forecasting: for MASE and sMAPE

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(s) for s in self.sequences), dtype=np.int64, count=len(self))

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def is_text(self) -> bool:
        return self.vocabulary_size > 0

    @property
    def output_size(self) -> int:
        """Width of the model's output layer for this task."""
        if self.task == "classification":
            return len(self.classes)
        return int(np.prod(self.targets.shape[1:], dtype=np.int64)) if self.targets.ndim > 1 else 1

    def nbytes(self) -> int:
        return int(sum(s.nbytes for s in self.sequences) + self.targets.nbytes)

    def __len__(self) -> int:
        return len(self.sequences)
