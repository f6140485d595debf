"""New data for a trained model: read in the layout it was trained on, with its preprocessing.

Prediction needs no target column and fits nothing: the scaling statistics and the text
vocabulary are the ones saved with the model (`InputSpec`), so a sequence is seen exactly as
it was in training. Every sequence gets an id to report its prediction under.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from selector.data import text as text_tokens
from selector.data.dataset import Format, Preprocessing
from selector.data.examples import is_example, load_example
from selector.data.formats import ColumnFinder, group_steps, npz_lengths, sort_series
from selector.data.options import (
    DEFAULT_ID_COLUMNS,
    DEFAULT_STEP_COLUMNS,
    DEFAULT_TEXT_COLUMNS,
    DEFAULT_TIME_COLUMNS,
    DataOptions,
)
from selector.data.panel import PanelHistory, panel_history
from selector.data.readers import plain_frame, read_npz, read_table
from selector.data.validate import numeric_matrix, row_label
from selector.errors import DataError, param


@dataclass(frozen=True)
class InputSpec:
    """How the training data was read and preprocessed: saved with the model."""

    format: Format
    options: DataOptions
    feature_names: tuple[str, ...]
    preprocessing: Preprocessing


@dataclass(frozen=True)
class Inputs:
    """Model-ready sequences and the id each prediction is reported under."""

    id_name: str
    ids: list[object]
    sequences: list[np.ndarray]
    history: PanelHistory | None = None  # a panel's: turns outputs into its forecast frame


def load_inputs(source: str, spec: InputSpec) -> Inputs:
    """Read ``source`` (a file, or the bundled example the model was trained on)."""
    if is_example(source):  # generated data: the same options rebuild the same scaled data
        data = load_example(source, spec.options)
        return Inputs("index", list(range(len(data))), data.sequences)
    path = Path(source).expanduser()
    return inputs_from(read_npz(path) if spec.format == "arrays" else read_table(path), spec,
                       source)


def inputs_from(given: pd.DataFrame | Mapping[str, Any], spec: InputSpec,
                source: str = "the request") -> Inputs:
    """Model-ready sequences from data in memory, as a file in the same layout would give
    them: a table in the layout the model was trained on, or, for a model trained on arrays,
    ``{"X": (sequences, steps, features)[, "lengths": (sequences,)]}``."""
    if spec.format == "arrays":
        if not isinstance(given, Mapping) or "X" not in given:
            found = ", ".join(map(str, given)) if isinstance(given, Mapping) else \
                type(given).__name__
            raise DataError(source, "this model was trained on arrays: expected "
                            "{'X': (sequences, steps, features)[, 'lengths': (sequences,)]}; "
                            f"got {found or 'nothing'}.")
        arrays = {k: np.asarray(v) for k, v in given.items() if k in ("X", "lengths")}
        return _scaled(_arrays(arrays, spec, source), spec, source)
    if not isinstance(given, pd.DataFrame):
        raise DataError(source, f"expected a table (DataFrame) in the layout the model was "
                        f"trained on ({spec.format}); got {type(given).__name__}.")
    if given.empty:
        raise DataError(source, "the table has no rows.")
    frame = plain_frame(given, source)
    if spec.format == "text":
        return _text(frame, spec, source)
    if spec.format == "series":
        return _scaled(_series(frame, spec, source), spec, source)
    if spec.format == "panel":
        history = panel_history(frame, spec.options, spec.feature_names[0],
                                spec.preprocessing, source)
        return Inputs(history.panel.id_col, [s.uid for s in history.panel.series],
                      history.windows, history)
    return _scaled(_long(frame, spec, source), spec, source)


def _features(frame: pd.DataFrame, spec: InputSpec, source: str) -> list[str]:
    missing = [name for name in spec.feature_names if name not in frame.columns]
    if missing:
        raise DataError(source, f"the model was trained on feature column(s) "
                        f"{', '.join(map(repr, missing))}, which are not in the file. Columns: "
                        f"{', '.join(map(str, frame.columns))}.")
    return list(spec.feature_names)


def _long(frame: pd.DataFrame, spec: InputSpec, source: str) -> Inputs:
    find = ColumnFinder(frame, source)
    id_col = find(spec.options.id_col, DEFAULT_ID_COLUMNS, "sequence-id", "id_col")
    step_col = find.optional(spec.options.step_col, DEFAULT_STEP_COLUMNS, "order", "step_col")
    features = _features(frame, spec, source)
    _, _, uniques, sequences = group_steps(frame, id_col, step_col, features, source)
    return Inputs(id_col, list(uniques), sequences)


def _text(frame: pd.DataFrame, spec: InputSpec, source: str) -> Inputs:
    find = ColumnFinder(frame, source)
    text_col = find(spec.options.text_col, DEFAULT_TEXT_COLUMNS, "text", "text_col")
    assert spec.preprocessing.tokenizer_json is not None
    texts = frame[text_col]
    if texts.isna().any():
        pos = int(np.argmax(texts.isna().to_numpy()))
        raise DataError(source, f"column '{text_col}', {row_label(source, pos)}: the text is "
                        "missing.")
    tokenizer = text_tokens.load_tokenizer(spec.preprocessing.tokenizer_json)
    sequences = text_tokens.encode(tokenizer, texts.astype(str).tolist(), spec.options.max_length)
    for pos, ids in enumerate(sequences):
        if len(ids) == 0:
            raise DataError(source, f"column '{text_col}', {row_label(source, pos)}: the text is "
                            "empty after tokenizing.")
    return Inputs("row", list(range(len(frame))), sequences)


def _series(frame: pd.DataFrame, spec: InputSpec, source: str) -> Inputs:
    """Every window of ``lookback`` steps; each forecasts the steps after its last time."""
    find = ColumnFinder(frame, source)
    time_col = find(spec.options.time_col, DEFAULT_TIME_COLUMNS, "time", "time_col")
    frame = sort_series(frame, time_col, source)
    values = numeric_matrix(frame, _features(frame, spec, source), source)
    lookback = spec.options.served_lookback
    if len(values) < lookback:
        raise DataError(source, f"the series has {len(values)} steps; the model reads windows of "
                        f"{lookback} (its {param('lookback')}).")
    ends = range(lookback, len(values) + 1)
    times = frame[time_col].tolist()
    return Inputs(f"{time_col} (last input step)", [times[e - 1] for e in ends],
                  [values[e - lookback:e] for e in ends])


def _arrays(arrays: dict[str, np.ndarray], spec: InputSpec, source: str) -> Inputs:
    if "X" not in arrays:
        raise DataError(source, f"no array named X; arrays found: {', '.join(arrays) or 'none'}.")
    X = arrays["X"]
    width = len(spec.feature_names)
    if X.ndim != 3 or X.shape[2] != width:
        raise DataError(source, f"X has shape {X.shape}; the model expects (sequences, steps, "
                        f"{width}).")
    X = X.astype(np.float32)
    lengths = npz_lengths(arrays, X, source)
    return Inputs("index", list(range(len(X))), [X[i, :n] for i, n in enumerate(lengths)])


def _scaled(inputs: Inputs, spec: InputSpec, source: str) -> Inputs:
    mean = np.asarray(spec.preprocessing.feature_mean, dtype=np.float64)
    std = np.asarray(spec.preprocessing.feature_std, dtype=np.float64)
    sequences = [((s - mean) / std).astype(np.float32) for s in inputs.sequences]
    for i, s in enumerate(sequences):
        if not np.isfinite(s).all():
            raise DataError(source, f"sequence {inputs.ids[i]!r} has values that are not "
                            "finite (selector does not impute).")
    return Inputs(inputs.id_name, inputs.ids, sequences)
