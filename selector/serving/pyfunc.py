"""The handed-over model as an MLflow pyfunc: raw data in, the predictions of `selector predict`
out, so that `mlflow models serve` and `mlflow.pyfunc.load_model(...).predict(table)` work.

The pyfunc carries the selector model folder (TorchScript, ONNX, the input spec with the
training split's scaling and vocabulary) as an artifact. It takes what `selector predict`
reads: a pandas DataFrame in the layout the model was trained on (long table, text table, one
series), or, for a model trained on arrays, ``{"X": (sequences, steps, features)[, "lengths"]}``,
transformed in memory and run by ONNX Runtime.

Serving needs no training stack: the model carries the few modules of selector that read a
request (`SERVING_MODULES`, MLflow's ``code_paths``), and its requirements are MLflow's
client (mlflow-skinny), NumPy, pandas and ONNX Runtime (and tokenizers for text): no torch,
Lightning, Optuna or MLflow server.
"""

from __future__ import annotations

import shutil
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel
from mlflow.types.schema import AnyType, ColSpec, Schema

from selector.data.dataset import SequenceData
from selector.data.examples import is_example
from selector.data.inputs import InputSpec
from selector.data.options import DEFAULT_SPLIT_COLUMNS, DEFAULT_TARGET_COLUMNS
from selector.data.panel import PANEL_TIME_COLUMNS, read_panel
from selector.data.readers import read_table
from selector.data.validate import resolve_column
from selector.serving.predict import ModelBundle, Predictor, open_model, predict

EXAMPLE_SEQUENCES = 3  # sequences in the logged input example
SERVING_RUNTIME = "onnx"  # the GRU's fastest CPU runtime at batch 1 (bench/README.md, section 13)
SERVING_MODULES = (  # what answering a request imports, relative to the package: no torch
    "__init__.py", "_lazy.py", "choices.py", "errors.py", "process.py", "urls.py",
    "versions.py", "data/__init__.py", "data/cutoffs.py", "data/dataset.py", "data/examples.py",
    "data/formats.py", "data/inputs.py", "data/lookbacks.py", "data/options.py", "data/panel.py",
    "data/readers.py", "data/seasons.py", "data/split.py", "data/text.py", "data/validate.py",
    "serving/__init__.py", "serving/predict.py", "serving/pyfunc.py", "serving/runtime.py",
)


class SelectorModel(PythonModel):
    """`selector predict` as a pyfunc (artifact ``model``: the selector model folder)."""

    # MLflow reads type hints of `predict` as its input schema, and warns without them: the
    # signature comes from the logged input example instead, so neither applies here.
    _skip_type_hint_validation = True

    def load_context(self, context: Any) -> None:
        self.predictor = Predictor(open_model(context.artifacts["model"]), SERVING_RUNTIME)

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return self.predictor(model_input)


def serving_code(target: Path) -> Path:
    """The modules a served model imports, copied as the package ``selector`` under
    ``target``: MLflow puts the folder it returns on the served model's ``sys.path``."""
    package = Path(__file__).resolve().parents[1]
    copy = target / "selector"
    for module in SERVING_MODULES:
        (copy / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(package / module, copy / module)
    return copy


def serving_requirements(bundle: ModelBundle) -> tuple[str, ...]:
    """The served model's pip requirements, pinned to this environment's versions."""
    needed = ["mlflow-skinny", "numpy", "pandas", "onnxruntime"]
    if bundle.spec.format == "text":
        needed.append("tokenizers")
    return tuple(f"{name}=={version(name)}" for name in needed)  # mlflow installs mlflow-skinny


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
        frame = frame.head(spec.options.served_lookback + EXAMPLE_SEQUENCES)
    elif spec.format == "panel":  # the last window of a few series
        frame = _panel_example(frame, spec, source)
    else:
        frame = frame.head(EXAMPLE_SEQUENCES)
    return frame.drop(columns=[c for c in frame.columns if c in dropped]).reset_index(drop=True)


def _panel_example(frame: pd.DataFrame, spec: InputSpec, source: str) -> pd.DataFrame:
    """A few series' last window; where the model reads covariates known ahead, the last
    ``horizon`` rows of each come after it, their target emptied (as a request gives them)."""
    panel = read_panel(frame, spec.options, source, spec.feature_names[0])
    ahead = spec.options.horizon if spec.options.future_features else 0
    rows = [s.rows[-(spec.options.served_lookback + ahead):] for s in panel.series[:EXAMPLE_SEQUENCES]]
    example = frame.iloc[np.concatenate(rows)].copy()
    if ahead:
        future = np.concatenate([np.arange(len(r))[-ahead:] + sum(map(len, rows[:k]))
                                 for k, r in enumerate(rows)])
        target = spec.feature_names[0]
        example[target] = example[target].where(~np.isin(np.arange(len(example)), future))
    return example


def _any_time(inputs: Schema, spec: InputSpec, source: str) -> Schema:
    """``inputs`` with a panel's time column of any type: dates as text (a CSV read as is, a
    JSON request) or as datetimes (a typed frame) are both parsed as in training."""
    time_col = resolve_column(pd.DataFrame(columns=inputs.input_names()), spec.options.time_col,
                              PANEL_TIME_COLUMNS, role="time", option="time_col", source=source)
    return Schema([ColSpec(AnyType(), c.name, required=c.required)  # type: ignore[no-untyped-call]
                   if c.name == time_col else c
                   for c in inputs.inputs])


def pyfunc_parts(folder: Path, data: SequenceData, source: str
                 ) -> tuple[SelectorModel, Any, Any, tuple[str, ...]]:
    """What logging the model folder as a pyfunc needs: the model, its signature (inferred
    from the input example and its predictions), the example, and the requirements."""
    from mlflow.models import infer_signature

    bundle = open_model(str(folder))
    example = input_example(data, source, bundle)
    signature = None
    if example is not None:
        with warnings.catch_warnings():  # "integer columns cannot hold missing values": the
            warnings.simplefilter("ignore", UserWarning)  # model takes what it was trained on
            signature = infer_signature(example, predict(bundle, example,
                                                         runtime=SERVING_RUNTIME))
        if bundle.spec.format == "panel":
            signature.inputs = _any_time(signature.inputs, bundle.spec, source)
    return SelectorModel(), signature, example, serving_requirements(bundle)
