"""The decision's records: preferences, evidence, criteria and the recommendation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from selector.choices import Cell, Confidence, Direction, Prefer, Reason, check_choice, choices
from selector.errors import ParameterError, at_least
from selector.records._search import Budgets

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
