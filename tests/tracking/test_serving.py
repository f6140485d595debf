"""The registered model serves the user's raw table: `mlflow models serve` and
`mlflow.pyfunc.load_model` answer with the predictions of `selector predict`."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pandas as pd
import pytest

from tests.conftest import TINY, long_frame, selector
from tests.helpers.serving import invocations, served


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

    with served("models:/served@champion") as port:
        answered = invocations(port, new)
    assert [p["prediction"] for p in answered] == expected["prediction"].tolist()
    assert [p["sequence_id"] for p in answered] == expected["sequence_id"].tolist()
    assert [round(p["p_c1"], 5) for p in answered] == expected["p_c1"].round(5).tolist()
