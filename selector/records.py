"""Plain, frozen records passed between stages and written out as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# Thresholds the decision criteria (../shared/criteria.md) read off the profile.
SHORT_SEQUENCE_STEPS = 100  # G2: "sequences shorter than about 100 steps"
SMALL_TRAINING_SET = 2_000  # G3: below this many training sequences, data is "small"
LARGE_TRAINING_SET = 50_000  # L2: at or above this many, data is "large"


@dataclass(frozen=True)
class ClassCount:
    label: str
    count: int
    share: float


@dataclass(frozen=True)
class DataProfile:
    """What a dataset looks like, and the numbers the decision criteria need."""

    source: str
    format: str
    task: str
    n_sequences: int
    n_train: int
    n_val: int
    n_test: int
    split_rule: str
    length_min: int
    length_median: float
    length_p95: float
    length_max: int
    n_features: int
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    classes: tuple[ClassCount, ...]
    class_balance: float | None  # smallest class count / largest; None unless classification
    vocabulary_size: int | None
    lookback: int | None
    horizon: int | None
    memory_bytes: int
    short_sequences: bool  # G2: median length under SHORT_SEQUENCE_STEPS
    training_size: str  # "small" (G3), "medium" or "large" (L2)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
