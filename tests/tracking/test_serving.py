"""The registered model serves the user's raw table: `mlflow models serve` and
`mlflow.pyfunc.load_model` answer with the predictions of `selector predict`, in an environment
that holds only the model's own requirements (no torch, Lightning, Optuna or MLflow server)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import mlflow.artifacts
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from tests.conftest import TINY, long_frame, selector
from tests.helpers.serving import (
    invocations,
    serve_command,
    serve_without_training_stack,
    served,
    serving_venv,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.server
def test_the_registered_model_serves_a_raw_table_as_selector_predict_does(
        tmp_path: Path, local_tracking_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = long_frame(60)
    frame.to_csv(tmp_path / "visits.csv", index=False)
    new = frame.drop(columns=["label"])
    new.to_csv(tmp_path / "new.csv", index=False)
    (tmp_path / "tiny.yaml").write_text(TINY)
    recommended = selector("recommend", "visits.csv", "--space", "tiny.yaml", "--n-trials", "2",
                           "--seeds", "2", "--model-name", "served", "--quiet", cwd=tmp_path)
    _, err = recommended.communicate(timeout=600)
    assert recommended.returncode == 0, err
    assert "Warning" not in err  # MLflow's hints about type hints stay out of the terminal
    predicted = selector("predict", "selector-output/selector-visits/model", "new.csv", "-o",
                         "expected.csv", cwd=tmp_path)
    assert predicted.wait(timeout=120) == 0
    expected = pd.read_csv(tmp_path / "expected.csv")

    model = mlflow.pyfunc.load_model("models:/served@champion")
    inputs = [c.name for c in model.metadata.signature.inputs]
    assert inputs == ["sequence_id", "step", "a", "b"]  # the raw table, the target left out
    assert model.metadata.saved_input_example_info is not None
    loaded = model.predict(new)
    assert loaded["prediction"].tolist() == expected["prediction"].tolist()

    # What a serving container holds: the model and its requirements, none of the training
    # stack (the requirements come from the package index, as a serving image's would).
    local = Path(mlflow.artifacts.download_artifacts("models:/served@champion",
                                                     dst_path=str(tmp_path / "served-model")))
    python = serving_venv(local, tmp_path / "serving-venv")
    listed = subprocess.run([python, "-m", "pip", "list", "--format", "json"],
                            capture_output=True, text=True, check=True).stdout
    names = {p["name"].lower() for p in json.loads(listed)}
    assert {"onnxruntime", "pandas", "mlflow-skinny"} <= names
    assert not names & {"torch", "lightning", "optuna", "mlflow", "gru-lstm-selector"}, names
    alone, package = serve_without_training_stack(str(local), tmp_path / "new.csv",
                                                  python=python)
    assert package.startswith(str(local)), package  # the modules the model carries
    assert alone["prediction"].tolist() == expected["prediction"].tolist()
    np.testing.assert_allclose(alone["p_c1"], expected["p_c1"], atol=1e-4)  # ONNX Runtime

    # ... and serves it with the serving image's command (serving/Dockerfile), run natively.
    image = (ROOT / "serving" / "Dockerfile").read_text()
    assert "pip install -r /model/requirements.txt" in image
    assert json.loads(re.findall(r"^CMD (.+)$", image, re.M)[-1]) == \
        serve_command("/model", "0.0.0.0", 8080)
    with served(str(local), python=python) as port:
        answered = invocations(port, new)
    assert [p["prediction"] for p in answered] == expected["prediction"].tolist()
    assert [p["sequence_id"] for p in answered] == expected["sequence_id"].tolist()
    assert [round(p["p_c1"], 5) for p in answered] == expected["p_c1"].round(5).tolist()
