"""The season of a forecast, read from the dates as neighbours do, and the per-series scale
that MASE divides by."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from selector.cli import app
from selector.data import load_dataset, profile_dataset
from selector.data.options import DataOptions
from selector.data.seasons import cycles_of, naive_mae, season_of
from selector.errors import ParameterError
from tests.helpers.panels import loaded, panel


@pytest.mark.parametrize(("step", "season"), [
    ("h", 24), ("2h", 12), ("30min", 48), ("D", 7), ("B", 5), ("W-SUN", 52), ("MS", 12),
    # month ends, as this pandas spells them ("M" before 2.2, "ME" since)
    (pd.DatetimeIndex(["2000-01-31", "2000-02-29", "2000-03-31"], freq="infer").freqstr, 12),
    ("QS-OCT", 4), ("YE-DEC", 1), ("7D", 1), ("nonsense", 1), (1.0, 1), (None, 1)])
def test_the_season_is_read_from_the_frequency(step: str | float | None, season: int) -> None:
    assert season_of(step) == season


def test_a_given_season_wins_over_the_frequency() -> None:
    assert season_of("D", 14) == 14 and season_of(None, 3) == 3
    with pytest.raises(ParameterError, match="season"):
        DataOptions(season=0)


@pytest.mark.parametrize(("step", "season", "cycles"), [
    ("30min", 48, (48, 336)), ("h", 24, (24, 168)), ("h", 5, (5, 168)),  # and the week
    ("30min", 336, (336,)), ("D", 7, (7,)), ("MS", 12, (12,)), ("7min", 1, (1,)),
    (None, 1, (1,)), (None, 3, (3,))])
def test_a_series_that_steps_within_a_day_repeats_its_week_too(
        step: str | None, season: int, cycles: tuple[int, ...]) -> None:
    assert cycles_of(step, season) == cycles


def test_the_scale_is_the_seasonal_naive_error_within_the_training_part() -> None:
    t = np.arange(48, dtype=np.float64)
    wave = np.stack([np.sin(2 * np.pi * t / 12) + t, np.full(48, 5.0)], axis=1)
    found = naive_mae(wave, 12)
    assert found[0] == pytest.approx(12.0)  # a year on, only the trend has moved
    assert np.isnan(found[1])  # a constant series cannot scale anything
    # shorter than two seasons: the naive forecast's error, one step back
    assert naive_mae(wave[:20], 12)[0] == pytest.approx(np.abs(np.diff(wave[:20, 0])).mean())


def test_a_panel_keeps_each_series_scale_and_its_windows_series(tmp_path: Path) -> None:
    data = loaded(panel(), tmp_path)
    scale = data.forecast_scale
    assert scale is not None and scale.season == 7  # daily dates
    saved = list(data.preprocessing.series_scale.values())
    np.testing.assert_allclose(scale.level[:, 0], [m[0] for m, _ in saved])
    np.testing.assert_allclose(scale.spread[:, 0], [s[0] for _, s in saved])
    assert np.bincount(scale.window_series).tolist() == [60 - 9, 80 - 9, 70 - 9]
    # in each series' own units, a wave of period 7 repeats a week on: its error is the noise
    assert (scale.naive_mae < 0.3).all()
    shown = profile_dataset(data)
    assert (shown.n_series, shown.season) == (3, 7)
    path = tmp_path / "panel.csv"  # `loaded` wrote it
    printed = CliRunner().invoke(app, ["profile", str(path), "--lookback", "6", "--horizon", "2"])
    assert printed.exit_code == 0, printed.output
    assert "lookback 6, horizon 2 over 3 series; season 7" in " ".join(printed.output.split())


def test_a_single_monthly_series_gets_season_12_and_the_flag_overrides_it(
        tmp_path: Path) -> None:
    months = pd.date_range("2000-01-01", periods=200, freq="MS")
    path = tmp_path / "sales.csv"
    pd.DataFrame({"date": months, "sales": np.sin(np.arange(200) / 2)}).to_csv(path, index=False)
    data = load_dataset(str(path), DataOptions(lookback=12))
    assert data.forecast_scale is not None and data.forecast_scale.season == 12
    assert load_dataset(str(path), DataOptions(lookback=12, season=6)).forecast_scale.season == 6
    refused = CliRunner().invoke(app, ["profile", str(path), "--season", "0"])
    assert refused.exit_code == 2 and "--season" in refused.output
