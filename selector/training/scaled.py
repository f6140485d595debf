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

from selector.data.dataset import SequenceData
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
    level, spread = scale.level[series][:, None, :], scale.spread[series][:, None, :]
    shift = scale.window_level[indices][:, None, None]
    actual, forecast = (targets + shift) * spread + level, (predicted + shift) * spread + level
    total = np.abs(actual) + np.abs(forecast)
    ape = np.divide(2 * np.abs(actual - forecast), total, out=np.zeros_like(total),
                    where=total > 0)
    errors = np.abs(predicted - targets)
    mase, smape = [], []
    for k in np.unique(series):
        rows = series == k
        mase.append(errors[rows].mean(axis=(0, 1)) / scale.naive_mae[k])
        smape.append(ape[rows].mean())
    scaled = np.concatenate(mase)
    return ScaleFree(
        mase=float(np.nanmean(scaled)) if np.isfinite(scaled).any() else None,
        smape=100 * float(np.mean(smape)))
