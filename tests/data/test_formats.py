"""Each accepted layout loads into sequences, targets and splits users can check by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from selector.data import DataOptions, load_dataset
from selector.errors import DataError
from tests.conftest import long_frame, write


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_long_format_keeps_each_sequence_in_step_order(tmp_path: Path, suffix: str) -> None:
    frame = long_frame(24)
    shuffled = frame.sample(frac=1.0, random_state=1)  # rows out of order in the file
    data = load_dataset(write(shuffled, tmp_path / f"d{suffix}"))
    assert data.format == "long" and data.task == "classification"
    assert len(data) == 24 and data.feature_names == ("a", "b")
    assert data.classes == ("c0", "c1")
    expected_lengths = frame.groupby("sequence_id", sort=False).size()
    # Sequences appear in the order their id is first seen in the file.
    first_seen = pd.unique(shuffled["sequence_id"])
    assert data.lengths.tolist() == [int(expected_lengths[s]) for s in first_seen]
    # Features are scaled with training statistics, so the raw values come back via mean/std.
    mean, std = (np.array(data.preprocessing.feature_mean),
                 np.array(data.preprocessing.feature_std))
    raw = data.sequences[0] * std + mean
    original = frame[frame.sequence_id == first_seen[0]].sort_values("step")[["a", "b"]]
    np.testing.assert_allclose(raw, original.to_numpy(), rtol=1e-5, atol=1e-5)


def test_long_format_without_step_column_uses_file_order(tmp_path: Path) -> None:
    frame = long_frame(12).drop(columns="step")
    data = load_dataset(write(frame, tmp_path / "d.csv"))
    first = frame[frame.sequence_id == "s0"][["a", "b"]].to_numpy()
    mean, std = np.array(data.preprocessing.feature_mean), np.array(data.preprocessing.feature_std)
    np.testing.assert_allclose(data.sequences[0] * std + mean, first, rtol=1e-5, atol=1e-5)


def test_long_format_target_on_one_row_only(tmp_path: Path) -> None:
    frame = long_frame(12)
    frame.loc[frame.duplicated("sequence_id", keep="last"), "label"] = None
    data = load_dataset(write(frame, tmp_path / "d.csv"))
    assert data.classes == ("c0", "c1") and len(data) == 12


def test_long_format_regression_and_custom_columns(tmp_path: Path) -> None:
    frame = long_frame(20).rename(columns={"sequence_id": "patient", "step": "hour"})
    frame["outcome"] = frame["b"].groupby(frame["patient"]).transform("mean") + 0.123
    frame = frame.drop(columns="label")
    opts = DataOptions(id_col="patient", step_col="hour", target="outcome", features=("a",))
    data = load_dataset(write(frame, tmp_path / "d.parquet"), opts)
    assert data.task == "regression" and data.feature_names == ("a",)
    assert data.targets.dtype == np.float32 and data.splits.rule == "random"
    assert data.preprocessing.target_std[0] > 0


def test_task_override_turns_integer_target_into_regression(tmp_path: Path) -> None:
    frame = long_frame(30, classes=3)
    frame["label"] = frame["label"].str[1:].astype(int)
    path = write(frame, tmp_path / "d.csv")
    assert load_dataset(path).task == "classification"
    assert load_dataset(path, DataOptions(task="regression")).task == "regression"


def test_text_vocabulary_comes_from_training_split_only(tmp_path: Path) -> None:
    texts = [f"good movie {i}" if i % 2 else f"bad film {i}" for i in range(40)]
    frame = pd.DataFrame({"text": texts, "label": ["pos" if i % 2 else "neg" for i in range(40)]})
    data = load_dataset(write(frame, tmp_path / "reviews.csv"), DataOptions(max_length=2))
    assert data.format == "text" and data.is_text and data.task == "classification"
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(data.preprocessing.tokenizer_json)
    vocab = tokenizer.get_vocab()
    # The number words of validation/test rows never enter the vocabulary: they map to [UNK].
    for i in np.concatenate([data.splits.val, data.splits.test]):
        assert str(i) not in vocab
    for i in data.splits.train:
        assert str(i) in vocab
    assert all(len(s) <= 2 for s in data.sequences)  # --max-length cuts
    unknown = tokenizer.encode("completely unseen words").ids
    assert unknown == [1, 1, 1]


def test_series_windows_forecast_horizon_ahead(tmp_path: Path) -> None:
    n = 200
    frame = pd.DataFrame({"time": np.arange(n), "load": np.arange(n, dtype=float),
                          "temp": np.sin(np.arange(n))})
    opts = DataOptions(target="load", lookback=10, horizon=3)
    data = load_dataset(write(frame, tmp_path / "series.parquet"), opts)
    assert data.task == "forecasting" and data.targets.shape[1:] == (3, 1)
    assert data.lookback == 10 and data.output_size == 3
    # Window k starts at some t: its targets are load[t+10 : t+13] in user units.
    mean = np.array(data.preprocessing.feature_mean)
    std = np.array(data.preprocessing.feature_std)
    load_index = data.feature_names.index("load")
    for k in (0, len(data) - 1):
        start = data.sequences[k][0, load_index] * std[load_index] + mean[load_index]
        np.testing.assert_allclose(data.targets[k, :, 0], start + np.arange(10, 13), atol=1e-3)


def test_forecasting_split_is_leak_free(tmp_path: Path) -> None:
    """No training window reads a validation or test step; each part's targets lie wholly in
    it; a validation or test window forecasts from the 12 steps just before its targets, and
    every step of those parts is forecast (a backtest)."""
    n = 300
    frame = pd.DataFrame({"time": pd.date_range("2026-01-01", periods=n, freq="D"),
                          "value": np.arange(n, dtype=float)})
    data = load_dataset(write(frame.sample(frac=1, random_state=0), tmp_path / "s.csv"),
                        DataOptions(lookback=12, horizon=4))
    mean, std = data.preprocessing.feature_mean[0], data.preprocessing.feature_std[0]

    def targets(part: np.ndarray) -> np.ndarray:
        return data.targets[part, :, 0]

    def inputs(part: np.ndarray) -> np.ndarray:
        return np.stack([data.sequences[k][:, 0] for k in part]) * std + mean

    val_start, test_start = 210, 255  # 70% and 85% of 300 steps
    assert targets(data.splits.train).max() < val_start
    assert inputs(data.splits.train).max() < val_start
    assert targets(data.splits.val).min() == val_start
    assert targets(data.splits.val).max() == test_start - 1
    assert targets(data.splits.test).min() == test_start
    assert targets(data.splits.test).max() == n - 1
    later = np.concatenate([data.splits.val, data.splits.test])
    np.testing.assert_allclose(inputs(later)[:, -1], targets(later)[:, 0] - 1, atol=1e-3)
    # Scaling statistics come from the training part alone.
    train_values = np.arange(round(n * 0.7))
    assert mean == pytest.approx(train_values.mean(), rel=1e-6)


def test_npz_with_lengths_and_split(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 7, 2)).astype(np.float32)
    lengths = rng.integers(1, 8, size=30)
    X[np.arange(7)[None, :] >= lengths[:, None]] = np.nan  # padding may hold anything
    split = np.array(["train"] * 20 + ["val"] * 5 + ["test"] * 5)
    np.savez(tmp_path / "d.npz", X=X, y=rng.normal(size=30), lengths=lengths, split=split)
    data = load_dataset(tmp_path / "d.npz")
    assert data.format == "arrays" and data.task == "regression"
    assert data.lengths.tolist() == lengths.tolist()
    assert data.splits.rule == "column" and data.splits.sizes() == (20, 5, 5)


def test_split_column_in_long_format(tmp_path: Path) -> None:
    frame = long_frame(12)
    ids = frame["sequence_id"].str[1:].astype(int)
    frame["split"] = np.where(ids < 8, "train", np.where(ids < 10, "validation", "test"))
    data = load_dataset(write(frame, tmp_path / "d.csv"))
    assert data.splits.rule == "column" and data.splits.sizes() == (8, 2, 2)


@pytest.mark.parametrize("name", ["digits", "adding?length=30&n=200", "copy?length=20&n=300",
                                  "sine?length=400", "reviews?n=300"])
def test_bundled_examples_load(name: str) -> None:
    data = load_dataset(f"example:{name}")
    assert len(data) > 0 and data.splits.sizes()[0] > 0


def test_digits_is_eight_steps_of_eight_pixels() -> None:
    data = load_dataset("example:digits")
    assert len(data) == 1797 and data.sequences[0].shape == (8, 8) and len(data.classes) == 10


def test_examples_are_deterministic_and_long_range_at_chosen_length() -> None:
    a = load_dataset("example:adding?length=64&n=100")
    b = load_dataset("example:adding?length=64&n=100")
    assert a.lengths.max() == 64
    np.testing.assert_array_equal(a.targets, b.targets)
    copy = load_dataset("example:copy?length=50&n=100&symbols=4")
    assert len(copy.classes) == 4 and copy.lengths.min() == 50


def test_counting_asks_for_an_exact_count() -> None:
    data = load_dataset("example:counting?n=400&max_count=20")
    assert set(data.classes) == {"equal", "unequal"} and len(data) == 400
    for sequence, target, length in zip(data.sequences, data.targets, data.lengths, strict=True):
        assert len(sequence) == length
        a = int((sequence[:, 0] > sequence[:, 1]).sum())  # the a's come first, then the b's
        assert a >= 1 and (sequence[a:, 1] > sequence[a:, 0]).all()
        assert (data.classes[target] == "equal") == (length == 2 * a)
        assert length == 2 * a or abs(length - 2 * a) <= 3


def test_counting_can_miss_by_exactly_one() -> None:
    """``miss=1``: every unequal sequence is off by one b, so no approximate count will do."""
    data = load_dataset("example:counting?n=400&max_count=20&miss=1")
    for sequence, target, length in zip(data.sequences, data.targets, data.lengths, strict=True):
        a = int((sequence[:, 0] > sequence[:, 1]).sum())
        assert abs((length - a) - a) == (0 if data.classes[target] == "equal" else 1)
    with pytest.raises(DataError, match=r"parameter 'miss' is too small: 0"):
        load_dataset("example:counting?miss=0")
