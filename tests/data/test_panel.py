"""A panel of series (unique_id, ds, y): found without flags, split and scaled per series,
and refused with the series named where it cannot be used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from selector.data import load_dataset
from selector.data.inputs import InputSpec, inputs_from
from selector.data.options import DataOptions
from selector.errors import DataError
from tests.helpers.panels import OPTIONS, loaded, panel


def test_a_panel_is_found_without_flags_and_windows_stay_inside_one_series(
        tmp_path: Path) -> None:
    data = loaded(panel(), tmp_path)
    assert (data.format, data.task, data.feature_names) == ("panel", "forecasting", ("y",))
    assert data.targets.shape[1:] == (2, 1)
    # every series contributes windows to every part: its training part holds windows of
    # lookback 6 + horizon 2, and every step of its other parts is forecast (backtest), so
    # n - (6 + 3 * 2) + 3 each
    assert len(data) == sum(n - (6 + 3 * 2) + 3 for n in (60, 80, 70))
    assert sum(data.splits.sizes()) == len(data)


def test_each_series_is_scaled_by_its_own_training_part(tmp_path: Path) -> None:
    data = loaded(panel(), tmp_path)
    # a series 1000 times larger is on the same scale as the others once loaded
    first_steps = np.stack([s[:, 0] for s in data.sequences])
    assert np.abs(first_steps).max() < 5
    scale = data.preprocessing.series_scale
    assert scale["store1"][0][0] == pytest.approx(3000, rel=0.05)
    assert scale["store0"][0][0] == pytest.approx(3, rel=0.05)
    assert data.preprocessing.time_step == "D"


def test_past_covariates_are_read_beside_the_target(tmp_path: Path) -> None:
    data = loaded(panel(promo=True), tmp_path,
                  DataOptions(lookback=6, horizon=2, features=("promo",)))
    assert data.feature_names == ("y", "promo") and data.sequences[0].shape == (6, 2)
    assert data.target_names == ("y",)


def test_numeric_times_and_flags_for_other_names(tmp_path: Path) -> None:
    frame = panel().rename(columns={"unique_id": "store", "ds": "week", "y": "sales"})
    frame["week"] = frame.groupby("store").cumcount() * 2  # every other week, as numbers
    data = loaded(frame, tmp_path, DataOptions(lookback=6, horizon=2, task="forecasting",
                                               id_col="store", time_col="week",
                                               target="sales"))
    assert data.format == "panel" and data.preprocessing.time_step == 2.0


@pytest.mark.parametrize(("change", "message"), [
    (lambda f: pd.concat([f, f.iloc[[5]]]), "series 'store0' has two rows at ds '2025-01-06"),
    (lambda f: f.drop(index=70), "series 'store1' is not regular in 'ds': after '2025-01-13"),
    (lambda f: f.assign(ds=f.ds.where(f.unique_id != "store2", f.ds + (f.ds - f.ds.min()))),
     "series 'store2' steps by"),
    (lambda f: f[(f.unique_id != "store2") | (f.index < 140 + 10)],
     "series 'store2' is too short: the train part has 7"),
])
def test_a_series_that_cannot_be_used_is_named(tmp_path: Path, change, message: str) -> None:
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        loaded(change(panel()), tmp_path)


def test_a_panel_is_forecast_not_classified(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="task classification does not apply to a panel"):
        loaded(panel(), tmp_path, DataOptions(task="classification"))


def test_a_request_reads_each_series_last_window_and_scales_it_back(tmp_path: Path) -> None:
    data = loaded(panel(), tmp_path)
    spec = InputSpec("panel", OPTIONS, data.feature_names, data.preprocessing)
    request = panel()  # the same history, as a table in memory, and a series never seen
    unseen = request[request.unique_id == "store1"].assign(unique_id="new")
    inputs = inputs_from(pd.concat([request, unseen]), spec)
    assert inputs.ids == ["store0", "store1", "store2", "new"]
    assert all(s.shape == (6, 1) for s in inputs.sequences)
    assert inputs.history is not None
    # each window is read relative to its last value: 0 there, in the series' own units
    assert all(s[-1, 0] == 0 for s in inputs.sequences)
    outputs = np.zeros((4, 2, 1), dtype=np.float32)  # "no change from the last value"
    frame = inputs.history.forecast_frame(outputs, 2, "GRU")
    assert list(frame.columns) == ["unique_id", "ds", "GRU"] and len(frame) == 8
    assert frame.ds.iloc[0] == pd.Timestamp("2025-03-02")  # the day after store0's last
    last = request.groupby("unique_id").y.last()
    assert frame.GRU.iloc[2] == pytest.approx(last["store1"], rel=1e-5)  # in its own units
    assert frame.GRU.iloc[6] == pytest.approx(last["store1"], rel=1e-5)  # "new": its copy
    step = inputs.history.forecast_frame(outputs + 1, 2, "GRU").GRU - frame.GRU
    saved = data.preprocessing.series_scale["store1"][1][0]  # one of the series' std units
    spread = inputs.history.spreads[1]  # times the window's own spread in those units
    assert spread == pytest.approx(np.std(inputs.sequences[1][:, 0] * spread), rel=1e-5)
    assert step.iloc[2] == pytest.approx(saved * spread, rel=1e-5)
    with pytest.raises(DataError, match="series 'store0' has 4 steps; the model reads the last 6"):
        inputs_from(request.groupby("unique_id").head(4), spec)


def priced(n: int = 60) -> pd.DataFrame:
    """Two series whose sales follow a price known ahead, and a static size per series."""
    frames = []
    for i, size in enumerate((10.0, 40.0)):
        price = np.arange(n, dtype=float) + 100 * i
        frames.append(pd.DataFrame({
            "unique_id": f"s{i}", "ds": pd.date_range("2025-01-01", periods=n, freq="D"),
            "y": size * (1 + np.cos(price)), "price": price, "size": size}))
    return pd.concat(frames, ignore_index=True)


COVARIATES = DataOptions(lookback=6, horizon=2, future_features=("price",),
                         static_features=("size",))


def test_covariates_known_ahead_are_read_over_the_steps_each_window_forecasts(
        tmp_path: Path) -> None:
    data = loaded(priced(), tmp_path, COVARIATES)
    assert data.feature_names == ("y", "price", "size")
    mean, std = data.preprocessing.series_scale["s0"]
    first = data.sequences[0] * np.asarray(std, dtype=np.float32) + np.asarray(mean, dtype=np.float32)
    # the first window reads days 0-5 of sales, and the price of days 2-7: its last two steps
    # see the prices of the two days it forecasts
    np.testing.assert_allclose(first[:, 1], np.arange(2, 8), atol=1e-3)
    np.testing.assert_allclose(first[:, 2], 10.0, atol=1e-3)
    # static columns are scaled across the series, not within one (where they would be 0)
    assert {round(float(s[0, 2]), 3) for s in data.sequences} == {-1.0, 1.0}


def test_a_request_gives_covariates_known_ahead_as_rows_after_each_series(
        tmp_path: Path) -> None:
    data = loaded(priced(), tmp_path, COVARIATES)
    spec = InputSpec("panel", COVARIATES, data.feature_names, data.preprocessing)
    history = priced(70)
    future = history.groupby("unique_id").tail(2).index
    request = history.assign(y=history.y.where(~history.index.isin(future)))
    inputs = inputs_from(request, spec)
    assert inputs.history is not None
    frame = inputs.history.forecast_frame(np.zeros((2, 2, 1), dtype=np.float32), 2, "LSTM")
    assert frame.ds.tolist() == list(pd.date_range("2025-03-10", periods=2)) * 2
    window = inputs.sequences[0] * data.preprocessing.series_scale["s0"][1][1] + \
        data.preprocessing.series_scale["s0"][0][1]
    np.testing.assert_allclose(window[-2:, 1], [68, 69], atol=1e-3)  # the future rows' prices
    with pytest.raises(DataError, match=r"series 's1': the model reads the known-ahead 'price' "
                       r"over the 2 steps after the series' last target .* found 0 such rows"):
        inputs_from(request[~request.index.isin(future[future >= 70])], spec)


def test_a_static_column_must_hold_one_value_per_series(tmp_path: Path) -> None:
    frame = priced()
    frame.loc[3, "size"] = 11.0
    with pytest.raises(DataError, match="static_features names 'size', but series 's0' has 10 "
                       "and 11 in it"):
        loaded(frame, tmp_path, COVARIATES)


def test_covariates_known_ahead_belong_to_a_panel() -> None:
    with pytest.raises(DataError, match="future_features applies to a panel of series"):
        load_dataset("example:sine", DataOptions(future_features=("x",)))


def test_a_column_has_one_role(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="column 'price' is named twice"):
        loaded(priced(), tmp_path, DataOptions(features=("price",), future_features=("price",)))


def test_windows_are_read_relative_to_their_last_value_so_a_trend_repeats(
        tmp_path: Path) -> None:
    """A growing series' late windows look like its early ones (neighbours scale each window
    too): a model that learned the early ones has seen the test's."""
    days = pd.date_range("2025-01-01", periods=90, freq="D")
    growing = pd.DataFrame({"unique_id": "a", "ds": days, "y": 100 + 5.0 * np.arange(90)})
    data = loaded(growing, tmp_path)
    first, last = data.splits.train[0], data.splits.test[-1]
    np.testing.assert_allclose(data.sequences[first], data.sequences[last], atol=1e-5)
    np.testing.assert_allclose(data.targets[first], data.targets[last], atol=1e-5)
    assert data.sequences[last][-1, 0] == 0 and data.targets[last][0, 0] > 0
