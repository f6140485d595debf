"""Trivial baselines: the score of a predictor that learned nothing from the sequences.

A cell's score means little without them. Long-range tasks (the adding problem, copy memory)
sit at the trivial predictor's loss for many epochs before they learn, and a run stopped there
has not been trained, whatever its score. Each baseline is fitted on the training split only
and scored on the sequences given:

- classification: the majority class of the training split;
- regression and forecasting: the training split's mean target;
- forecasting: the last value, the last input step of each target series held over the horizon
  (when the target series are among the inputs), and the seasonal naive forecasts, each step
  the value one season before it, for the season and, in a series that steps within a day,
  the week (`selector.data.seasons.cycles_of`; each where the lookback holds it).

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

LEARNED_SKILL = 0.02  # a run learned when it removes at least 2% of the baseline's error
NOISE_Z = 3.0  # ... and its score is this many standard errors beyond the baseline's


@dataclass(frozen=True)
class Baseline:
    """One trivial predictor and its score (accuracy or RMSE, the user's units)."""

    name: str  # "majority class", "mean", "last value" or "seasonal naive (season m)"
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
    for name, m in repeats(data).items():
        repeated = _repeated(data, indices, m)
        if repeated is not None:
            found[name] = repeated
    return found


def repeats(data: SequenceData) -> dict[str, int]:
    """The forecasts that repeat the target series' past, by name, with how many steps back
    they repeat from (1: the last value); none outside forecasting."""
    if data.task != "forecasting":
        return {}
    cycles = data.forecast_scale.cycles if data.forecast_scale is not None else ()
    return {"last value": 1} | {f"seasonal naive (season {m})": m for m in cycles if m > 1}


def fallback(data: SequenceData) -> tuple[Baseline, int] | None:
    """The forecast to hand over when neither cell learned: the strongest on the validation
    split of those that repeat the series' past (`repeats`), and its season; None when none
    can be made from the inputs (the targets are not among them, or the task is not a
    forecast)."""
    seasons = repeats(data)
    found = tuple(b for b in baselines(data, data.splits.val)
                  if b.name in seasons and math.isfinite(b.score))
    if not found:
        return None
    best = strongest(found, "minimize")
    return best, seasons[best.name]


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


def _repeated(data: SequenceData, indices: np.ndarray, season: int) -> np.ndarray | None:
    """Each window's target series over the horizon as it was ``season`` steps before (its
    last input step's value for ``season`` 1), in the targets' units; None when the targets
    are not among the inputs or the lookback is shorter than the season."""
    if not set(data.target_names) <= set(data.feature_names) or data.targets.ndim != 3:
        return None
    if not len(indices):
        return None
    lookback, horizon = len(data.sequences[indices[0]]), data.targets.shape[1]  # windows: equal
    if season > lookback:
        return None
    columns = [data.feature_names.index(n) for n in data.target_names]
    prep = data.preprocessing
    mean, std = np.asarray(prep.feature_mean)[columns], np.asarray(prep.feature_std)[columns]
    steps = lookback - season + np.arange(horizon) % season  # step h repeats h - season
    inputs = np.stack([data.sequences[i][steps][:, columns] for i in indices])
    return inputs.astype(np.float64) * std + mean
