"""Every bad input the data layer promises to catch: a DataError naming file, place and fix."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from selector.data import DataOptions, load_dataset
from selector.errors import DataError
from tests.conftest import long_frame, write


def error_of(source: Path | str, options: DataOptions | None = None) -> str:
    with pytest.raises(DataError) as caught:
        load_dataset(source, options)
    message = str(caught.value)
    assert message.startswith(str(source)), message  # every message names the file first
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert "file not found" in error_of(tmp_path / "nope.csv")


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_text("x")
    message = error_of(path)
    assert "unknown file type '.xlsx'" in message and ".parquet" in message


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert "empty (0 bytes)" in error_of(path)


def test_header_without_rows(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("sequence_id,step,a,label\n")
    assert "no data rows" in error_of(path)


def test_misspelled_flag_column_suggests_closest(long_csv: Path) -> None:
    message = error_of(long_csv, DataOptions(id_col="sequnce_id"))
    assert "id_col names column 'sequnce_id'" in message
    assert "Did you mean 'sequence_id'?" in message


def test_missing_target_column_suggests_closest(tmp_path: Path) -> None:
    frame = long_frame().rename(columns={"label": "lable"})
    message = error_of(write(frame, tmp_path / "d.csv"))
    assert "no target column" in message and "target='NAME'" in message
    assert "Did you mean 'lable'?" in message


def test_layout_cannot_be_told(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    message = error_of(write(frame, tmp_path / "d.csv"))
    assert "cannot tell how the table is laid out" in message and "id_col='NAME'" in message


def test_non_numeric_feature_names_column_and_row(tmp_path: Path) -> None:
    frame = long_frame()
    frame["a"] = frame["a"].astype(object)
    frame.loc[5, "a"] = "abc"
    message = error_of(write(frame, tmp_path / "d.csv"))
    assert "column 'a', row 6 (line 7): 'abc' is not a number" in message


@pytest.mark.parametrize(("value", "expected"), [(np.nan, "missing (NaN)"),
                                                 (np.inf, "inf (infinite)")])
def test_nan_and_inf_features(tmp_path: Path, value: float, expected: str) -> None:
    frame = long_frame()
    frame.loc[3, "b"] = value
    message = error_of(write(frame, tmp_path / "d.parquet"))
    assert f"column 'b', row 4: the value is {expected}" in message


def test_sequence_without_target(tmp_path: Path) -> None:
    frame = long_frame()
    frame["label"] = frame["label"].astype(object)
    frame.loc[frame.sequence_id == "s4", "label"] = None
    assert "sequence 's4' has no target" in error_of(write(frame, tmp_path / "d.csv"))


def test_sequence_with_two_targets(tmp_path: Path) -> None:
    frame = long_frame()
    rows = frame.index[frame.sequence_id == "s2"]
    frame.loc[rows[-1], "label"] = "c1" if frame.loc[rows[0], "label"] == "c0" else "c0"
    message = error_of(write(frame, tmp_path / "d.csv"))
    assert "sequence 's2' has two different targets in column 'label'" in message


def test_duplicate_id_step_rows(tmp_path: Path) -> None:
    frame = long_frame()
    frame = pd.concat([frame, frame.iloc[[2]]], ignore_index=True)
    message = error_of(write(frame, tmp_path / "d.csv"))
    assert "duplicate rows for sequence 's0' at step=2" in message
    assert f"row 3 (line 4) and row {len(frame)} (line {len(frame) + 1})" in message


def test_single_class(tmp_path: Path) -> None:
    frame = long_frame()
    frame["label"] = "only"
    message = error_of(write(frame, tmp_path / "d.csv"))
    assert "single class ('only')" in message


def test_too_few_examples_for_split(tmp_path: Path) -> None:
    message = error_of(write(long_frame(4), tmp_path / "d.csv"))
    assert "too few examples for the split: class 'c0' has 2 sequence(s)" in message


def test_too_few_steps_for_forecasting(tmp_path: Path) -> None:
    # 12 steps leave a training part of 8, short of one window of 10 + 1
    frame = pd.DataFrame({"time": range(12), "value": np.arange(12.0)})
    message = error_of(write(frame, tmp_path / "s.csv"), DataOptions(lookback=10))
    assert "too few time steps for forecasting: the train part has 8 of 12 steps" in message
    assert "lookback + horizon = 11" in message


def test_text_empty_after_tokenizing(tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": ["good film", "bad film", "   ", "good", "bad", "fine"] * 3,
                          "label": ["a", "b", "a", "b", "a", "b"] * 3})
    message = error_of(write(frame, tmp_path / "t.csv"))
    assert "column 'text', row 3 (line 4)" in message and "empty after tokenizing" in message


def test_npz_needing_pickle(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", X=np.array([[1, "a"]], dtype=object), y=np.array([1]))
    message = error_of(tmp_path / "d.npz")
    assert "need pickle" in message and "never unpickles" in message


def test_npz_truncated(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", X=np.zeros((10, 3, 1)), y=np.arange(10) % 2)
    data = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "d.npz").write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in error_of(tmp_path / "d.npz")


def test_npz_wrong_shape(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", X=np.zeros((10, 3)), y=np.arange(10) % 2)
    message = error_of(tmp_path / "d.npz")
    assert "X has shape (10, 3); expected 3 dimensions" in message and "X[..., None]" in message


def test_npz_nan(tmp_path: Path) -> None:
    X = np.zeros((10, 3, 2))
    X[4, 1, 1] = np.nan
    np.savez(tmp_path / "d.npz", X=X, y=np.arange(10) % 2)
    assert "X[4, 1, 1] is nan" in error_of(tmp_path / "d.npz")


def test_truncated_parquet(tmp_path: Path) -> None:
    path = write(long_frame(), tmp_path / "d.parquet")
    path.write_bytes(path.read_bytes()[:100])
    assert "cannot read it as PARQUET (truncated or corrupt?)" in error_of(path)


def test_gzipped_csv_is_read(tmp_path: Path) -> None:
    path = tmp_path / "d.csv.gz"
    with gzip.open(path, "wt") as handle:
        long_frame().to_csv(handle, index=False)
    assert len(load_dataset(path)) == 30


def test_unknown_example() -> None:
    message = error_of("example:digit")
    assert "no bundled example named 'digit'. Did you mean 'digits'?" in message


def test_wrong_task_for_layout(long_csv: Path) -> None:
    message = error_of(long_csv, DataOptions(time_col="step", task="forecasting"))
    assert "time" in message or "forecasting" in message


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_repeated_column_names_are_named_not_renamed(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"d{suffix}"
    sep = "\t" if suffix == ".tsv" else ","
    path.write_text(sep.join(["sequence_id", "step", "a", "b", "a", "label"]) + "\n"
                    + sep.join(["s0", "0", "1", "2", "3", "x"]) + "\n")
    assert "column names repeat: 'a'" in error_of(path)  # pandas would read 'a' and 'a.1'


def test_unnamed_columns_are_not_taken_for_repeats(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    long_frame().assign(extra=1.0).rename(columns={"extra": ""}).to_csv(path, index=False)
    load_dataset(path)  # pandas names an empty header 'Unnamed: 5'; nothing repeats
