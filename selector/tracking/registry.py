"""The hand-over in MLflow: the model logged and registered, the verdict, the champion's report."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, RunTag

from selector.errors import SelectorError, param
from selector.tracking.client import connect


@dataclass(frozen=True)
class ModelHandover:
    """The exported model folder, the pyfunc that serves it, and how to register it."""

    folder: Path
    python_model: Any  # an mlflow.pyfunc.PythonModel (`selector.serving.SelectorModel`)
    signature: Any  # mlflow.models.ModelSignature of the raw input and the predictions
    input_example: Any  # a few sequences as the model takes them; None where there is none
    requirements: tuple[str, ...]  # pip requirements of the serving environment
    code: Path  # the package of modules serving imports (`selector.serving.pyfunc.serving_code`)
    description: str  # the rationale: shown on the registered model version
    register_as: str | None  # registered model name; None: log the model, do not register
    alias: str = "champion"


def log_verdict(uri: str, run_id: str, *, tags: dict[str, str], metrics: dict[str, float],
                files: list[Path]) -> None:
    """The verdict on the study's run: tags, metrics, the reports and the final plots."""
    client = connect(uri)
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
                     tags=[RunTag(k, v) for k, v in tags.items()])
    for path in files:
        client.log_artifact(run_id, str(path), "plots" if path.suffix == ".png" else "report")


def model_record(run_id: str) -> dict[str, str | None]:
    """Where a handed-over model went; all None until it is logged and registered."""
    return {"run_id": run_id, "model_uri": None, "registered_model": None, "version": None,
            "alias": None}


def log_model(uri: str, run_id: str, model: ModelHandover) -> dict[str, str | None]:
    """Log the model on the study's run and register it under an alias; returns where it went.

    The model is an MLflow pyfunc (``model.python_model``, `selector.serving.SelectorModel`)
    carrying the selector model folder as its artifact: `mlflow models serve` and
    ``mlflow.pyfunc.load_model(...).predict(table)`` take the raw data in the training layout,
    and ``selector predict models:/NAME@champion`` finds the folder inside. Its signature and
    input example come with the handover. Requirements are given, not inferred (~6 s saved).
    """
    import mlflow
    import mlflow.pyfunc
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri  # restores the URI

    client = connect(uri)
    result = model_record(run_id)
    # MLflow configures its loggers on import (INFO): "Successfully registered model".
    mlflow_logger = logging.getLogger("mlflow")
    level = mlflow_logger.level
    mlflow_logger.setLevel(logging.ERROR)
    try:  # MLflow's fluent API reads a process-wide URI: set for this call, then put back
        with _use_tracking_uri(uri), mlflow.start_run(run_id=run_id), \
                warnings.catch_warnings():  # MLflow's hints on type hints and integer columns
            warnings.simplefilter("ignore", UserWarning)
            # some 3.x releases advise "models from code" over a pickled PythonModel; ours is
            # pickled by reference to selector.serving.pyfunc, which the model's code carries
            warnings.filterwarnings("ignore", ".*python_model.*CloudPickle", FutureWarning)
            info = mlflow.pyfunc.log_model(
                name="model", python_model=model.python_model,
                artifacts={"model": str(model.folder)}, signature=model.signature,
                input_example=model.input_example, pip_requirements=list(model.requirements),
                code_paths=[str(model.code)])
            result["model_uri"] = info.model_uri
            if model.register_as:
                with contextlib.redirect_stderr(io.StringIO()):  # "Successfully registered ..."
                    version = mlflow.register_model(info.model_uri, model.register_as,
                                                    tags={"selector.run_id": run_id})
                client.update_model_version(model.register_as, version.version,
                                            description=model.description)
                client.set_registered_model_alias(model.register_as, model.alias,
                                                  version.version)
                result |= {"registered_model": model.register_as,
                           "version": str(version.version), "alias": model.alias}
    finally:
        mlflow_logger.setLevel(level)
    return result


def champion_document(uri: str, model_name: str,
                      alias: str = "champion") -> tuple[dict[str, Any], str] | None:
    """The recommendation behind the model registered as ``model_name@alias`` (its run's
    report/recommendation.json) and where it came from; None while there is no such model."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    client = connect(uri)
    try:  # MLflow's error for a missing alias differs between releases: look it up instead
        registered = client.get_registered_model(model_name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    if alias not in registered.aliases:
        return None
    version = client.get_model_version(model_name, str(registered.aliases[alias]))
    run_id = version.tags.get("selector.run_id") or version.run_id
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path="report/recommendation.json", dst_path=folder,
                tracking_uri=uri)
        except MlflowException:
            raise SelectorError(f"models:/{model_name}@{alias} (version {version.version}) has no "
                                "recommendation.json on its run: was it registered by selector "
                                f"recommend? Pass {param('baseline', 'PATH')} instead.") from None
        document = json.loads(Path(path).read_text())
    return document, f"models:/{model_name}@{alias} (version {version.version})"

