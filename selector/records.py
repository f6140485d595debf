"""Plain, frozen records passed between stages and written out as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from selector.choices import Cell, Confidence, Direction, Prefer, Reason, Task, check_choice, choices
from selector.errors import ParameterError, at_least, positive
from selector.versions import COMPARISON

# Thresholds the decision criteria (selector/docs/criteria.md) read off the profile.
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataProfile:
        return cls(**{**d, "feature_names": tuple(d["feature_names"]),
                      "target_names": tuple(d["target_names"]),
                      "classes": tuple(ClassCount(**c) for c in d["classes"])})


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

    def __post_init__(self) -> None:
        check_choice("cell", self.cell, Cell)
        for name in ("hidden_size", "num_layers", "batch_size", "embedding_dim"):
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


# -- the final comparison: each cell's best configuration retrained with k seeds -------------



@dataclass(frozen=True)
class SeedRun:
    """One final training run of a cell's best configuration with one seed."""

    seed: int
    test_score: float  # of the best validation epoch's weights, on the scored sequences
    val_score: float  # best validation score of the run (picks the model to hand over)
    train_seconds: float  # the whole run, early-stopping patience included, one-time work not
    cost: Cost
    outcomes: tuple[float, ...] = ()  # per scored sequence: 1/0 right or wrong, or squared error
    fold: int | None = None  # cross-validation: the fold whose held-out part was scored
    learned: bool = True  # its validation score beat the trivial baseline's (selector.training.baselines)
    cut: bool = False  # --budget ended its training before early stopping did
    trial: int | None = None  # the search trial it is (--budget reuses a cell's best trial)
    stands_for: int | None = None  # a reused trial: the seed whose pair it takes

    @property
    def pair(self) -> tuple[int, int]:
        """What it is paired with in the other cell: the same seed and fold; a reused search
        trial takes the pair of the seed it ``stands_for`` (one stored without: the other
        cell's reused trial)."""
        if self.trial is not None:
            return (-1, 0) if self.stands_for is None else (self.stands_for, 0)
        return self.seed, self.fold or 0


@dataclass(frozen=True)
class FinalCell:
    """A cell's best search configuration, retrained with every seed on the same splits."""

    cell: Cell
    trial: int  # the search trial the configuration comes from
    config: dict[str, Any]
    runs: tuple[SeedRun, ...]
    search_best_val: float  # best and median validation score of the cell's complete
    search_median_val: float  # search trials: how much the hyperparameters mattered (E3)


@dataclass(frozen=True)
class Ratio:
    """LSTM / GRU for one measured cost, with the interval of its noise."""

    value: float
    low: float
    high: float
    level: float

    @property
    def credible(self) -> bool:
        """The interval excludes 1: the cells really differ on this cost."""
        return self.low > 1.0 or self.high < 1.0


@dataclass(frozen=True)
class EqualConfigTiming:
    """Both cells at one identical configuration (G1's "equivalent" networks), timed in
    interleaved rounds so that both see the same machine."""

    config: dict[str, Any]
    train_step_ms: dict[str, float]  # cell -> median forward+backward+step at the batch size
    latency_ms: dict[str, float]  # cell -> median batch-1 inference (eager)
    parameters: dict[str, int]
    train_step_ratio: Ratio  # LSTM / GRU, per round
    latency_ratio: Ratio


@dataclass(frozen=True)
class RuntimeLatency:
    """Batch-1 latency of both cells' handed-over models on one runtime, interleaved."""

    runtime: str  # "eager" (PyTorch) or "onnx" (ONNX Runtime, what the exported model runs)
    timings: int  # per cell
    p50_ms: dict[str, float]
    p95_ms: dict[str, float | None]
    ratio: Ratio  # LSTM / GRU of the medians


@dataclass(frozen=True)
class LongRange:
    """L1: one cell and seed retrained on only the last ``context_steps`` of each sequence."""

    cell: Cell
    seed: int
    share: float  # of the median length that the context model sees
    median_steps: int
    context_steps: int
    full_score: float  # the same cell, configuration and seed on whole sequences (test)
    context_score: float


@dataclass(frozen=True)
class Refit:
    """The handed-over model: the chosen configuration retrained on train + validation."""

    cell: Cell
    seed: int
    epochs: int  # the median best epoch of the cell's final runs
    train_seconds: float
    test_score: float  # scored once, on the untouched test split


@dataclass(frozen=True)
class FinalComparison:
    """Everything measured after the search; stored on the study so reports need no retraining."""

    score_name: str
    direction: Direction
    seeds: tuple[int, ...]
    cells: tuple[FinalCell, ...]
    equal_config: tuple[EqualConfigTiming, ...]
    long_range: tuple[LongRange, ...]
    device: str
    latency: tuple[RuntimeLatency, ...] = ()
    setup_seconds: float = 0.0  # one-time work (kernel load, shape timings): no run counts it
    refit: Refit | None = None
    method: str = "seeds"  # "seeds": scored on the test split; "cv": k-fold over train + val
    test_train_ratio: float = 0.0  # cv: held-out / training sequences of a fold (Nadeau-Bengio)
    baselines: dict[str, float] = field(default_factory=dict)  # trivial predictors, on test
    budget_notes: tuple[str, ...] = ()  # what --budget cut, in words
    least_seeds: int = 0  # sequential: pairs before the first look (0: every seed, fixed)
    stopped: str = ""  # sequential: why pairs stopped: "decided", "budget" or "maximum"
    version: int = COMPARISON.version  # its `selector.versions.COMPARISON` marker

    def seeds_run(self) -> tuple[int, ...]:
        """The seeds that ran: all of ``seeds`` unless a sequential comparison stopped early."""
        if not self.least_seeds or not self.cells:
            return self.seeds
        ran = {r.pair[0] for r in self.cells[0].runs}
        return tuple(s for s in self.seeds if s in ran)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seeds_run": list(self.seeds_run())}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FinalComparison:
        d = {k: v for k, v in d.items() if k != "seeds_run"}
        cells = tuple(FinalCell(**{**c, "runs": tuple(
            SeedRun(**{**r, "cost": Cost(**r["cost"]), "outcomes": tuple(r["outcomes"])})
            for r in c["runs"])}) for c in d["cells"])
        return cls(**{
            **d, "seeds": tuple(d["seeds"]), "cells": cells,
            "equal_config": tuple(EqualConfigTiming(**{
                **e, "train_step_ratio": Ratio(**e["train_step_ratio"]),
                "latency_ratio": Ratio(**e["latency_ratio"])}) for e in d["equal_config"]),
            "latency": tuple(RuntimeLatency(**{**t, "ratio": Ratio(**t["ratio"])})
                             for t in d["latency"]),
            "long_range": tuple(LongRange(**r) for r in d["long_range"]),
            "budget_notes": tuple(d.get("budget_notes", ())),
            "refit": Refit(**d["refit"]) if d["refit"] else None})


# -- the decision ---------------------------------------------------------------------------

PRESETS: tuple[Prefer, ...] = choices(Prefer)


@dataclass(frozen=True)
class Preferences:
    """What the user values; ``None`` fields take the ``prefer`` preset's default."""

    prefer: Prefer = "balanced"
    min_gain: float | None = None  # smallest worthwhile gain of LSTM over GRU, metric units
    confidence_level: float | None = None  # of the paired interval that makes a gain credible

    def __post_init__(self) -> None:
        check_choice("prefer", self.prefer, Prefer)
        at_least("min_gain", self.min_gain, 0)
        if self.confidence_level is not None and not 0 < self.confidence_level < 1:
            raise ParameterError("confidence_level", "must be between 0 and 1 (exclusive)",
                                 self.confidence_level)


@dataclass(frozen=True)
class Criterion:
    """One rule of selector/docs/criteria.md applied to this data: does it apply, is it borne
    out."""

    id: str
    title: str
    favours: str  # "gru", "lstm" or "either"
    claim: str
    applies: bool
    borne_out: str  # "yes", "no", "partly" or "untested"
    evidence: str


@dataclass(frozen=True)
class CellEvidence:
    """A cell's measured test score and cost, averaged over its seed runs."""

    cell: Cell
    trial: int
    config: dict[str, Any]
    test_scores: tuple[float, ...]
    test_mean: float
    test_std: float
    cost: dict[str, float]  # mean over seeds: every Cost field, train_seconds, time_to_best_s
    violations: tuple[str, ...]  # hard budgets it breaks


@dataclass(frozen=True)
class Comparison:
    """LSTM against GRU, paired by seed and by test example: the gain is positive when LSTM
    scores better. The interval covers seed noise and test-sample noise (`decision.paired_gain`)."""

    gain_mean: float | None
    ci_low: float | None
    ci_high: float | None
    level: float
    p_value: float | None
    pairs: int  # seed pairs
    min_gain: float
    min_gain_source: str
    cost_ratios: dict[str, float]  # LSTM / GRU for each cost dimension
    cost_index: float | None  # weighted geometric mean of the credible ratios (> 1: GRU cheaper)
    seed_sd: float | None = None  # of the mean gain, from the spread between seeds
    example_sd: float | None = None  # of the mean gain, from the spread between test examples
    examples: int = 0  # test sequences paired
    credible_costs: tuple[str, ...] = ()  # the cost ratios that are more than their noise
    size_ratio: float | None = None  # LSTM / GRU multiply-adds per step: decides a toss-up
    method: str = "seeds"  # "seeds" (paired per seed and test example) or "cv" (per fold)
    learned: dict[str, int] = field(default_factory=dict)  # cell -> runs that beat the baseline
    runs: dict[str, int] = field(default_factory=dict)  # cell -> final runs
    cut: dict[str, int] = field(default_factory=dict)  # cell -> runs --budget cut short
    most_pairs: int = 0  # sequential: the most seed pairs (0: a fixed number, ``pairs``)
    stopped: str = ""  # sequential: "decided", "budget" or "maximum"
    look_level: float | None = None  # sequential: the repeated interval's level at this look


@dataclass(frozen=True)
class Recommendation:
    """The verdict, how sure it is, and the evidence for it criterion by criterion."""

    verdict: Cell | None  # "gru", "lstm", or None when no cell meets the hard budgets
    confidence: Confidence  # "clear", "lean", "toss-up" or "none"
    reason: Reason  # the rule that decided (`selector.decision.verdict`)
    headline: str
    rationale: tuple[str, ...]
    score_name: str
    direction: Direction
    prefer: str
    budgets: Budgets
    cells: tuple[CellEvidence, ...]
    comparison: Comparison
    criteria: tuple[Criterion, ...]

    def cell(self, name: str) -> CellEvidence | None:
        return next((c for c in self.cells if c.cell == name), None)
