"""A forecast's season, and what scale-free metrics need to weigh each series' errors.

The season ``m`` is how many steps make one cycle: ``--season`` when given, else read from the
series' calendar frequency as neighbours do (statsforecast, utilsforecast): hourly 24, daily 7,
business-daily 5, weekly 52, monthly 12, quarterly 4; sub-hourly steps a day (30 minutes: 48);
yearly, numeric steps and other frequencies 1 (no season: the naive forecast).

A series that steps more than once a day also follows the weekday: half-hourly electricity
demand repeats its week (336 steps) far better than its day (Taylor 2003), and neighbours give
such series both cycles (statsforecast's MSTL takes ``season_length=[24, 168]`` for hourly
data). `cycles_of` adds the week to the seasons a seasonal naive forecast repeats
(`selector.training.baselines`), and a searched lookback holds it where the series allow
(`selector.data.lookbacks`): a cell that never sees last week cannot learn what the weekly
naive forecast knows.

MASE (Hyndman & Koehler 2006) divides a forecast's absolute errors on a series by the mean
absolute error of the seasonal naive forecast, ``y[t] = y[t - m]``, within that series'
training part, so a MASE below 1 beats the naive forecast where it was fitted, and series of
any scale average together. `forecast_scale` fits those denominators on the training part
only, as every other statistic is (`selector.training.scaled` uses them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from selector.data.dataset import ForecastScale

# by a frequency's code (pandas 2.1 spells some of them in capitals: "H", "T", "S", "M")
_PER_UNIT = {"D": 7, "B": 5, "W": 52, "M": 12, "MS": 12, "ME": 12, "BM": 12, "BMS": 12,
             "BME": 12, "Q": 4, "QS": 4, "QE": 4, "BQ": 4, "BQS": 4, "BQE": 4}
_PER_DAY = {"h": 24, "H": 24, "min": 24 * 60, "T": 24 * 60, "s": 24 * 3600, "S": 24 * 3600}


def season_of(step: str | float | None, given: int | None = None) -> int:
    """The season for series that step by ``step`` (a pandas frequency, or a number):
    ``given`` if set, else as the module says."""
    if given is not None:
        return given
    parsed = _parsed(step)
    if parsed is None:
        return 1
    code, n = parsed
    if code in _PER_DAY:
        return _per_day(code, n)
    return _PER_UNIT.get(code, 1) if n == 1 else 1


def cycles_of(step: str | float | None, season: int) -> tuple[int, ...]:
    """The seasons a seasonal naive forecast repeats for series that step by ``step``:
    ``season``, and the week where a step divides a day (see the module); shortest first."""
    per_day = _steps_per_day(step)
    week = 7 * per_day if per_day > 1 else 1
    return tuple(sorted({season, week} - {1})) or (season,)


def _steps_per_day(step: str | float | None) -> int:
    """How many steps make a day for a sub-daily ``step`` that divides it; 1 otherwise."""
    parsed = _parsed(step)
    return 1 if parsed is None else _per_day(*parsed)


def _per_day(code: str, n: int) -> int:
    """Steps per day of ``n`` units of ``code`` where they divide a day; 1 otherwise."""
    per_day = _PER_DAY.get(code, 1)
    return per_day // n if per_day % n == 0 and per_day > n else 1


def _parsed(step: str | float | None) -> tuple[str, int] | None:
    """A pandas frequency's code and multiple ("30min": ("min", 30)); None for anything
    else."""
    if not isinstance(step, str):
        return None
    try:
        offset = pd.tseries.frequencies.to_offset(step)
    except ValueError:
        return None
    return offset.rule_code.split("-")[0], int(offset.n)


def calendar_step(times: np.ndarray) -> str | None:
    """The pandas frequency of sorted ``times`` (None: not dates, or not regular)."""
    if not np.issubdtype(times.dtype, np.datetime64) or len(times) < 3:
        return None
    index = pd.DatetimeIndex(times, freq="infer")
    return None if index.freq is None else str(index.freqstr)


def naive_mae(train_part: np.ndarray, season: int) -> np.ndarray:
    """Per column of ``train_part`` (steps, columns): the mean absolute error of the seasonal
    naive forecast within it (the naive one where it is shorter than two seasons); NaN for a
    constant column, which no forecast can be scaled by."""
    m = season if len(train_part) > 2 * season else 1
    if len(train_part) <= m:
        return np.full(train_part.shape[1], np.nan)
    mae = np.abs(train_part[m:] - train_part[:-m]).mean(axis=0).astype(np.float64)
    mae[mae < 1e-12] = np.nan
    return mae


def forecast_scale(season: int, cycles: tuple[int, ...], window_series: np.ndarray,
                   train_parts: list[np.ndarray], level: np.ndarray | None = None,
                   spread: np.ndarray | None = None, window_level: np.ndarray | None = None,
                   window_spread: np.ndarray | None = None) -> ForecastScale:
    """The scale of each series from its training part (steps, targets) in the units the
    targets are stored in; ``level`` and ``spread`` (series, targets) turn those units back
    into the user's (default: they are the user's), after multiplying by ``window_spread``
    and adding ``window_level`` (per window, where its targets are stored relative to its
    level, in units of its spread). ``cycles``: as `cycles_of` gives them."""
    outputs = train_parts[0].shape[1]
    shape = (len(train_parts), outputs)
    return ForecastScale(
        season=season, cycles=cycles,
        window_series=np.asarray(window_series, dtype=np.int64),
        naive_mae=np.stack([naive_mae(p, season) for p in train_parts]),
        level=np.zeros(shape) if level is None else np.asarray(level, dtype=np.float64),
        spread=np.ones(shape) if spread is None else np.asarray(spread, dtype=np.float64),
        window_level=np.zeros(len(window_series)) if window_level is None
        else np.asarray(window_level, dtype=np.float64),
        window_spread=np.ones(len(window_series)) if window_spread is None
        else np.asarray(window_spread, dtype=np.float64))
