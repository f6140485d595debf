"""`selector predict`: run an exported or registered model on new data.

The model folder (see `selector.serving.export`) says how its training data was read and
preprocessed; new data goes through the same steps, sequences of equal length are batched
together, and the predictions come back as a table keyed by each sequence's id.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from selector.choices import Runtime, check_choice, choices
from selector.data.cutoffs import at_cutoff, with_actuals
from selector.data.dataset import Preprocessing
from selector.data.inputs import Inputs, InputSpec, inputs_from, load_inputs
from selector.data.options import DataOptions
from selector.data.readers import plain_frame, read_table
from selector.errors import ParameterError, SelectorError, first_line, param
from selector.process import available_cpus
from selector.serving.runtime import MODEL_FILE, ONNX_FILE, TOKENIZER_FILE, TORCHSCRIPT_FILE, onnx_session
from selector.urls import mask_url
from selector.versions import MODEL

RUNTIMES = choices(Runtime)
SPLIT_ROWS = 16  # the fewest sequences worth a thread of their own (bench/serving.py)
MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")


@dataclass(frozen=True)
class ModelBundle:
    folder: Path
    meta: dict[str, Any]

    @property
    def spec(self) -> InputSpec:
        prep: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                for k, v in self.meta["preprocessing"].items()}
        tokenizer = self.folder / TOKENIZER_FILE
        prep["tokenizer_json"] = tokenizer.read_text() if tokenizer.exists() else None
        return InputSpec(format=self.meta["format"],
                         options=DataOptions.from_dict(self.meta["data_options"]),
                         feature_names=tuple(self.meta["feature_names"]),
                         preprocessing=Preprocessing(**prep))


def open_model(model: str, *, tracking_uri: str | None = None,
               download_to: Path | None = None) -> ModelBundle:
    """A model folder, or an MLflow model URI (``models:/NAME@champion``) fetched to a folder
    from ``tracking_uri`` (default: MLflow's own, MLFLOW_TRACKING_URI)."""
    if model.startswith(MLFLOW_SCHEMES):
        folder = _download(model, tracking_uri, download_to or
                           Path(tempfile.mkdtemp(prefix="selector-model-")))
    else:
        folder = Path(model).expanduser()
        if folder.is_file() and folder.name == MODEL_FILE:
            folder = folder.parent
    meta_path = folder / MODEL_FILE
    if not meta_path.exists():
        raise SelectorError(f"{model}: no {MODEL_FILE} there. Give the model folder that "
                            "'selector recommend' wrote (its 'model/' output), or models:/NAME@ALIAS.")
    meta = json.loads(meta_path.read_text())
    MODEL.read(meta.get("schema"), str(meta_path))
    return ModelBundle(folder, meta)


def _download(model: str, tracking_uri: str | None, target: Path) -> Path:
    """The selector model folder inside the MLflow model ``model``, fetched into ``target``."""
    import mlflow

    uri = tracking_uri or mlflow.get_tracking_uri()
    try:
        local = Path(mlflow.artifacts.download_artifacts(
            artifact_uri=_artifacts_of(model, uri), dst_path=str(target), tracking_uri=uri))
    except Exception as exc:
        raise SelectorError(f"cannot fetch the model {model} from MLflow "
                            f"({mask_url(uri)}): {first_line(exc)}") from None
    found = sorted(local.rglob(MODEL_FILE))
    if not found:
        raise SelectorError(f"{model} is not a selector model: no {MODEL_FILE} in it.")
    return found[0].parent


def _artifacts_of(model: str, uri: str) -> str:
    """Where a ``models:/`` model's files are, looked up in the registry at ``uri`` (MLflow's
    own lookup reads the process-wide registry URI, whatever ``download_artifacts`` is told)."""
    if not model.startswith("models:/"):
        return model
    from mlflow import MlflowClient
    from mlflow.store.artifact.utils.models import get_model_name_and_version

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    found = get_model_name_and_version(client, model)  # type: ignore[no-untyped-call]
    if len(found) == 1:  # models:/m-<id>, a logged model
        return str(client.get_logged_model(found[0]).artifact_location)
    return str(client.get_model_version_download_uri(*found))


class Predictor:
    """A model ready to answer: its folder's spec and one runtime session over its export,
    opened once (a served model answers many requests with it)."""

    def __init__(self, bundle: ModelBundle, runtime: str = "torchscript",
                 batch_size: int = 256) -> None:
        check_choice("runtime", runtime, Runtime)
        self.bundle, self.runtime, self.batch_size = bundle, runtime, batch_size
        self.spec = bundle.spec  # read once: it parses the folder's tokenizer
        if runtime == "onnx":
            # ONNX Runtime's GRU kernel runs a batch on one core (its LSTM spreads it over
            # them): a GRU's batch is split over the cores instead, one share per thread.
            self.workers = available_cpus() if bundle.meta.get("cell") == "gru" else 1
            self.session = onnx_session(str(bundle.folder / ONNX_FILE),
                                        threads=1 if self.workers > 1 else 0)
            self.pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None
        else:
            import torch

            from selector.serving.export import quiet_torchscript

            with quiet_torchscript():
                self.module = torch.jit.load(str(bundle.folder / TORCHSCRIPT_FILE))

    def __call__(self, data: str | pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame:
        """Predictions for every sequence of ``data``, one row each, in the data's order."""
        return self.answer(load_inputs(data, self.spec) if isinstance(data, str) else
                           inputs_from(data, self.spec))

    def answer(self, inputs: Inputs) -> pd.DataFrame:
        """The predictions table for model-ready ``inputs``."""
        return _table(inputs, _run_by_length(inputs, self.run, self.batch_size),
                      self.bundle.meta)

    def at_cutoffs(self, data: str | pd.DataFrame, cutoffs: Sequence[str]) -> pd.DataFrame:
        """A panel model's forecasts of the ``horizon`` steps after each of ``cutoffs``, from
        each series' rows up to it, beside the actual values where ``data`` holds them
        (`selector.data.cutoffs`): id, time, cutoff, the model's forecast, the target."""
        if self.spec.format != "panel":
            raise ParameterError("cutoff", "applies to a model trained on a panel of series "
                                 f"(unique_id, ds, y); this one reads {self.spec.format} data",
                                 cutoffs[0])
        source = data if isinstance(data, str) else "the request"
        frame = read_table(Path(data).expanduser()) if isinstance(data, str) else \
            plain_frame(data, source)
        target = self.spec.feature_names[0]
        parts = []
        for cutoff in cutoffs:
            history, after, at = at_cutoff(frame, self.spec.options, target, cutoff, source)
            forecast = self.answer(inputs_from(history, self.spec, source))
            parts.append(with_actuals(forecast, after, at, str(forecast.columns[0]),
                                      str(forecast.columns[1]), target))
        return pd.concat(parts, ignore_index=True)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The exported network on one batch of equal-length sequences."""
        if self.runtime == "onnx":
            shares = min(self.workers, len(batch) // SPLIT_ROWS)
            if self.pool is None or shares < 2:
                return self.session.run(None, {"x": batch})[0]
            parts = self.pool.map(lambda part: self.session.run(None, {"x": part})[0],
                                  np.array_split(batch, shares))
            return np.concatenate(list(parts))
        import torch

        with torch.no_grad():
            return self.module(torch.from_numpy(batch)).numpy()


def predict(model: str | ModelBundle, data: str | pd.DataFrame | Mapping[str, Any], *,
            runtime: str = "torchscript", batch_size: int = 256,
            tracking_uri: str | None = None, cutoffs: Sequence[str] = ()) -> pd.DataFrame:
    """Predictions for every sequence of ``data``, one row each, in the data's order: a file,
    or a table (``{"X": ...}`` arrays for an arrays model) in memory, transformed there
    (``tracking_uri``: where a ``models:/`` model is fetched from; see `open_model`). A panel
    model with ``cutoffs`` forecasts from each of them instead (`Predictor.at_cutoffs`)."""
    bundle = model if isinstance(model, ModelBundle) else \
        open_model(model, tracking_uri=tracking_uri)
    predictor = Predictor(bundle, runtime, batch_size)
    if cutoffs:
        if isinstance(data, Mapping):
            raise ParameterError("cutoff", "applies to a table of series, not arrays",
                                 cutoffs[0])
        return predictor.at_cutoffs(data, cutoffs)
    return predictor(data)


def _run_by_length(inputs: Inputs, run: Callable[[np.ndarray], np.ndarray],
                   batch_size: int) -> np.ndarray:
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, s in enumerate(inputs.sequences):
        by_length[len(s)].append(i)
    results: list[np.ndarray | None] = [None] * len(inputs.sequences)
    for indices in by_length.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            out = run(np.stack([inputs.sequences[i] for i in chunk]))
            for i, row in zip(chunk, out, strict=True):
                results[i] = row
    return np.stack(results)  # type: ignore[arg-type]


def _table(inputs: Inputs, outputs: np.ndarray, meta: dict[str, Any]) -> pd.DataFrame:
    if inputs.history is not None:  # a panel: the next steps of each series
        return inputs.history.forecast_frame(outputs, outputs.shape[1],
                                             meta.get("column") or meta["cell"].upper())
    columns: dict[str, Any] = {inputs.id_name: inputs.ids}
    if meta["task"] == "classification":
        classes = meta["classes"]
        columns["prediction"] = [classes[k] for k in outputs.argmax(axis=1)]
        columns["probability"] = outputs.max(axis=1)
        for k, label in enumerate(classes):
            columns[f"p_{label}"] = outputs[:, k]
    elif meta["task"] == "forecasting":
        for h in range(outputs.shape[1]):
            for j, target in enumerate(meta["target_names"]):
                columns[f"{target}_t+{h + 1}"] = outputs[:, h, j]
    else:
        columns["prediction"] = outputs
    return pd.DataFrame(columns)  # built at once: a column at a time costs a served request


def write_predictions(frame: pd.DataFrame, output: str) -> None:
    """CSV (or TSV) or Parquet by extension; ``-`` writes CSV to stdout."""
    if output == "-":
        print(frame.to_csv(index=False), end="")
        return
    path = Path(output).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv", ".parquet"):
        raise SelectorError(f"{param('output')} {output}: expected a .csv, .tsv or .parquet file name, "
                            "or - for CSV on stdout.")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
