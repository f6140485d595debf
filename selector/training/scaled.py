"""Scale-free forecast accuracy: MASE and sMAPE, per series, then averaged over series.

RMSE is in the targets' units: across a panel it is in each series' own standard units
(`selector.data.panel`), and neighbours (neuralforecast, statsforecast, the M4 competition)
report MASE and sMAPE, which need no such convention:

- MASE (Hyndman & Koehler 2006): the forecast's mean absolute error on a series divided by
  the seasonal naive forecast's on that series' training part (`selector.data.seasons`);
  below 1 beats that naive forecast. A constant series cannot be scaled and is left out.
- sMAPE, in percent: the mean of 200 |y - f| / (|y| + |f|) in the user's units (0 where
  both are 0), as in the M4 competition.

Both are measured over every step of the horizon and every target of a series' windows,
then averaged over series, each series weighing the same.
"""

from __future__ import annotations

import numpy as np

from selector.data.dataset import ForecastScale, SequenceData
from selector.records import ScaleFree


def scale_free(predicted: np.ndarray, data: SequenceData, indices: np.ndarray
               ) -> ScaleFree | None:
    """MASE and sMAPE of ``predicted`` (shaped and scaled as the targets of ``indices``);
    None for data that is not forecast."""
    scale = data.forecast_scale
    if scale is None or not len(indices):
        return None
    targets = data.targets[indices].astype(np.float64)
    predicted = np.asarray(predicted, dtype=np.float64).reshape(targets.shape)
    series = scale.window_series[indices]
    actual, forecast = (_user_units(v, scale, indices) for v in (targets, predicted))
    total = np.abs(actual) + np.abs(forecast)
    ape = np.divide(2 * np.abs(actual - forecast), total, out=np.zeros_like(total),
                    where=total > 0)
    smape = [ape[series == k].mean() for k in np.unique(series)]
    weighted = _weighted_mase(np.abs(predicted - targets), scale, indices)
    return ScaleFree(mase=None if weighted is None else float(weighted.mean()),
                     smape=100 * float(np.mean(smape)))


def scored_by_mase(data: SequenceData) -> bool:
    """Whether the final comparison and the verdict judge ``data`` by MASE: a panel (several
    series, each in its own standard units, so RMSE weighs them by how well each was
    standardised) with at least one series that is not constant."""
    scale = data.forecast_scale
    return (scale is not None and len(scale.naive_mae) > 1
            and bool(np.isfinite(scale.naive_mae).any()))


def mase_outcomes(predicted: np.ndarray, data: SequenceData, indices: np.ndarray) -> np.ndarray:
    """Each window's share of the panel's MASE, in the order of ``indices``: its absolute
    errors over the seasonal naive error of its series (per target, averaged over steps and
    the targets that can be scaled), weighted by the windows and scalable targets of its
    series so that their plain mean is the MASE of `scale_free`. Linear in the errors, so
    the paired statistics of `selector.decision.stats` treat it as they treat accuracy."""
    scale = data.forecast_scale
    assert scale is not None, "MASE needs forecast data"
    targets = data.targets[indices].astype(np.float64)
    errors = np.abs(np.asarray(predicted, dtype=np.float64).reshape(targets.shape) - targets)
    weighted = _weighted_mase(errors, scale, indices)
    if weighted is None:
        raise ValueError("every series of these windows is constant: no MASE")
    return weighted


def _user_units(stored: np.ndarray, scale: ForecastScale, indices: np.ndarray) -> np.ndarray:
    """Values of the windows of ``indices`` (windows x steps x targets) in the stored units,
    turned into the user's: times each window's spread, plus its level, then its series'."""
    series = scale.window_series[indices]
    in_series = (stored * scale.window_spread[indices][:, None, None]
                 + scale.window_level[indices][:, None, None])
    return in_series * scale.spread[series][:, None, :] + scale.level[series][:, None, :]


def _weighted_mase(errors: np.ndarray, scale: ForecastScale, indices: np.ndarray
                   ) -> np.ndarray | None:
    """Per window of ``indices`` (errors: windows x steps x targets, in the stored units),
    the weighted scaled error whose mean is the mean over (series, target) pairs of each
    pair's MASE; None when no pair scales."""
    errors = errors * scale.window_spread[indices][:, None, None]  # in the series' units
    series = scale.window_series[indices]
    naive = scale.naive_mae[series]  # (windows, targets)
    usable = np.isfinite(naive) & (naive > 0)
    pairs = sum(int(usable[series == k][0].sum()) for k in np.unique(series))
    if not pairs:
        return None
    ratios = np.divide(errors.mean(axis=1), naive, out=np.zeros_like(naive), where=usable)
    windows = np.bincount(series)[series]  # each window's series' count of windows
    return ratios.sum(axis=1) * len(series) / (windows * pairs)
