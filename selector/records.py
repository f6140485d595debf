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


CELLS = ("gru", "lstm")


@dataclass(frozen=True)
class ModelConfig:
    """One candidate architecture and its training hyperparameters."""

    cell: str
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0  # between stacked layers; 0 when num_layers == 1
    bidirectional: bool = False
    learning_rate: float = 1e-3
    batch_size: int = 64
    weight_decay: float = 0.0
    embedding_dim: int = 64  # text data only


@dataclass(frozen=True)
class TrainingSettings:
    """How every candidate is trained: the same for both cells."""

    max_epochs: int = 30
    patience: int = 5
    gradient_clip: float = 1.0
    min_epochs_before_pruning: int = 2


@dataclass(frozen=True)
class Cost:
    """What a candidate costs, measured the same way for both cells on this machine."""

    parameters: int
    recurrent_parameters: int
    size_bytes: int
    train_seconds_per_epoch: float
    epochs_trained: int
    best_epoch: int  # 1-based epoch of the best validation score: epochs to converge
    latency_ms_p50: float  # batch size 1
    latency_ms_p95: float
    batch_latency_ms_p50: float  # at the throughput batch size
    throughput_per_s: float
    throughput_batch_size: int
    peak_memory_bytes: int  # training: weights, gradients, optimizer state, saved activations
    device: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CellResult:
    """The search effort one cell received, and its best candidate."""

    cell: str
    trials: int
    complete: int
    pruned: int
    rejected: int  # over a hard budget, never trained
    failed: int
    epochs: int
    train_seconds: float
    best_trial: int | None
    best_score: float | None
    best_config: dict[str, Any] | None
    best_cost: dict[str, Any] | None


@dataclass(frozen=True)
class TrackingSummary:
    """Where the study was logged in MLflow, and what could not be logged."""

    uri: str  # password masked
    experiment_name: str
    experiment_id: str
    parent_run_id: str
    logged_trials: int
    unlogged_trials: tuple[int, ...]  # kept in the study; re-running the command logs them
    error: str | None  # the last tracking failure, if any
    overhead_seconds: float  # time the searching process spent on tracking and plots


@dataclass(frozen=True)
class SearchSummary:
    """Where the search stands: per-cell effort and bests, read back from the study storage."""

    study_name: str
    storage: str  # password masked
    task: str
    score_name: str
    direction: str
    n_trials: int  # trials that count towards the budget (complete + pruned)
    cells: tuple[CellResult, ...]
    pareto_trials: tuple[int, ...] = ()  # multi-objective mode: trial numbers on the front
    tracking: TrackingSummary | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
