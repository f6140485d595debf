"""selector from a notebook: a DataFrame or arrays in, a typed recommendation out, and the
caller's process left as it was."""

from __future__ import annotations

import gc
import json
import logging
import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import matplotlib
import mlflow
import numpy as np
import pandas as pd
import pytest

import selector
from selector.api import SearchRequest, search
from selector.data import DataOptions
from selector.records import Recommendation
from selector.training.system import SequenceSystem
from tests.conftest import LEARNABLE, long_frame, write


def process_state() -> dict[str, Any]:
    """What a library call must not change in its caller's process."""
    loggers = ["", "optuna", "lightning", "lightning.pytorch", "mlflow", "selector", "torch"]
    return {"levels": {n: logging.getLogger(n).level for n in loggers},
            "handlers": {n: list(logging.getLogger(n).handlers) for n in loggers},
            "warnings": list(warnings.filters), "environ": dict(os.environ),
            "tracking_uri": mlflow.get_tracking_uri(), "backend": matplotlib.get_backend()}


def arrays(n: int = 60, steps: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, steps, 2)).astype("float32")
    lengths = rng.integers(3, steps + 1, size=n)
    return X, (X[:, :3, 0].mean(axis=1) > 0).astype("int64"), lengths


@pytest.mark.slow
def test_recommend_on_a_dataframe_then_on_arrays_leaves_the_process_as_it_was(
        tmp_path: Path, tiny_space: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert callable(selector.recommend)  # its imports (torch, Lightning) set their loggers up
    logging.getLogger("optuna").setLevel(logging.INFO)  # a notebook user's own choices
    warnings.simplefilter("default")
    before = process_state()

    table = selector.recommend(long_frame(60), target="label", n_trials=2, seeds=2,
                               space=tiny_space, accelerator="cpu")
    assert isinstance(table.recommendation, Recommendation)
    assert table.summary.study_name.startswith("selector-dataframe-")
    saved = list((tmp_path / "selector-output" / "inputs").glob("dataframe-*.parquet"))
    assert len(saved) == 1 and table.document["profile"]["n_sequences"] == 60

    from_arrays = selector.recommend(arrays(), n_trials=2, seeds=2, space=tiny_space,
                                     accelerator="cpu", tracking=False, register=False)
    assert from_arrays.summary.study_name.startswith("selector-arrays-")
    assert from_arrays.document["profile"]["task"] == "classification"
    assert from_arrays.recommendation.verdict in ("gru", "lstm", None)

    after = process_state()
    for key in before:
        assert after[key] == before[key], f"the library changed the process's {key}"


def trained_models_alive() -> int:
    """Lightning systems still reachable from anywhere in the process."""
    gc.collect()
    return sum(isinstance(o, SequenceSystem) for o in gc.get_objects())


@pytest.mark.slow
def test_no_trained_candidate_outlives_the_call_that_trained_it(
        tmp_path: Path, tiny_space: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long search or a notebook's many calls must not keep every candidate in memory:
    once a call returns, at most the handed-over model may still be reachable."""
    monkeypatch.chdir(tmp_path)
    before = trained_models_alive()
    search(SearchRequest(data=str(write(long_frame(60), tmp_path / "seqs.csv")),
                         space=tiny_space, n_trials=4, storage=f"sqlite:///{tmp_path / 's.db'}",
                         data_options=DataOptions(target="label"), tracking_uri=None,
                         accelerator="cpu"))
    assert trained_models_alive() == before  # 4 trials trained, none kept
    for seed in (0, 1):
        selector.recommend(long_frame(60, seed=seed), target="label", n_trials=3, seeds=2,
                           space=tiny_space, accelerator="cpu", tracking=False, register=False)
        assert trained_models_alive() <= before + 1  # the hand-over at most


@pytest.mark.slow
def test_a_gated_recommendation_from_python_fails_its_quality_gate_and_registers_nothing(
        tmp_path: Path, tiny_space: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = selector.recommend(long_frame(60), target="label", n_trials=2, seeds=2,
                                space=tiny_space, accelerator="cpu", min_score=1.01)
    assert result.gates == "failed"  # accuracy cannot reach 1.01
    assert result.document["gates"]["promoted"] is False
    assert not result.document["artifacts"]["mlflow"].get("registered_model")


def test_a_polars_frame_is_the_same_data_as_its_pandas_twin(tmp_path: Path) -> None:
    polars = pytest.importorskip("polars")
    frame = long_frame(40)
    twin = polars.from_pandas(frame)
    profiles = [replace(selector.profile(f, target="label"), source="") for f in (twin, frame)]
    assert profiles[0] == profiles[1]
    # converted at the boundary and saved under the same content name: the same study
    from selector.data.memory import as_source
    assert as_source(twin, tmp_path) == as_source(frame, tmp_path)
    broken = polars.DataFrame({"sequence_id": ["s0"], "step": [0], "a": [[1.0, 2.0]],
                               "label": ["c0"]})  # a list column has no flat feature
    for table in (broken, broken.to_pandas()):  # a clear error, not a TypeError's traceback
        with pytest.raises(selector.DataError, match="column 'a' holds lists or arrays"):
            selector.profile(table, target="label")


@pytest.mark.slow
def test_a_panel_with_covariates_known_ahead_is_forecast_from_python(tmp_path: Path) -> None:
    (tmp_path / "space.yaml").write_text(LEARNABLE)
    rng = np.random.default_rng(0)
    days = pd.date_range("2025-01-01", periods=80, freq="D")
    frame = pd.concat([pd.DataFrame({
        "unique_id": store, "ds": days, "price": (price := rng.uniform(1, 2, len(days))),
        "y": scale * (3 - price), "size": scale}) for store, scale in (("a", 1.0), ("b", 50.0))])
    result = selector.recommend(frame, lookback=6, horizon=2, future_features=["price"],
                                static_features=["size"], n_trials=2, seeds=2,
                                space=str(tmp_path / "space.yaml"), accelerator="cpu",
                                tracking=False, register=False,
                                storage=f"sqlite:///{tmp_path / 'study.db'}",
                                output_dir=str(tmp_path / "out"))
    assert result.document["profile"]["task"] == "forecasting"
    # the last two days of each store as a request gives them: prices known, sales not
    request = frame.assign(y=frame.y.where(frame.ds < days[-2]))
    model = tmp_path / "out" / "model"
    forecast = selector.predict(model, request)
    cell = json.loads((model / "selector-model.json").read_text())["cell"]
    assert list(forecast.columns) == ["unique_id", "ds", cell.upper()]
    assert forecast.ds.tolist() == [days[-2], days[-1]] * 2
    assert forecast.groupby("unique_id")[cell.upper()].mean()["b"] > 10  # in store b's units
    # a backtest, as neuralforecast's cross_validation lays it out: from two past cut-offs,
    # the next two days of each store beside what they sold
    backtest = selector.predict(model, frame, cutoffs=[days[59], str(days[69].date())])
    assert list(backtest.columns) == ["unique_id", "ds", "cutoff", cell.upper(), "y"]
    assert backtest.cutoff.tolist() == [days[59]] * 4 + [days[69]] * 4
    assert backtest.ds.tolist() == [days[60], days[61]] * 2 + [days[70], days[71]] * 2
    known = frame.set_index(["unique_id", "ds"]).y
    np.testing.assert_allclose(backtest.y, known.loc[list(zip(backtest.unique_id, backtest.ds,
                                                              strict=True))].to_numpy())
    with pytest.raises(selector.DataError, match="cutoff 'soon' is not a date"):
        selector.predict(model, frame, cutoffs=["soon"])
