"""MASE and sMAPE: per series, then averaged, so that series of any scale weigh the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from selector.data import load_dataset
from selector.data.options import DataOptions
from selector.data.split import time_bounds
from selector.training.baselines import forecasts
from selector.training.fitting import compared_score
from selector.training.scaled import mase_outcomes, scale_free, scored_by_mase
from tests.helpers.panels import loaded, panel


def test_a_constant_error_scores_its_ratio_to_the_naive_error(tmp_path: Path) -> None:
    path = tmp_path / "level.csv"
    values = 100 + np.cumsum(np.where(np.arange(300) % 2, 1.0, -0.5))  # steps of -0.5, +1
    pd.DataFrame({"time": np.arange(300), "level": values}).to_csv(path, index=False)
    data = load_dataset(str(path), DataOptions(lookback=4, horizon=2))
    test = data.splits.test
    targets = data.targets[test].astype(np.float64)
    found = scale_free(targets + 0.375, data, test)
    assert found is not None and data.forecast_scale.season == 1
    val_start, _ = time_bounds(300, 0.15, 0.15)  # the naive error is 0.75, within training
    assert found.mase == pytest.approx(0.375 / np.abs(np.diff(values[:val_start])).mean())
    assert found.mase == pytest.approx(0.5, abs=0.002)
    expected = np.mean(200 * 0.375 / (np.abs(targets) + np.abs(targets + 0.375)))
    assert found.smape == pytest.approx(expected)
    assert scale_free(targets, data, test).mase == 0.0


def test_series_a_thousand_times_larger_score_the_same(tmp_path: Path) -> None:
    alike, apart = (loaded(panel(scales=s), tmp_path) for s in ((1, 1, 1), (1, 1000, 5)))
    for data in (alike, apart):  # the seasonal naive forecast needs a week of lookback
        assert data.forecast_scale is not None and data.forecast_scale.season == 7
    options = DataOptions(lookback=7, horizon=2)
    alike, apart = (loaded(panel(scales=s), tmp_path, options) for s in ((1, 1, 1), (1, 1000, 5)))
    scores = []
    for data in (alike, apart):
        predicted = forecasts(data, data.splits.test)
        assert "seasonal naive (season 7)" in predicted
        scores.append({name: scale_free(p, data, data.splits.test)
                       for name, p in predicted.items()})
    for name, found in scores[0].items():
        assert scores[1][name].mase == pytest.approx(found.mase, rel=1e-4)
        assert scores[1][name].smape == pytest.approx(found.smape, rel=1e-4)
    # a wave repeats a week on: the seasonal naive forecast is near its in-sample error
    assert 0.5 < scores[0]["seasonal naive (season 7)"].mase < 2 < scores[0]["mean"].mase


def test_constant_series_are_left_out_of_mase_and_all_constant_gives_none(
        tmp_path: Path) -> None:
    frame = panel()
    flat = frame["unique_id"] == "store2"
    frame.loc[flat, "y"] = 4.0
    data = loaded(frame, tmp_path)
    test = data.splits.test
    shown = scale_free(forecasts(data, test)["last value"], data, test)
    assert shown is not None and shown.mase is not None and np.isfinite(shown.mase)
    frame["y"] = 4.0
    data = loaded(frame, tmp_path)
    flat_only = scale_free(data.targets[data.splits.test], data, data.splits.test)
    assert flat_only is not None and flat_only.mase is None and flat_only.smape == 0.0


def test_classification_has_no_scale_free_accuracy() -> None:
    data = load_dataset("example:digits")
    assert scale_free(np.zeros(3), data, data.splits.test[:3]) is None


def test_a_panels_mase_is_in_each_series_own_units_whatever_its_windows_spread(
        tmp_path: Path) -> None:
    """Windows are stored in units of their own spread; the MASE is not: the last value's
    MASE equals the one worked out on the table itself."""
    frame = panel(lengths=(60, 90), scales=(1, 1000))
    frame["y"] *= 1 + frame.groupby("unique_id").cumcount() / 30  # swings that grow
    data = loaded(frame, tmp_path)
    spreads = data.forecast_scale.window_spread
    assert spreads.min() < 0.8 * spreads.max()  # the windows' spreads differ
    test = data.splits.test
    found = scale_free(forecasts(data, test)["last value"], data, test)
    expected = []
    for _, rows in frame.groupby("unique_id"):
        y = rows.y.to_numpy()
        val_start, test_start = time_bounds(len(y), 0.15, 0.15)
        naive = np.abs(y[7:val_start] - y[:val_start - 7]).mean()  # the season: a week
        ends = np.arange(test_start - 1, len(y) - 2)  # each test window's last input step
        errors = [np.abs(y[t + 1:t + 3] - y[t]).mean() for t in ends]
        expected.append(np.mean(errors) / naive)
    assert found.mase == pytest.approx(np.mean(expected), rel=1e-5)


def test_each_windows_share_of_the_mase_adds_up_to_it(tmp_path: Path) -> None:
    data = loaded(panel(lengths=(60, 120, 70)), tmp_path)  # series of unequal window counts
    test = data.splits.test
    predicted = forecasts(data, data.splits.test)["last value"]
    shares = mase_outcomes(predicted, data, test)
    assert shares.shape == (len(test),)
    assert shares.mean() == pytest.approx(scale_free(predicted, data, test).mase)


def test_a_panel_is_judged_by_mase_and_anything_else_by_its_tasks_score(tmp_path: Path) -> None:
    assert scored_by_mase(loaded(panel(), tmp_path))
    assert compared_score(loaded(panel(), tmp_path)) == "mase"
    one = load_dataset("example:sine?length=300", DataOptions(lookback=8, horizon=2))
    assert not scored_by_mase(one) and compared_score(one) == "rmse"
    assert compared_score(load_dataset("example:digits")) == "accuracy"
    flat = panel()
    flat["y"] = 4.0  # no series to scale by: RMSE, as for one series
    assert compared_score(loaded(flat, tmp_path)) == "rmse"
