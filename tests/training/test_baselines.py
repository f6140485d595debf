"""Trivial baselines, and the rule for whether a run learned anything."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from selector.data import DataOptions, load_dataset
from selector.training.baselines import (
    Naive,
    baselines,
    fallback,
    forecasts,
    learned,
    skill,
    strongest,
)
from selector.training.scaled import scale_free


def test_the_majority_class_from_the_training_split_scored_elsewhere() -> None:
    data = load_dataset("example:digits")
    found = baselines(data, data.splits.test)
    majority = np.bincount(data.targets[data.splits.train]).argmax()
    assert [b.name for b in found] == ["majority class"]
    assert found[0].score == pytest.approx(np.mean(data.targets[data.splits.test] == majority))


def test_the_mean_predictor_is_the_plateau_of_the_adding_problem() -> None:
    data = load_dataset("example:adding?length=50&n=600")
    (mean,) = baselines(data, data.splits.val)
    targets = data.targets[data.splits.val]
    centre = data.targets[data.splits.train].mean()
    assert mean.name == "mean"
    assert mean.score == pytest.approx(np.sqrt(np.mean((targets - centre) ** 2)))
    assert 0.3 < mean.score < 0.5  # the ~0.41 a plateaued run sits at


def test_forecasting_also_has_the_last_value_in_user_units() -> None:
    data = load_dataset("example:sine?length=400", DataOptions(lookback=12, horizon=3))
    found = {b.name: b.score for b in baselines(data, data.splits.test)}
    assert set(found) == {"mean", "last value", "drift"}
    windows = data.splits.test
    column = data.feature_names.index(data.target_names[0])
    prep = data.preprocessing
    last = np.array([data.sequences[i][-1, column] for i in windows]) * \
        prep.feature_std[column] + prep.feature_mean[column]
    expected = np.sqrt(np.mean((data.targets[windows][:, :, 0] - last[:, None]) ** 2))
    assert found["last value"] == pytest.approx(expected, rel=1e-5)
    # a smooth series: holding the last value is far better than its mean
    assert strongest(baselines(data, windows), "minimize").name == "last value"


def test_learned_means_removing_two_percent_of_the_baseline_error() -> None:
    assert not learned(0.408, 0.409, "minimize")  # the plateau in the report that started this
    assert learned(0.011, 0.409, "minimize")
    assert skill(0.55, 0.5, "maximize") == pytest.approx(0.1)
    assert not learned(0.505, 0.5, "maximize") and learned(0.52, 0.5, "maximize")
    assert not learned(math.nan, 0.5, "maximize")
    assert not learned(0.9, 1.0, "maximize")  # a perfect baseline leaves nothing to learn


def test_on_a_balanced_split_chance_wobble_is_not_learning() -> None:
    """example:counting's plateau: 600 validation sequences, half of them "equal"; a run at
    chance touched 0.527 and was called learned, ending its warm-up 16 epochs before it would
    have left the plateau."""
    data = load_dataset("example:counting?n=4000&max_count=20")
    (majority,) = baselines(data, data.splits.val)
    n = len(data.splits.val)
    assert majority.noise == pytest.approx(np.sqrt(majority.score * (1 - majority.score) / n))
    assert 0.015 < majority.noise < 0.025  # about 2 points of accuracy
    wobble = majority.score + 0.022
    assert learned(wobble, majority.score, "maximize")  # what the 2% skill alone said
    assert not learned(wobble, majority.score, "maximize", majority.noise)
    assert learned(0.83, majority.score, "maximize", majority.noise)


def test_a_numeric_plateau_is_judged_by_skill_alone() -> None:
    """A regression run on its plateau predicts about the mean, so its score does not wobble
    around the baseline's as a classifier's guesses do: no noise margin."""
    data = load_dataset("example:adding?length=50&n=600")
    (mean,) = baselines(data, data.splits.val)
    assert mean.noise == 0.0


def test_the_seasonal_naive_forecast_repeats_the_value_one_season_back(tmp_path) -> None:
    months = pd.date_range("2000-01-01", periods=240, freq="MS")
    path = tmp_path / "sales.csv"
    wave = 10 + np.sin(2 * np.pi * np.arange(240) / 12) + 0.01 * np.arange(240)
    pd.DataFrame({"date": months, "sales": wave}).to_csv(path, index=False)
    data = load_dataset(str(path), DataOptions(lookback=14, horizon=3))
    found = forecasts(data, data.splits.test)
    assert list(found) == ["mean", "last value", "seasonal naive (season 12)", "drift"]
    first = data.splits.test[0]
    start = 240 - len(data.splits.test) - 14 - 3 + 1  # the first test window's first step
    np.testing.assert_allclose(found["seasonal naive (season 12)"][0, :, 0],
                               wave[start + 14 - 12:start + 14 - 12 + 3], rtol=1e-5)
    assert data.targets[first][0, 0] == pytest.approx(wave[start + 14], rel=1e-5)
    assert strongest(baselines(data, data.splits.test), "minimize").name.startswith("seasonal")
    # a lookback shorter than the season has no year-ago value to repeat
    short = load_dataset(str(path), DataOptions(lookback=8, horizon=3))
    assert list(forecasts(short, short.splits.test)) == ["mean", "last value", "drift"]
    # where neither cell learns, the forecast handed over is the stronger on validation of
    # those a model can repeat (never the mean, which is no forecast of a series)
    assert (fallback(data)[0].name, fallback(data)[1]) == ("seasonal naive (season 12)",
                                                             Naive(12))
    assert (fallback(short)[0].name, fallback(short)[1]) == ("last value", Naive())


def test_an_hourly_series_is_held_to_its_weekly_naive_forecast_too(tmp_path) -> None:
    # hourly demand whose weekend differs: the day-ago value misses every Monday and Saturday,
    # the week-ago value misses nothing
    hours = pd.date_range("2026-01-05", periods=24 * 7 * 12, freq="h")
    weekend = (hours.day_of_week >= 5).astype(float)
    daily = np.sin(2 * np.pi * hours.hour / 24)
    path = tmp_path / "demand.csv"
    pd.DataFrame({"time": hours, "load": daily * (1 - 0.8 * weekend)}).to_csv(path, index=False)
    data = load_dataset(str(path), DataOptions(horizon=24))
    assert data.lookback >= 168
    found = {b.name: b.score for b in baselines(data, data.splits.val)}
    assert found["seasonal naive (season 168)"] < 1e-5 < found["seasonal naive (season 24)"]
    assert fallback(data)[1] == Naive(168)


def test_a_trending_series_is_held_to_its_drift(tmp_path) -> None:
    """Yearly sales that grow by about 3 a year: the last value lags the trend by 3 more each
    year ahead; the drift (the line through each window's first and last years) follows it,
    so a cell must beat it, and it is what is handed over where neither cell does."""
    years = pd.date_range("1950-01-01", periods=60, freq="YS")
    noise = np.random.default_rng(0).normal(0, 0.5, 60)
    path = tmp_path / "sales.csv"
    pd.DataFrame({"date": years, "sales": 100 + 3 * np.arange(60) + noise}).to_csv(path,
                                                                                   index=False)
    data = load_dataset(str(path), DataOptions(lookback=8, horizon=4))
    found = forecasts(data, data.splits.test)
    first = data.splits.test[0]
    start = 60 - len(data.splits.test) - 8 - 4 + 1  # the first test window's first year
    sales = 100 + 3 * np.arange(60) + noise
    slope = (sales[start + 7] - sales[start]) / 7
    np.testing.assert_allclose(found["drift"][0, :, 0], sales[start + 7] + slope * np.arange(
        1, 5), rtol=1e-5)
    assert data.targets[first][0, 0] == pytest.approx(sales[start + 8], rel=1e-5)
    scores = {b.name: b.score for b in baselines(data, data.splits.val)}
    assert scores["drift"] < scores["last value"] / 5
    assert fallback(data)[0].name == "drift" and fallback(data)[1] == Naive(drift=True)


def test_nothing_repeats_outside_forecasting() -> None:
    assert fallback(load_dataset("example:adding?length=20&n=200")) is None


def test_a_panel_hands_over_the_naive_forecast_with_the_lowest_validation_mase(tmp_path) -> None:
    """A panel's verdict is in MASE, so the forecast handed over where neither cell learned
    is chosen and reported by it too, not by RMSE in each window's units."""
    years = pd.date_range("1950-01-01", periods=40, freq="YS")
    rng = np.random.default_rng(1)
    path = tmp_path / "panel.csv"
    pd.concat([pd.DataFrame({"unique_id": uid, "ds": years,
                             "y": scale * (50 + np.arange(40) + rng.normal(0, 2, 40))})
               for uid, scale in (("small", 1.0), ("large", 1000.0))]).to_csv(path, index=False)
    data = load_dataset(str(path), DataOptions(lookback=8, horizon=4))
    best, _ = fallback(data)
    val = data.splits.val
    mase = {name: scale_free(predicted, data, val).mase
            for name, predicted in forecasts(data, val).items()}
    assert best.score == pytest.approx(mase[best.name])
    assert best.score == min(v for k, v in mase.items() if k != "mean")
