"""Forecasting a panel from given cut-off dates: each series as it stood at a past time.

neuralforecast's ``cross_validation`` and its neighbours backtest a model this way: for each
cut-off, every series' rows up to it are the history, the model forecasts the ``horizon``
steps after it, and where the request holds those steps their values come back beside the
forecast. `at_cutoff` cuts a request; `selector.serving.predict` runs each cut.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from selector.data.formats import ColumnFinder, order_values
from selector.data.options import DataOptions
from selector.data.panel import PANEL_ID_COLUMNS, PANEL_TIME_COLUMNS, when
from selector.errors import DataError, param


def cutoff_value(cutoff: str, times: np.ndarray, source: str, time_col: str) -> Any:
    """``cutoff`` as a value of the time column (a date, or a number)."""
    try:
        if np.issubdtype(times.dtype, np.datetime64):
            return np.datetime64(pd.Timestamp(cutoff))
        return float(cutoff)
    except ValueError:
        kind = "date" if np.issubdtype(times.dtype, np.datetime64) else "number"
        raise DataError(source, f"{param('cutoff')} {cutoff!r} is not a {kind}, as the times "
                        f"in '{time_col}' are (e.g. {when(times[0])}).") from None


def at_cutoff(frame: pd.DataFrame, options: DataOptions, target: str, cutoff: str,
              source: str) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """The request as it stood at ``cutoff``: each series' rows up to it (with known-ahead
    covariates, also the ``horizon`` rows after it, their target emptied), those rows after
    it as given (the actual values, where known), and the cut-off as a time value."""
    find = ColumnFinder(frame, source)
    id_col = find(options.id_col, PANEL_ID_COLUMNS, "series-id", "id_col")
    time_col = find(options.time_col, PANEL_TIME_COLUMNS, "time", "time_col")
    times = order_values(frame[time_col], source, time_col)
    at = cutoff_value(cutoff, times, source, time_col)
    before = times <= at
    if not before.any():
        raise DataError(source, f"{param('cutoff')} {cutoff} is before every row: the "
                        f"earliest time in '{time_col}' is {when(times.min())}.")
    order = np.argsort(times[~before], kind="stable")
    later = frame[~before].iloc[order]
    after = later.groupby(later[id_col], sort=False).head(options.horizon)
    history = frame[before]
    if options.future_features:
        history = pd.concat([history, after.assign(**{target: np.nan})])
    return history, after, at


def with_actuals(forecast: pd.DataFrame, after: pd.DataFrame, at: Any, id_col: str,
                 time_col: str, target: str) -> pd.DataFrame:
    """``forecast`` (id, time, model) with the cut-off after the time and the target's
    values from ``after`` where given, as neighbours lay a backtest out."""
    times = order_values(after[time_col], "the request", time_col)
    actual = pd.DataFrame({id_col: after[id_col].to_numpy(), time_col: times,
                           target: pd.to_numeric(after[target], errors="coerce").to_numpy()})
    found = forecast.copy()
    if not np.issubdtype(times.dtype, np.datetime64):
        found[time_col] = found[time_col].astype(np.float64)
        actual[time_col] = actual[time_col].astype(np.float64)
    found.insert(2, "cutoff", pd.Timestamp(at) if isinstance(at, np.datetime64) else at)
    return found.merge(actual, on=[id_col, time_col], how="left")
