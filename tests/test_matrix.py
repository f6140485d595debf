"""Every input layout and task selector accepts goes end to end, as a user would take it:
`selector recommend` on a file, `selector predict` on the same file (TorchScript and ONNX), and
the registered model, `mlflow.pyfunc.load_model("models:/NAME@champion")`, on the raw table or
arrays; all three answer alike. The univariate series also goes through `mlflow models serve`;
the panel's forecast is checked for what neighbours give (unique_id, ds, one column per model).

The cases share one MLflow store and one search space sized so that every task is learned in
a few seconds (a hand-over needs a cell that learned).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from selector.serving.runtime import MODEL_FILE
from tests.conftest import LEARNABLE, long_frame, selector, write
from tests.helpers.serving import invocations, serve_without_training_stack, served

WORDS = {"c0": ["calm", "quiet", "slow", "soft"], "c1": ["loud", "fast", "sharp", "bright"]}


def long_regression(n: int = 60) -> pd.DataFrame:
    """A long table whose target (per sequence, on every row) is the sum of its 'b' column."""
    frame = long_frame(n)
    return frame.drop(columns="label").assign(
        target=frame.groupby("sequence_id")["b"].transform("sum"))


def texts(n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    labels = [f"c{i % 2}" for i in range(n)]
    return pd.DataFrame({"text": [" ".join(rng.choice(WORDS[label], size=5)) for label in labels],
                         "label": labels})


def series(n: int = 240, *, covariate: bool) -> pd.DataFrame:
    """A period-4 series (the last value is a poor forecast); with ``covariate``, a second
    column that leads it by one step."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    wave = 10 * np.sin(2 * np.pi * t / 4) + rng.normal(0, 0.5, n)
    if covariate:
        return pd.DataFrame({"time": t, "load": 50 + wave,
                             "temp": np.roll(wave, -1) + rng.normal(0, 0.2, n)})
    return pd.DataFrame({"year": 1700 + t, "sunactivity": 80 + wave})


def stores(n: int = 90) -> pd.DataFrame:
    """A panel (unique_id, ds, y) of four daily series of a period-4 wave at scales from 1 to
    1,000, with a past-only covariate and a static one."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    return pd.concat([pd.DataFrame({
        "unique_id": f"store{i}", "ds": pd.date_range("2025-01-01", periods=n, freq="D"),
        "y": 10.0 ** i * (3 + np.sin(2 * np.pi * t / 4) + rng.normal(0, 0.1, n)),
        "promo": rng.integers(0, 2, n), "size": 100 + i}) for i in range(4)], ignore_index=True)


def arrays(n: int = 80, *, variable: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 6, 2)).astype("float32")
    lengths = rng.integers(3, 7, size=n) if variable else np.full(n, 6)
    y = np.array([int(X[i, :lengths[i], 0].mean() > 0) for i in range(n)])
    return {"X": X, "y": y, **({"lengths": lengths} if variable else {})}


@dataclass(frozen=True)
class Case:
    file: str
    make: Callable[[], pd.DataFrame | dict[str, np.ndarray]]
    flags: tuple[str, ...] = ()


CASES = {
    "long-csv-classification": Case("visits.csv", lambda: long_frame(60)),
    "long-parquet-regression": Case("stays.parquet", long_regression),
    "text-csv-classification": Case("reviews.csv", texts),
    "series-univariate": Case("sunspots.csv", lambda: series(covariate=False), (
        "--task", "forecasting", "--time-col", "year", "--target", "sunactivity",
        "--lookback", "8")),
    "series-multivariate": Case("load.csv", lambda: series(covariate=True), (
        "--task", "forecasting", "--target", "load", "--lookback", "8")),
    "panel-with-covariate": Case("stores.csv", stores, (
        "--features", "promo", "--static-features", "size", "--horizon", "3")),  # lookback searched
    "arrays-fixed-length": Case("fixed.npz", lambda: arrays(variable=False)),
    "arrays-variable-length": Case("variable.npz", lambda: arrays(variable=True)),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The folder every case works in, and the MLflow store they share."""
    folder = tmp_path_factory.mktemp("matrix")
    (folder / "space.yaml").write_text(LEARNABLE)
    return folder, f"sqlite:///{folder / 'mlflow.db'}"


def save(data: pd.DataFrame | dict[str, np.ndarray], path: Path) -> Any:
    """Write ``data`` where a user would keep it; return what the pyfunc is sent."""
    if isinstance(data, dict):
        np.savez(path, **data)
        return {k: v for k, v in data.items() if k in ("X", "lengths")}
    write(data, path)
    return data


def run(*args: str, cwd: Path, uri: str) -> str:
    process = selector(*args, cwd=cwd, env={"MLFLOW_TRACKING_URI": uri})
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, f"selector {' '.join(args)}\n{out}\n{err}"
    return out


def agree(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Same rows, same columns; labels and ids equal, numbers within float32 noise."""
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right)
    for column in left.columns:
        a, b = left[column], right[column]
        if pd.api.types.is_float_dtype(a) and pd.api.types.is_float_dtype(b):
            np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-4, atol=1e-4,
                                       err_msg=column)
        else:
            assert a.astype(str).tolist() == b.astype(str).tolist(), column


@pytest.mark.slow
@pytest.mark.server
@pytest.mark.parametrize("name", list(CASES))
def test_recommend_predict_and_the_registered_model_agree(
        name: str, store: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    folder, uri = store
    case = CASES[name]
    raw = save(case.make(), folder / case.file)
    out = f"out-{name}"
    run("recommend", case.file, *case.flags, "--space", "space.yaml", "--n-trials", "2",
        "--seeds", "2", "--model-name", name, "--output-dir", out, "--quiet",
        cwd=folder, uri=uri)
    assert (folder / out / "report.html").exists() and (folder / out / "recommendation.json").exists()
    assert (folder / out / "model").is_dir(), f"{name}: no model was handed over"

    predictions = {}
    for runtime in ("torchscript", "onnx"):
        target = f"{out}/predictions-{runtime}.csv"
        run("predict", f"{out}/model", case.file, "--runtime", runtime, "-o", target,
            cwd=folder, uri=uri)
        predictions[runtime] = pd.read_csv(folder / target)
    assert len(predictions["torchscript"]) > 0
    agree(predictions["torchscript"], predictions["onnx"])

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    registered = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(raw)
    agree(predictions["torchscript"], registered.reset_index(drop=True))
    # Served with the modules the model carries, in a process that cannot import torch.
    served_alone, package = serve_without_training_stack(
        f"models:/{name}@champion", folder / case.file, env={"MLFLOW_TRACKING_URI": uri})
    agree(predictions["torchscript"], served_alone)
    assert "/code/selector/" in package, package  # not the installed selector

    if name == "panel-with-covariate":  # the next 3 days of each store, in its own units
        document = json.loads((folder / out / "recommendation.json").read_text())
        final = document["final"]
        assert final["refit"]["scale_free"]["smape"] >= 0  # scored without units, too
        # judged by MASE: the stores weigh the same whatever their scale
        assert document["score_name"] == "mase" and document["direction"] == "minimize"
        assert final["refit"]["test_score"] == pytest.approx(final["refit"]["scale_free"]["mase"])
        assert set(final["baselines"]) == set(final["baselines_scale_free"])
        assert final["season"] == 7 and "last value" in final["baselines_scale_free"]
        # 90-day stores: a training part of 63 days holds lookbacks of 6 to 48 days ahead of 3;
        # a request gives the 48 days each window's spread is taken over
        model = json.loads((folder / out / "model" / MODEL_FILE).read_text())
        assert model["data_options"]["lookback"] == 48
        assert model["config"]["lookback"] in (6, 12, 24, 48)
        assert model["trained_on"] == "train+val+test"  # forecasts from the latest steps
        forecast = predictions["torchscript"]
        assert list(forecast.columns)[:2] == ["unique_id", "ds"] and len(forecast) == 4 * 3
        assert forecast.groupby("unique_id")["ds"].min().eq("2025-04-01").all()
        level = forecast.groupby("unique_id")[forecast.columns[-1]].mean()
        np.testing.assert_allclose(level.to_numpy(), 3 * 10.0 ** np.arange(4), rtol=0.5)
    if name == "series-univariate":  # the layout whose input is its own target
        with served(f"models:/{name}@champion", env={"MLFLOW_TRACKING_URI": uri}) as port:
            answered = pd.DataFrame(invocations(port, raw))
        agree(predictions["torchscript"], answered)
