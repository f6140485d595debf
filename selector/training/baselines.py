"""Trivial baselines: the score of a predictor that learned nothing from the sequences.

A cell's score means little without them. Long-range tasks (the adding problem, copy memory)
sit at the trivial predictor's loss for many epochs before they learn, and a run stopped there
has not been trained, whatever its score. Each baseline is fitted on the training split only
and scored on the sequences given:

- classification: the majority class of the training split;
- regression and forecasting: the training split's mean target;
- forecasting, where the target series are among the inputs, the four simple methods of
  Hyndman & Athanasopoulos (*Forecasting: Principles and Practice*, §5.2): the mean above; the
  last value, the last input step of each target series held over the horizon; the seasonal
  naive forecasts, each step the value one season before it, for the season and, in a series
  that steps within a day, the week (`selector.data.seasons.cycles_of`; each where the
  lookback holds it); and the drift, the last value plus the window's average step per step
  ahead (the line through the window's first and last steps, extended). Drift is the one to
  beat on trending yearly series: on M1's, it forecasts the held-out years better than the
  last value and than neuralforecast's Auto models (bench/README §14).

`learned` is the rule for "did it learn": its skill over the strongest baseline (the share of
the baseline's error it removes) is at least `LEARNED_SKILL`, and its score is more than
`NOISE_Z` standard errors beyond the baseline's on the same sequences (`Baseline.noise`). The
second part is for classification: a run at chance flips its guesses from sequence to
sequence, so on 600 sequences of a 50/50 task its accuracy wobbles by 2 points (one
standard error) and passes a 2% skill again and again over a plateau of tens of epochs.
Three standard errors: the best of 40 independent epochs at chance passes it about one time
in twenty. A regression or forecasting run on its plateau predicts about the baseline's
mean itself, so its score sits at the baseline's (0.408 against 0.409 on the adding
problem) and its noise is left at 0: the 2% skill is the rule there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from selector.choices import Direction, sign
from selector.data.dataset import SequenceData
from selector.training.scaled import scale_free, scored_by_mase

LEARNED_SKILL = 0.02  # a run learned when it removes at least 2% of the baseline's error
NOISE_Z = 3.0  # ... and its score is this many standard errors beyond the baseline's


@dataclass(frozen=True)
class Naive:
    """A forecast made from each target series' own past alone (`repeats`): step h of the
    horizon is the value ``season`` steps before it (season 1: the last value), or with
    ``drift``, the last value plus h times the window's average step."""

    season: int = 1
    drift: bool = False

    @property
    def column(self) -> str:
        """Its predictions' column, as statsforecast names these models."""
        return "RWD" if self.drift else "Naive" if self.season == 1 else "SeasonalNaive"

    def reads(self, lookback: int, horizon: int) -> np.ndarray:
        """The steps of a ``lookback``-step window it reads: the window's two ends for the
        drift, else the step each horizon step repeats."""
        if self.drift:
            return np.array([0, lookback - 1])
        return lookback - self.season + np.arange(horizon) % self.season

    def predict(self, read: np.ndarray, lookback: int, horizon: int) -> np.ndarray:
        """The forecasts over ``horizon`` steps from ``read`` (n, steps, series: the steps of
        windows of ``lookback`` steps that `reads` names), in whatever units they are given
        (each forecast is a weighted mean of the steps, so it commutes with shifting and
        scaling them)."""
        if not self.drift:
            return read
        first, last = read[:, :1], read[:, 1:]
        ahead = np.arange(1, horizon + 1)[None, :, None]
        return last + ahead * (last - first) / (lookback - 1)


@dataclass(frozen=True)
class Baseline:
    """One trivial predictor and its score (accuracy or RMSE, the user's units)."""

    name: str  # "majority class", "mean", "last value", "seasonal naive (season m)", "drift"
    score: float
    noise: float = 0.0  # classification: the standard error of an accuracy at this level


def baselines(data: SequenceData, indices: np.ndarray,
              fit_on: np.ndarray | None = None) -> tuple[Baseline, ...]:
    """The trivial predictors' scores on the sequences ``indices``, fitted on ``fit_on``
    (default: the training split)."""
    fit_on = data.splits.train if fit_on is None else fit_on
    targets = data.targets[indices]
    if data.task == "classification":
        majority = np.bincount(data.targets[fit_on].astype(np.int64)).argmax()
        accuracy = float(np.mean(targets == majority))
        noise = math.sqrt(accuracy * (1 - accuracy) / len(indices)) if len(indices) else 0.0
        return (Baseline("majority class", accuracy, noise),)
    return tuple(Baseline(name, _rmse(targets, predicted))
                 for name, predicted in forecasts(data, indices, fit_on).items())


def forecasts(data: SequenceData, indices: np.ndarray,
              fit_on: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The numeric baselines' predictions for the sequences ``indices``, by name, shaped and
    scaled as their targets."""
    fit_on = data.splits.train if fit_on is None else fit_on
    shape = (len(indices), *data.targets.shape[1:])
    found = {"mean": np.broadcast_to(data.targets[fit_on].astype(np.float64).mean(axis=0), shape)}
    for name, naive in repeats(data).items():
        repeated = _repeated(data, indices, naive)
        if repeated is not None:
            found[name] = repeated
    return found


def repeats(data: SequenceData) -> dict[str, Naive]:
    """The forecasts made from the target series' own past (`Naive`), by name; none outside
    forecasting."""
    if data.task != "forecasting":
        return {}
    cycles = data.forecast_scale.cycles if data.forecast_scale is not None else ()
    return ({"last value": Naive()} | {f"seasonal naive (season {m})": Naive(m)
                                        for m in cycles if m > 1}
            | {"drift": Naive(drift=True)})


def fallback(data: SequenceData) -> tuple[Baseline, Naive] | None:
    """The forecast to hand over when neither cell learned: the strongest on the validation
    split of those made from the series' own past (`repeats`), by the score the verdict
    decides on (a panel's MASE, where RMSE in each window's units would weigh the series
    unevenly; else RMSE), and how it is made; None when none can be made from the inputs
    (the targets are not among them, or the task is not a forecast)."""
    made = repeats(data)
    val = data.splits.val
    by_mase = scored_by_mase(data)
    found = []
    for name, predicted in forecasts(data, val).items():
        if name not in made:
            continue
        free = scale_free(predicted, data, val) if by_mase else None
        score = _rmse(data.targets[val], predicted) if free is None else free.mase
        if score is not None and math.isfinite(score):
            found.append(Baseline(name, score))
    if not found:
        return None
    best = strongest(tuple(found), "minimize")
    return best, made[best.name]


def strongest(found: tuple[Baseline, ...], direction: Direction) -> Baseline:
    """The baseline that is hardest to beat."""
    better = sign(direction)
    return max(found, key=lambda b: better * b.score)


def skill(score: float, baseline: float, direction: Direction) -> float:
    """The share of the baseline's error that ``score`` removes (1: perfect, 0: no better,
    negative: worse). The error is 1 - accuracy, or the RMSE itself."""
    error, base = (1 - score, 1 - baseline) if direction == "maximize" else (score, baseline)
    if base <= 0:
        return -math.inf if error > 0 else 0.0  # a perfect baseline leaves nothing to learn
    return 1 - error / base


def learned(score: float, baseline: float, direction: Direction, noise: float = 0.0) -> bool:
    """Whether a score beats the trivial baseline by more than a plateau's wobble: by
    `LEARNED_SKILL` of its error and by `NOISE_Z` times ``noise`` (`Baseline.noise`)."""
    return (math.isfinite(score) and skill(score, baseline, direction) >= LEARNED_SKILL
            and sign(direction) * (score - baseline) > NOISE_Z * noise)


def _rmse(targets: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((targets.astype(np.float64) - predicted) ** 2)))


def _repeated(data: SequenceData, indices: np.ndarray, naive: Naive) -> np.ndarray | None:
    """Each window's ``naive`` forecast of its target series over the horizon, in the
    targets' units; None when the targets are not among the inputs or the lookback is
    shorter than the season (or than two steps, for the drift)."""
    if not set(data.target_names) <= set(data.feature_names) or data.targets.ndim != 3:
        return None
    if not len(indices):
        return None
    lookback, horizon = len(data.sequences[indices[0]]), data.targets.shape[1]  # windows: equal
    if naive.season > lookback or (naive.drift and lookback < 2):
        return None
    columns = [data.feature_names.index(n) for n in data.target_names]
    prep = data.preprocessing
    mean, std = np.asarray(prep.feature_mean)[columns], np.asarray(prep.feature_std)[columns]
    steps = naive.reads(lookback, horizon)
    read = np.stack([data.sequences[i][steps][:, columns] for i in indices])
    return naive.predict(read.astype(np.float64) * std + mean, lookback, horizon)
