"""The records of the data, the candidates and the search."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from selector.choices import Cell, Direction, Task, check_choice, choices
from selector.errors import ParameterError, at_least, positive

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
    task: Task
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
    n_series: int | None = None  # forecasting: how many series the windows come from
    season: int | None = None  # forecasting: steps per cycle (`selector.data.seasons`)
    lookbacks: tuple[int, ...] = ()  # forecasting: the lookbacks searched (none: fixed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataProfile:
        return cls(**{**d, "feature_names": tuple(d["feature_names"]),
                      "target_names": tuple(d["target_names"]),
                      "classes": tuple(ClassCount(**c) for c in d["classes"]),
                      "lookbacks": tuple(d.get("lookbacks", ()))})


CELLS: tuple[Cell, ...] = choices(Cell)


@dataclass(frozen=True)
class ModelConfig:
    """One candidate architecture and its training hyperparameters."""

    cell: Cell
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0  # between stacked layers; 0 when num_layers == 1
    bidirectional: bool = False
    learning_rate: float = 1e-3
    batch_size: int = 64
    weight_decay: float = 0.0
    embedding_dim: int = 64  # text data only
    lookback: int | None = None  # forecasting: the last steps of each window read (None: all)

    def __post_init__(self) -> None:
        check_choice("cell", self.cell, Cell)
        for name in ("hidden_size", "num_layers", "batch_size", "embedding_dim", "lookback"):
            at_least(name, getattr(self, name), 1)
        positive("learning_rate", self.learning_rate)
        at_least("weight_decay", self.weight_decay, 0)
        if not 0 <= self.dropout < 1:
            raise ParameterError("dropout", "must be at least 0 and below 1", self.dropout)


@dataclass(frozen=True)
class TrainingSettings:
    """How every candidate is trained: the same for both cells."""

    max_epochs: int = 30
    patience: int = 5
    gradient_clip: float = 1.0
    min_epochs_before_pruning: int = 2


@dataclass(frozen=True)
class Budgets:
    """Hard limits; None means no limit.

    Parameters and batch-1 latency are known before training, so the search rejects
    candidates over them untrained; training time is known after, so the decision applies it.
    """

    max_params: int | None = None
    max_latency_ms: float | None = None
    max_train_seconds: float | None = None  # one final training run, to convergence

    def __post_init__(self) -> None:
        at_least("max_params", self.max_params, 1)
        positive("max_latency_ms", self.max_latency_ms)
        positive("max_train_seconds", self.max_train_seconds)


@dataclass(frozen=True)
class Cost:
    """What a candidate costs, measured the same way for both cells on this machine."""

    parameters: int
    recurrent_parameters: int
    macs_per_step: int  # multiply-adds of the recurrent layers for one step of one sequence
    size_bytes: int
    train_seconds_per_epoch: float  # the training part of an epoch, one-time work left out
    epochs_trained: int
    best_epoch: int  # 1-based epoch of the best validation score: epochs to converge
    time_to_best_s: float  # whole epochs (training and validation) up to the best one
    setup_seconds: float  # one-time work of this process during the run, counted nowhere else
    latency_ms_p50: float  # batch size 1
    latency_ms_p95: float | None  # None from fewer than MIN_P95_TIMINGS timings
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

    cell: Cell
    trials: int
    complete: int
    pruned: int
    rejected: int  # over a hard budget, never trained
    failed: int
    epochs: int
    train_seconds: float  # of every epoch of every trial
    best_trial: int | None
    best_score: float | None
    best_config: ModelConfig | None
    best_cost: Cost | None
    setup_seconds: float = 0.0  # one-time work during its trials, in no epoch's time


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
    task: Task
    score_name: str
    direction: Direction
    n_trials: int  # trials that count towards the budget (complete + pruned)
    cells: tuple[CellResult, ...]
    pareto_trials: tuple[int, ...] = ()  # multi-objective mode: trial numbers on the front
    tracking: TrackingSummary | None = None
    space: str = ""  # the search space's name
    space_reason: str | None = None  # why the data's profile chose it; None: it was given

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
