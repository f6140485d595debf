"""The final comparison's records: each cell's best configuration retrained with k seeds."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from selector.choices import Cell, Direction
from selector.records._search import Cost
from selector.versions import COMPARISON


@dataclass(frozen=True)
class ScaleFree:
    """Forecast accuracy that averages across series of any scale (`selector.training.scaled`):
    MASE against each series' seasonal naive forecast on its training part (None: every series
    constant), and sMAPE in percent; each per series, then averaged over series."""

    mase: float | None
    smape: float


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
    scale_free: ScaleFree | None = None  # forecasting: MASE and sMAPE of the same outputs

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
    # batch-1 inference in ONNX Runtime, the runtime that serves the handed-over model (CPU)
    served_latency_ms: dict[str, float] | None = None
    served_latency_ratio: Ratio | None = None


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
    """The handed-over model: the chosen configuration retrained on train + validation and
    scored on the test split; for forecasts, then trained on every step, the model handed over
    (``whole_history_seconds`` its training time; None: not, or cut by the budget)."""

    cell: Cell
    seed: int
    epochs: int  # the median best epoch of the cell's final runs
    train_seconds: float
    test_score: float  # scored once, on the untouched test split
    scale_free: ScaleFree | None = None  # forecasting: on the same test windows
    whole_history_seconds: float | None = None


@dataclass(frozen=True)
class HandedOverForecast:
    """The forecast made from the series' own past that was handed over instead of a cell's
    model (`selector.api.handover.repeat_to_hand_over`): its baseline's name, the rationale's
    sentence that says why, and the recommended cell it beat on the test split (None: neither
    cell learned), for `selector report` to say it again whatever it re-decides."""

    name: str
    said: str
    beat: Cell | None = None


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
    season: int = 0  # forecasting: the season of MASE and the seasonal naive baseline
    baselines_scale_free: dict[str, ScaleFree] = field(default_factory=dict)  # on test
    fallback: HandedOverForecast | None = None  # handed over instead of a cell's model
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
            SeedRun(**{**r, "cost": Cost(**r["cost"]), "outcomes": tuple(r["outcomes"]),
                       "scale_free": _scale_free(r.get("scale_free"))})
            for r in c["runs"])}) for c in d["cells"])
        return cls(**{
            **d, "seeds": tuple(d["seeds"]), "cells": cells,
            "equal_config": tuple(EqualConfigTiming(**{
                **e, "train_step_ratio": Ratio(**e["train_step_ratio"]),
                "latency_ratio": Ratio(**e["latency_ratio"]),
                "served_latency_ratio": Ratio(**e["served_latency_ratio"])
                if e.get("served_latency_ratio") else None}) for e in d["equal_config"]),
            "latency": tuple(RuntimeLatency(**{**t, "ratio": Ratio(**t["ratio"])})
                             for t in d["latency"]),
            "long_range": tuple(LongRange(**r) for r in d["long_range"]),
            "budget_notes": tuple(d.get("budget_notes", ())),
            "baselines_scale_free": {k: ScaleFree(**v) for k, v in
                                     d.get("baselines_scale_free", {}).items()},
            "refit": Refit(**{**d["refit"], "scale_free": _scale_free(
                d["refit"].get("scale_free"))}) if d["refit"] else None,
            "fallback": HandedOverForecast(**d["fallback"]) if d.get("fallback") else None})


def _scale_free(stored: dict[str, Any] | None) -> ScaleFree | None:
    return None if stored is None else ScaleFree(**stored)
