"""The handed-over model as an MLflow pyfunc: raw data in, the predictions of `selector predict`
out, so that `mlflow models serve` and `mlflow.pyfunc.load_model(...).predict(table)` work.

The pyfunc carries the selector model folder (TorchScript, ONNX, the input spec with the
training split's scaling and vocabulary) as an artifact. It takes what `selector predict`
reads: a pandas DataFrame in the layout the model was trained on (long table, text table, one
series), or, for a model trained on arrays, ``{"X": (sequences, steps, features)[, "lengths"]}``.
"""

from __future__ import annotations

import io
import tempfile
import warnings
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from selector.data.dataset import SequenceData
from selector.data.examples import is_example
from selector.data.memory import as_source
from selector.data.options import DEFAULT_SPLIT_COLUMNS, DEFAULT_TARGET_COLUMNS
from selector.data.readers import read_table
from selector.errors import DataError
from selector.serving.predict import ModelBundle, open_model, predict

EXAMPLE_SEQUENCES = 3  # sequences in the logged input example


class SelectorModel(PythonModel):
    """`selector predict` as a pyfunc (artifact ``model``: the selector model folder)."""

    # MLflow reads type hints of `predict` as its input schema, and warns without them: the
    # signature comes from the logged input example instead, so neither applies here.
    _skip_type_hint_validation = True

    def load_context(self, context: Any) -> None:
        self.bundle = open_model(context.artifacts["model"])

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return predict_raw(self.bundle, model_input)


def predict_raw(bundle: ModelBundle, model_input: Any) -> pd.DataFrame:
    """Predictions for a DataFrame in the training layout, or arrays for an arrays model."""
    with tempfile.TemporaryDirectory(prefix="selector-serve-") as folder:
        if isinstance(model_input, pd.DataFrame):
            if bundle.spec.format == "arrays":
                raise DataError("the request", "this model was trained on arrays: send "
                                "{'X': (sequences, steps, features), 'lengths': ...}.")
            return predict(bundle, as_source(model_input, Path(folder)))
        if isinstance(model_input, dict) and "X" in model_input:
            arrays = {k: np.asarray(v) for k, v in model_input.items() if k in ("X", "lengths")}
            path = Path(folder) / "inputs.npz"
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)  # type: ignore[arg-type]
            path.write_bytes(buffer.getvalue())
            return predict(bundle, str(path))
        raise DataError("the request", f"expected a table (DataFrame) in the layout the model "
                        f"was trained on, or {{'X': ...}}; got {type(model_input).__name__}.")


def input_example(data: SequenceData, source: str, bundle: ModelBundle) -> Any | None:
    """A few sequences of the training data as the model takes them (user units), or None
    where there is no raw table to take them from (a bundled example in a table layout)."""
    spec = bundle.spec
    if spec.format == "arrays":
        mean = np.asarray(spec.preprocessing.feature_mean, dtype=np.float32)
        std = np.asarray(spec.preprocessing.feature_std, dtype=np.float32)
        chosen = data.sequences[:EXAMPLE_SEQUENCES]
        steps = max(len(s) for s in chosen)
        X = np.zeros((len(chosen), steps, len(spec.feature_names)), dtype=np.float32)
        for i, sequence in enumerate(chosen):
            X[i, :len(sequence)] = sequence * std + mean
        if len(set(data.lengths.tolist())) == 1:  # fixed length: X alone, as it was given
            return {"X": X}
        return {"X": X, "lengths": np.array([len(s) for s in chosen], dtype=np.int64)}
    if is_example(source):
        return None
    frame = read_table(Path(source).expanduser())
    dropped = {spec.options.target, spec.options.split_col, *DEFAULT_TARGET_COLUMNS,
               *DEFAULT_SPLIT_COLUMNS} - {None} - set(spec.feature_names)  # a series' target is
    # its input too: a forecast reads the past values of what it forecasts
    if spec.format == "long":
        ids = frame[spec.options.id_col or "sequence_id"].drop_duplicates().head(EXAMPLE_SEQUENCES)
        frame = frame[frame[spec.options.id_col or "sequence_id"].isin(ids)]
    elif spec.format == "series":
        frame = frame.head((spec.options.lookback or 1) + EXAMPLE_SEQUENCES)
    else:
        frame = frame.head(EXAMPLE_SEQUENCES)
    return frame.drop(columns=[c for c in frame.columns if c in dropped]).reset_index(drop=True)


def pyfunc_parts(folder: Path, data: SequenceData, source: str
                 ) -> tuple[SelectorModel, Any, Any, tuple[str, ...]]:
    """What logging the model folder as a pyfunc needs: the model, its signature (inferred
    from the input example and its predictions), the example, and the requirements."""
    import torch
    from mlflow.models import infer_signature

    from selector import DISTRIBUTION, __version__

    bundle = open_model(str(folder))
    example = input_example(data, source, bundle)
    signature = None
    if example is not None:
        with warnings.catch_warnings():  # "integer columns cannot hold missing values": the
            warnings.simplefilter("ignore", UserWarning)  # model takes what it was trained on
            signature = infer_signature(example, predict_raw(bundle, example))
    requirements = (f"{DISTRIBUTION}=={__version__}",
                    f"torch=={torch.__version__.split('+')[0]}", f"mlflow=={mlflow.__version__}")
    return SelectorModel(), signature, example, requirements
