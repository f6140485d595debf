"""Many series in one long table (a panel), forecast by one global model across them.

The layout neuralforecast and its neighbours take: one row per series and time, with a series
id, a time and the target (``unique_id``, ``ds`` and ``y``, found by those names without flags;
other names by ``--id-col``, ``--time-col`` and ``--target``). Covariates, named by flags:

- past-only (``--features``): each window reads their values over its lookback, beside the
  target's;
- known ahead (``--future-features``: a price, a holiday): each window reads them shifted by
  the horizon, so that its last ``horizon`` steps see their values over the steps it
  forecasts. A request must give them over those steps: rows after each series' last target,
  their target empty;
- static (``--static-features``: a store's size): constant within each series, read at
  every step.

The rules:

- Each series is put in time order; a time repeated within a series is an error naming it.
- The series share one frequency: a calendar one pandas infers from the dates (daily,
  monthly, ...) or a numeric step. A series with a gap, or with another frequency, is an
  error naming it and where; series may start and end at different times (ragged).
- Each series is cut in time into training, validation and test parts as a single series is
  (`selector.data.formats.from_series_frame`). A window of ``lookback`` + ``horizon`` steps
  lies inside one series and belongs to the part that holds its targets; a validation or
  test window reads the history before its targets, as a backtest does
  (`selector.data.split.window_starts`). A series whose training part cannot hold a window,
  or whose validation or test part is shorter than the horizon, is an error naming it.
- Each series is scaled by the mean and standard deviation of its own training part (the
  target and its time-varying covariates; static columns across the series), so a series of
  sales in thousands weighs like one in units. Predictions are scaled back with the
  statistics saved with the model (`Preprocessing.series_scale`); a series the model never
  saw is scaled by the history given for it.
- Each window's target column, and the targets it forecasts, are read relative to the
  window's last target value (`Panel.window`), as neighbours scale each window: a growing
  series' later windows look like its earlier ones, so a model trained on the past is not
  asked to extrapolate to levels it never saw. The column and its targets are then divided
  by the window's spread, the column's standard deviation over the whole window (cut at the
  longest lookback searched, which a request then gives), so that swings that grow with the
  level look alike too. The model learns, is searched and is stopped early in these
  per-window units; MASE, sMAPE and forecasts are turned back into each series' own
  (`ForecastScale.window_spread`, `PanelHistory.forecast_frame`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from selector.data import split as splitting
from selector.data.dataset import Preprocessing, SequenceData, Splits
from selector.data.formats import ColumnFinder, order_values
from selector.data.lookbacks import resolve as resolve_lookback
from selector.data.options import DEFAULT_TARGET_COLUMNS, DEFAULT_TIME_COLUMNS, DataOptions
from selector.data.seasons import cycles_of, forecast_scale, season_of
from selector.data.validate import numeric_matrix, show
from selector.errors import DataError, param

PANEL_ID_COLUMNS = ("unique_id",)
PANEL_TIME_COLUMNS = ("ds", *DEFAULT_TIME_COLUMNS)
PANEL_TARGET_COLUMNS = ("y", *DEFAULT_TARGET_COLUMNS)
# the least spread a window is divided by, in its series' standard units (its training part
# has standard deviation 1): a near-flat window is not blown up into noise
WINDOW_SPREAD_FLOOR = 0.1


@dataclass(frozen=True)
class Series:
    """One series of a panel in time order: its id, times, values (target first), and the
    positions of its rows in the table."""

    uid: object
    times: np.ndarray
    values: np.ndarray  # (steps, columns), float64
    rows: np.ndarray


@dataclass(frozen=True)
class Panel:
    """A panel's series, the column of each role, and the step between two times (a pandas
    frequency alias such as 'D' or 'MS', or a number)."""

    series: list[Series]
    id_col: str
    time_col: str
    columns: tuple[str, ...]  # the target, past-only, known-ahead and static covariates
    future: int  # how many known-ahead covariates (after the target and past-only ones)
    static: int  # and static ones, last
    step: str | float

    def window(self, values: np.ndarray, start: int, lookback: int, horizon: int,
               spread: bool = True) -> tuple[np.ndarray, float, float]:
        """The model's input for the window of ``values`` (a series' rows, scaled) that
        starts at row ``start``, its level and its spread. The target column is read relative
        to the level, its last value in the window, and divided by the spread, the column's
        standard deviation over the window (at least `WINDOW_SPREAD_FLOOR`; 1 without
        ``spread``: a model from before spreads); so are the window's targets. Known-ahead
        covariates are shifted by ``horizon``."""
        rows = values[start:start + lookback]
        first = len(self.columns) - self.static - self.future
        if self.future:
            shifted = values[start + horizon:start + lookback + horizon,
                             first:first + self.future]
            window = np.concatenate([rows[:, :first], shifted, rows[:, first + self.future:]],
                                    axis=1)
        else:
            window = rows.copy()
        level = float(window[-1, 0])
        window[:, 0] -= level
        scale = max(float(window[:, 0].std()), WINDOW_SPREAD_FLOOR) if spread else 1.0
        window[:, 0] /= scale
        return window, level, scale


def panel_columns(options: DataOptions, target: str, source: str) -> tuple[str, ...]:
    """The value columns of a panel, in the model's order: the target, past-only, known-ahead
    and static covariates; a column has one role."""
    columns = (target, *(options.features or ()), *(options.future_features or ()),
               *(options.static_features or ()))
    for name in columns:
        if columns.count(name) > 1:
            raise DataError(source, f"column '{name}' is named twice among the target "
                            f"({target}), {param('features')}, {param('future_features')} and "
                            f"{param('static_features')}; a column has one role.")
    return columns


def read_panel(frame: pd.DataFrame, options: DataOptions, source: str,
               target: str | None = None) -> Panel:
    """The series of ``frame``, checked as the module says; ``target`` is a trained model's
    (else found by ``options``)."""
    find = ColumnFinder(frame, source)
    id_col = find(options.id_col, PANEL_ID_COLUMNS, "series-id", "id_col")
    time_col = find(options.time_col, PANEL_TIME_COLUMNS, "time", "time_col")
    columns = panel_columns(options, target or find(options.target, PANEL_TARGET_COLUMNS,
                                                    "target", "target"), source)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(source, f"no column {', '.join(map(repr, missing))} (the model reads "
                        f"{', '.join(columns)}). Columns: {', '.join(map(str, frame.columns))}.")
    values = numeric_matrix(frame, list(columns), source).astype(np.float64)
    times = order_values(frame[time_col], source, time_col)
    ids = frame[id_col]
    if ids.isna().any():
        raise DataError(source, f"column '{id_col}' is empty on some rows; every row needs the "
                        "id of its series.")
    series = []
    for uid, rows in ids.groupby(ids, sort=False).indices.items():
        order = np.asarray(rows)[np.argsort(times[rows], kind="stable")]
        repeated = np.flatnonzero(times[order][1:] == times[order][:-1])
        if len(repeated):
            raise DataError(source, f"series {show(uid)} has two rows at {time_col} "
                            f"{when(times[order][repeated[0]])}; a series needs one row per time.")
        series.append(Series(uid, times[order], values[order], order))
    static = len(options.static_features or ())
    for name, column in zip(columns[len(columns) - static:], values.T[len(columns) - static:],
                            strict=True):
        _check_static(series, name, column, source)
    return Panel(series, id_col, time_col, columns, len(options.future_features or ()),
                 static, _common_step(series, time_col, source))


def _check_static(series: list[Series], name: str, column: np.ndarray, source: str) -> None:
    for s in series:
        found = np.unique(column[s.rows])
        if len(found) > 1:
            raise DataError(source, f"{param('static_features')} names '{name}', but series "
                            f"{show(s.uid)} has {found[0]:g} and {found[1]:g} in it; a static "
                            "column holds one value per series.")


def _common_step(series: list[Series], time_col: str, source: str) -> str | float:
    """The one frequency every series keeps (see the module)."""
    steps: dict[str | float, object] = {}
    for s in series:
        if len(s.times) < 3:
            raise DataError(source, f"series {show(s.uid)} has {len(s.times)} rows; a series "
                            "needs at least 3 to tell its frequency.")
        step = _step_of(s, time_col, source)
        steps.setdefault(step, s.uid)
        if len(steps) > 1:
            (first, uid), = list(steps.items())[:1]
            raise DataError(source, f"series {show(s.uid)} steps by {step!r} in '{time_col}', "
                            f"but series {show(uid)} by {first!r}; the series of a panel share "
                            "one frequency.")
    return next(iter(steps))


def _step_of(s: Series, time_col: str, source: str) -> str | float:
    if np.issubdtype(s.times.dtype, np.datetime64):
        index = pd.DatetimeIndex(s.times, freq="infer")
        if index.freq is not None:
            return str(index.freqstr)
    else:
        diffs = np.diff(s.times.astype(np.float64))
        if np.all(diffs == diffs[0]):
            return float(diffs[0])
    diffs = np.diff(s.times)
    typical = pd.Series(diffs).mode().iloc[0]
    at = int(np.argmax(diffs != typical))
    raise DataError(source, f"series {show(s.uid)} is not regular in '{time_col}': after "
                    f"{when(s.times[at])} comes {when(s.times[at + 1])}, where its usual step "
                    f"is {typical}. Fill the gap (selector does not impute) or drop the series.")


def when(value: Any) -> str:
    """A time as users wrote it: '2025-01-06 00:00:00' or 12."""
    return show(pd.Timestamp(value) if isinstance(value, np.datetime64) else value)


def future_times(last: Any, step: str | float, horizon: int) -> list[Any]:
    """The ``horizon`` times after ``last`` (a time of a series) at ``step``."""
    if isinstance(step, str):
        return list(pd.date_range(pd.Timestamp(last), periods=horizon + 1, freq=step)[1:])
    return [last + step * (k + 1) for k in range(horizon)]


def _scale_of(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = values.mean(axis=0), values.std(axis=0)
    std[std < 1e-12] = 1.0
    return mean, std


def from_panel_frame(frame: pd.DataFrame, options: DataOptions, source: str) -> SequenceData:
    """A panel as windows of every series, split and scaled per series (see the module)."""
    if options.task not in (None, "forecasting"):
        raise DataError(source, f"{param('task')} {options.task} does not apply to a panel of "
                        "series: it is forecast (or give the table a 'sequence_id' column for "
                        "one label per sequence).")
    if options.split_col is not None:
        raise DataError(source, f"{param('split_col')} does not apply to forecasting: each "
                        "series is split in time order (train, then validation, then test).")
    panel = read_panel(frame, options, source)
    static_mean, static_std = _scale_of(np.stack([s.values[0] for s in panel.series]))
    fixed = slice(len(panel.columns) - panel.static, len(panel.columns))
    bounds = [splitting.time_parts(len(s.times), options.val_fraction, options.test_fraction)
              for s in panel.series]
    season = season_of(panel.step, options.season)
    cycles = cycles_of(panel.step, season)
    lookback, searched = resolve_lookback(options.lookback, options.horizon,
                                         splitting.lookback_room(bounds), max(cycles))
    window = lookback + options.horizon
    shorten = "horizon" if options.lookback is None else "lookback"  # searched: one horizon
    sequences: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    scales: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    window_series: list[int] = []
    levels: list[float] = []
    spreads: list[float] = []
    train_parts: list[np.ndarray] = []
    for s, parts_of in zip(panel.series, bounds, strict=True):
        short = splitting.short_part(parts_of, lookback, options.horizon)
        if short is not None:
            raise DataError(source, f"series {show(s.uid)} is too short: {short}. Use a "
                            f"smaller {param(shorten)}, or drop the short series.")
        val_start = parts_of["val"][0]
        mean, std = _scale_of(s.values[:val_start])
        mean[fixed], std[fixed] = static_mean[fixed], static_std[fixed]
        scales[str(s.uid)] = (tuple(map(float, mean)), tuple(map(float, std)))
        scaled = ((s.values - mean) / std).astype(np.float32)
        for name, starts in splitting.window_starts(parts_of, lookback,
                                                    options.horizon).items():
            parts[name].extend(range(len(sequences), len(sequences) + len(starts)))
            for k in starts:
                inputs, level, spread = panel.window(scaled, k, lookback, options.horizon)
                sequences.append(inputs)
                targets.append((scaled[k + lookback:k + window, :1] - level) / spread)
                levels.append(level)
                spreads.append(spread)
        window_series.extend([len(train_parts)] * (len(sequences) - len(window_series)))
        train_parts.append(scaled[:val_start, :1].astype(np.float64))
    # the columns' scaling for a series never seen: its own, but static columns as here
    unseen = np.zeros(len(panel.columns)), np.ones(len(panel.columns))
    unseen[0][fixed], unseen[1][fixed] = static_mean[fixed], static_std[fixed]
    return SequenceData(
        source=source, format="panel", task="forecasting", sequences=sequences,
        targets=np.stack(targets), splits=Splits(
            **{p: np.asarray(rows, dtype=np.int64) for p, rows in parts.items()},
            rule="time-ordered"),
        feature_names=panel.columns, target_names=panel.columns[:1],
        preprocessing=Preprocessing(feature_mean=tuple(map(float, unseen[0])),
                                    feature_std=tuple(map(float, unseen[1])),
                                    target_mean=(0.0,), target_std=(1.0,),
                                    series_scale=scales, time_step=panel.step,
                                    window_spread=True),
        lookback=lookback, lookbacks=searched, horizon=options.horizon,
        forecast_scale=forecast_scale(
            season, cycles, np.asarray(window_series), train_parts,
            level=np.asarray([[m[0]] for m, _ in scales.values()]),
            spread=np.asarray([[d[0]] for _, d in scales.values()]),
            window_level=np.asarray(levels), window_spread=np.asarray(spreads)))


@dataclass(frozen=True)
class PanelHistory:
    """The last window of each series of a request, scaled as in training, and what turns
    the model's outputs back into a forecast frame."""

    panel: Panel
    windows: list[np.ndarray]
    levels: np.ndarray  # per series: its window's level and spread (`Panel.window`)
    spreads: np.ndarray
    target_mean: np.ndarray  # per series
    target_std: np.ndarray

    def forecast_frame(self, outputs: np.ndarray, horizon: int, name: str) -> pd.DataFrame:
        """``outputs`` (series, horizon, 1) in per-series units, as neighbours give them:
        one row per series and future time, the forecast in column ``name``."""
        relative = outputs[:, :horizon, 0] * self.spreads[:, None] + self.levels[:, None]
        values = relative * self.target_std[:, None] + self.target_mean[:, None]
        step = self.panel.step
        return pd.DataFrame({
            self.panel.id_col: np.repeat([s.uid for s in self.panel.series], horizon),
            self.panel.time_col: [t for s in self.panel.series
                                  for t in future_times(s.times[-1], step, horizon)],
            name: values.reshape(-1)})


def panel_history(frame: pd.DataFrame, options: DataOptions, target: str,
                  prep: Preprocessing, source: str) -> PanelHistory:
    """Each series' last lookback steps (and its known-ahead covariates over the
    ``options.horizon`` after them), read and checked as in training, scaled by the statistics
    saved for the series (by its own history's if the model never saw it)."""
    ahead = frame[target].isna() if options.future_features else None
    panel = read_panel(frame if ahead is None else frame[~ahead], options, source, target)
    if prep.time_step is not None and panel.step != prep.time_step:
        raise DataError(source, f"the series step by {panel.step!r}; the model was trained on "
                        f"series that step by {prep.time_step!r}.")
    later = None if ahead is None else _ahead(frame[ahead], panel, options, source)
    windows, levels, spreads, means, stds = [], [], [], [], []
    lookback = options.served_lookback
    for k, s in enumerate(panel.series):
        if len(s.times) < lookback:
            raise DataError(source, f"series {show(s.uid)} has {len(s.times)} steps; the model "
                            f"reads the last {lookback} (its {param('lookback')}).")
        mean, std = _saved_scale(prep, s, panel.static)
        values = s.values[-lookback:]
        if later is not None:
            values = np.concatenate([values, later[k]])
        window, level, spread = panel.window((values - mean) / std, 0, lookback,
                                             options.horizon, prep.window_spread)
        windows.append(window.astype(np.float32))
        levels.append(level)
        spreads.append(spread)
        means.append(mean[0])
        stds.append(std[0])
    return PanelHistory(panel, windows, np.asarray(levels), np.asarray(spreads),
                        np.asarray(means), np.asarray(stds))


def _saved_scale(prep: Preprocessing, s: Series, static: int) -> tuple[np.ndarray, np.ndarray]:
    """A series' scaling as saved in training; for a series never seen, its own history's,
    its ``static`` (last) columns as training scaled them (`from_panel_frame`)."""
    saved = prep.series_scale.get(str(s.uid))
    if saved:
        return np.asarray(saved[0]), np.asarray(saved[1])
    mean, std = _scale_of(s.values)
    fixed = slice(len(mean) - static, len(mean))
    mean[fixed] = np.asarray(prep.feature_mean)[fixed]
    std[fixed] = np.asarray(prep.feature_std)[fixed]
    return mean, std


def _ahead(rows: pd.DataFrame, panel: Panel, options: DataOptions, source: str
           ) -> list[np.ndarray]:
    """Each series' rows over the horizon after its last target (target and past-only
    columns empty, as yet unknown), checked to hold the known-ahead covariates there."""
    horizon, names = options.horizon, options.future_features or ()
    values = numeric_matrix(rows, list(names), source).astype(np.float64)
    times = order_values(rows[panel.time_col], source, panel.time_col)
    found = {}
    for uid, at in rows.groupby(panel.id_col, sort=False).indices.items():
        order = np.asarray(at)[np.argsort(times[at], kind="stable")]
        found[uid] = (list(times[order]), values[order])
    out = []
    for s in panel.series:
        expected = future_times(s.times[-1], panel.step, horizon)
        given = found.get(s.uid, ([], np.empty((0, len(names)))))
        if [pd.Timestamp(t) if isinstance(panel.step, str) else t for t in given[0]] != expected:
            raise DataError(source, f"series {show(s.uid)}: the model reads the known-ahead "
                            f"{', '.join(map(repr, names))} over the {horizon} steps after the "
                            f"series' last target ({when(s.times[-1])}), as rows with an empty "
                            f"'{panel.columns[0]}'; found {len(given[0])} such rows"
                            f"{'' if not len(given[0]) else ' at other times'}.")
        values = np.full((horizon, len(panel.columns)), np.nan)
        first = len(panel.columns) - panel.static - panel.future
        values[:, first:first + panel.future] = given[1]
        out.append(values)
    return out
