"""Exports and `selector predict`: the handed-over model gives the trained model's answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from selector.data import DataOptions, load_dataset
from selector.data.batching import SplitDataset, collate
from selector.errors import DataError, SelectorError
from selector.process import available_cpus
from selector.records import ModelConfig, TrainingSettings
from selector.serving.export import export_model, export_repeat
from selector.serving.predict import Predictor, open_model, predict, write_predictions
from selector.serving.runtime import MODEL_FILE
from selector.training.baselines import Naive, forecasts
from selector.training.fitting import build_net, fit
from tests.helpers.panels import OPTIONS, loaded, panel

SETTINGS = TrainingSettings(max_epochs=2, patience=1)


def trained(data, **config):
    torch.manual_seed(0)
    net = build_net(ModelConfig(**{"cell": "gru", "hidden_size": 8, "batch_size": 64, **config}),
                    data)
    return fit(net, data, SETTINGS, seed=0, accelerator="cpu").system


def reference(system, data, indices) -> np.ndarray:
    """What the trained system predicts, through the training-time (padded) path."""
    x, lengths, _ = collate([SplitDataset(data, indices)[i] for i in range(len(indices))])
    with torch.no_grad():
        out = system.eval()(x, lengths)
    return torch.softmax(out, -1).numpy() if data.task == "classification" else out.numpy()


def long_table(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for sid in range(120):
        length = int(rng.integers(3, 15))  # variable lengths: several batches in predict
        label = "hot" if sid % 2 else "cold"
        for step in rng.permutation(length):  # shuffled rows: predict must order by step
            rows.append({"sequence_id": f"s{sid}", "step": int(step),
                         "temp": float(step) * (1 if sid % 2 else -1) + rng.normal(),
                         "wind": rng.normal(), "label": label})
    path = tmp_path / "long.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("cell", "bidirectional"), [("gru", False), ("lstm", True)])
@pytest.mark.slow
def test_long_table_predictions_match_the_trained_model(tmp_path: Path, cell: str,
                                                        bidirectional: bool) -> None:
    path = long_table(tmp_path)
    data = load_dataset(path)
    system = trained(data, cell=cell, bidirectional=bidirectional, num_layers=2)
    exported = export_model(system, data, DataOptions(), tmp_path / "model", meta={"cell": cell})
    assert exported.parity_ok and exported.parity["onnx"] < 1e-4

    new = pd.read_csv(path).drop(columns=["label"])  # new data: no target needed
    new.to_parquet(tmp_path / "new.parquet")
    expected = reference(system, data, np.arange(len(data)))
    for runtime in ("torchscript", "onnx"):
        out = predict(str(exported.folder), str(tmp_path / "new.parquet"), runtime=runtime)
        assert list(out.columns[:3]) == ["sequence_id", "prediction", "probability"]
        assert len(out) == len(data) == 120
        # long tables keep first-appearance order of ids, as the loader does
        probs = out[[f"p_{c}" for c in data.classes]].to_numpy()
        np.testing.assert_allclose(probs, expected, atol=1e-4)
        assert (out["prediction"] == [data.classes[k] for k in expected.argmax(1)]).all()
    # A served GRU splits a large batch over the cores; the answers are the batch's own.
    served = Predictor(open_model(str(exported.folder)), "onnx")
    batch = np.random.default_rng(0).normal(size=(70, 9, 2)).astype(np.float32)
    whole = served.session.run(None, {"x": batch})[0]
    np.testing.assert_allclose(served.run(batch), whole, atol=1e-6)
    assert served.workers == (available_cpus() if cell == "gru" else 1)
    # A table in memory (what the served model gets) is read as the file is, in memory.
    in_memory = predict(str(exported.folder), new.set_index("sequence_id"), runtime="onnx")
    pd.testing.assert_frame_equal(in_memory, out)


def test_a_panel_model_forecasts_swings_in_proportion_to_its_window(tmp_path: Path) -> None:
    """Each window is scaled by its own spread: a series whose swings are twice as large
    gets a forecast that departs twice as far from its last value, in both exported forms."""
    data = loaded(panel(), tmp_path)
    exported = export_model(trained(data), data, OPTIONS, tmp_path / "model",
                            meta={"cell": "gru"})
    assert exported.parity_ok
    history = panel()
    last = history.groupby("unique_id").y.transform("last")
    swung = history.assign(y=last + 2 * (history.y - last))
    ends, spreads = (history.groupby("unique_id").y.agg(how) for how in ("last", "std"))
    for runtime in ("torchscript", "onnx"):
        base, doubled = (predict(str(exported.folder), frame, runtime=runtime)
                         for frame in (history, swung))
        end, spread = (base.unique_id.map(values) for values in (ends, spreads))
        np.testing.assert_allclose((doubled.GRU - end) / spread, 2 * (base.GRU - end) / spread,
                                   atol=1e-4)


@pytest.mark.parametrize(("name", "naive"), [("last value", Naive()),
                                           ("seasonal naive (season 7)", Naive(7)),
                                           ("drift", Naive(drift=True))])
def test_a_naive_forecast_exports_as_a_model_made_from_each_series_past(
        tmp_path: Path, name: str, naive: Naive) -> None:
    """What is handed over when neither cell learned: each series' last value (its value a
    season before, or the line through its window's ends) over the horizon, in the series' own
    units, as the baseline scored it."""
    options = DataOptions(lookback=14, horizon=3, season=7)
    data = loaded(panel(), tmp_path, options)
    column = naive.column
    exported = export_repeat(data, naive, options, tmp_path / "model",
                             meta={"cell": None, "column": column})
    assert exported.parity_ok
    history = panel()
    for runtime in ("torchscript", "onnx"):
        out = predict(str(exported.folder), history, runtime=runtime)
        assert list(out.columns) == ["unique_id", "ds", column] and len(out) == 3 * 3
        for uid, rows in out.groupby("unique_id"):
            past = history.loc[history.unique_id == uid, "y"].to_numpy()
            drift = past[-1] + (past[-1] - past[-14]) / 13 * np.arange(1, 4)
            expected = {"Naive": past[[-1] * 3], "SeasonalNaive": past[-7:-4],
                        "RWD": drift}[column]
            np.testing.assert_allclose(rows[column].to_numpy(), expected, rtol=1e-5)
    # on the data's own windows, the model gives what the baseline scored
    net = torch.jit.load(str(exported.torchscript))
    val = data.splits.val
    x = torch.from_numpy(np.stack([data.sequences[i] for i in val]).astype(np.float32))
    np.testing.assert_allclose(net(x).numpy(), forecasts(data, val)[name], rtol=1e-4,
                               atol=1e-5)


@pytest.mark.slow
def test_forecasting_and_text_exports_predict_in_user_units(tmp_path: Path) -> None:
    options = DataOptions(lookback=24, horizon=3)
    data = load_dataset("example:sine?length=400", options)
    system = trained(data)
    folder = export_model(system, data, options, tmp_path / "sine", meta={}).folder
    frame = pd.DataFrame({"time": pd.date_range("2026-01-01", periods=100, freq="h"),
                          "value": np.sin(np.arange(100) * 2 * np.pi / 24)})
    frame.to_csv(tmp_path / "series.csv", index=False)
    out = predict(str(folder), str(tmp_path / "series.csv"))
    assert len(out) == 100 - 24 + 1  # every window, the last one forecasting past the end
    assert list(out.columns) == ["time (last input step)", "value_t+1", "value_t+2", "value_t+3"]
    assert out["value_t+1"].abs().max() < 10  # user units, not standard units

    text = load_dataset("example:reviews?n=300")
    system = trained(text, cell="lstm", embedding_dim=8)
    bundle = open_model(str(export_model(system, text, DataOptions(), tmp_path / "text",
                                         meta={}).folder))
    pd.DataFrame({"text": ["A great film.", "Boring and dull plot, honestly."]}).to_csv(
        tmp_path / "reviews.csv", index=False)
    out = predict(bundle, str(tmp_path / "reviews.csv"), runtime="onnx")
    assert list(out["row"]) == [0, 1] and set(out["prediction"]) <= {"positive", "negative"}
    write_predictions(out, str(tmp_path / "out" / "p.tsv"))
    assert (tmp_path / "out" / "p.tsv").read_text().startswith("row\tprediction")


def test_a_searched_lookback_is_saved_fixed_and_a_request_gives_only_that_many_steps(
        tmp_path: Path) -> None:
    options = DataOptions(horizon=3)  # searched: the windows are cut at 48 steps
    data = load_dataset("example:sine?length=400", options)
    system = trained(data, lookback=12)
    folder = export_model(system, data, options, tmp_path / "sine", meta={}).folder
    assert json.loads((folder / MODEL_FILE).read_text())["data_options"]["lookback"] == 12
    frame = pd.DataFrame({"time": pd.date_range("2026-01-01", periods=20, freq="h"),
                          "value": np.sin(np.arange(20) * 2 * np.pi / 24)})
    frame.to_csv(tmp_path / "series.csv", index=False)
    for runtime in ("torchscript", "onnx"):
        out = predict(str(folder), str(tmp_path / "series.csv"), runtime=runtime)
        assert len(out) == 20 - 12 + 1  # 20 steps are enough: the model reads 12


@pytest.mark.slow
def test_predict_names_what_is_wrong(tmp_path: Path) -> None:
    path = long_table(tmp_path)
    data = load_dataset(path)
    folder = export_model(trained(data), data, DataOptions(), tmp_path / "m", meta={}).folder
    pd.read_csv(path).drop(columns=["wind"]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=r"bad.csv: .*feature column\(s\) 'wind'"):
        predict(str(folder), str(tmp_path / "bad.csv"))
    new = pd.read_csv(path).drop(columns=["label"])
    with pytest.raises(DataError, match=r"the request: .*feature column\(s\) 'wind'"):
        predict(str(folder), new.drop(columns=["wind"]))
    with pytest.raises(DataError, match=r"the request: expected a table .* got dict"):
        predict(str(folder), {"X": np.zeros((2, 3, 2))})
    with pytest.raises(DataError, match=r"the request: the table has no rows"):
        predict(str(folder), new.head(0))
    with pytest.raises(SelectorError, match=r"no selector-model\.json"):
        open_model(str(tmp_path))
    with pytest.raises(SelectorError, match=r"expected a \.csv, \.tsv or \.parquet"):
        write_predictions(pd.DataFrame({"a": [1]}), str(tmp_path / "p.xlsx"))


ONNX_KEEPS_THE_MODE = """
import io, warnings, torch
from selector.process import flush_denormals, flushing_denormals
from selector.serving.runtime import onnx_session
model = io.BytesIO()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.onnx.export(torch.nn.Linear(4, 2), (torch.randn(1, 4),), model, dynamo=False)
{flush}
onnx_session(model.getvalue())
print(flushing_denormals())
"""


@pytest.mark.parametrize("flush", [True, False])
def test_onnx_sessions_leave_the_threads_denormal_mode_as_it_was(flush: bool) -> None:
    """ONNX Runtime resets the calling thread's mode when it makes a session: the training
    after the comparison's ONNX timings ran with denormals again, many times slower."""
    code = ONNX_KEEPS_THE_MODE.format(flush="flush_denormals()" if flush else "")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == str(flush)
