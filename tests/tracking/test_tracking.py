"""MLflow tracking on a local store: what a user finds in the dashboard after a search."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from selector.api import SearchRequest, search
from selector.errors import SelectorError
from selector.tracking import local_artifact_root, trial_run_content
from selector.tracking.registry import champion_document
from tests.conftest import TINY, free_port
from tests.helpers.tracking import trial_runs

CELL = {"cell": CategoricalDistribution(["gru", "lstm"])}
CURVES = [{"epoch": 1, "train_loss": 1.0, "val_loss": 0.9, "val_score": 0.5, "train_seconds": 0.1},
          {"epoch": 2, "train_loss": 0.8, "val_loss": 0.7, "val_score": 0.6, "train_seconds": 0.1}]


def test_a_complete_trial_becomes_curves_costs_and_tags() -> None:
    cost = {"parameters": 1234, "latency_ms_p50": 0.5, "best_epoch": 2, "device": "cpu"}
    trial = create_trial(value=0.6, params={"cell": "gru"}, distributions=CELL, user_attrs={
        "cell": "gru", "config": {"cell": "gru", "hidden_size": 8}, "curves": CURVES,
        "cost": cost, "state_reason": "complete after 2 epochs"})
    params, metrics, tags, status = trial_run_content(trial, "accuracy")
    assert {p.key: p.value for p in params} == {"cell": "gru", "hidden_size": "8"}
    curve = [(m.step, m.value) for m in metrics if m.key == "val_accuracy"]
    assert curve == [(1, 0.5), (2, 0.6)]
    single = {m.key: m.value for m in metrics if m.step == 0}
    assert single["parameters"] == 1234 and single["best_val_accuracy"] == 0.6
    assert single["epochs_trained"] == 2
    tag = {t.key: t.value for t in tags}
    assert tag["selector.cell"] == "gru" and tag["selector.state"] == "complete"
    assert tag["selector.device"] == "cpu" and status == "FINISHED"


@pytest.mark.parametrize(("state", "attrs", "expected", "status"), [
    (TrialState.PRUNED, {"pruned_epoch": 2, "curves": CURVES, "state_reason": "pruned at epoch 2"},
     "pruned", "FINISHED"),
    (TrialState.PRUNED, {"rejected": True, "state_reason": "rejected before training: ..."},
     "rejected", "FINISHED"),
    (TrialState.FAIL, {"state_reason": "failed: non-finite loss"}, "failed", "FAILED"),
])
def test_unfinished_trials_say_why(state: TrialState, attrs: dict[str, object], expected: str,
                                   status: str) -> None:
    trial = create_trial(state=state, params={"cell": "lstm"}, distributions=CELL,
                         user_attrs={"cell": "lstm", "parameters": 99, **attrs})
    _, metrics, tags, run_status = trial_run_content(trial, "rmse")
    tag = {t.key: t.value for t in tags}
    assert tag["selector.state"] == expected and run_status == status
    assert tag["selector.state_reason"] == attrs["state_reason"]
    assert {m.key for m in metrics} >= {"parameters"}
    assert "best_val_rmse" not in {m.key for m in metrics}


@pytest.mark.slow
def test_search_logs_the_study_and_every_trial(tmp_path: Path, local_tracking_store: str) -> None:
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY)
    request = SearchRequest(data="example:digits", space=str(space), n_trials=6,
                            storage=f"sqlite:///{tmp_path / 'study.db'}", accelerator="cpu")
    summary = search(request)
    tracking = summary.tracking
    assert tracking is not None and tracking.unlogged_trials == () and tracking.error is None
    client = MlflowClient(local_tracking_store)
    experiment = client.get_experiment_by_name("selector-digits")
    assert experiment is not None and experiment.experiment_id == tracking.experiment_id
    parent = client.get_run(tracking.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["selector.role"] == "study"
    profile = json.loads(Path(client.download_artifacts(
        parent.info.run_id, "profile.json", str(tmp_path))).read_text())
    assert profile["source"] == "example:digits" and profile["n_train"] > 0
    assert parent.data.params["data.n_train"] == str(profile["n_train"])
    assert parent.inputs.dataset_inputs[0].dataset.name == "digits"
    assert parent.data.metrics["trials"] == 6
    artifacts = {f.path for f in client.list_artifacts(parent.info.run_id)}
    assert {"profile.json", "search_space", "plots"} <= artifacts
    plots = {f.path for f in client.list_artifacts(parent.info.run_id, "plots")}
    assert {"plots/optimization_history.png", "plots/validation_curves.png",
            "plots/score_vs_latency.png"} <= plots
    # Artifacts of a SQLite store live beside the database, not in the working folder.
    assert parent.info.artifact_uri.startswith(str(local_artifact_root(local_tracking_store)))

    study = optuna.load_study(study_name="selector-digits", storage=request.storage)
    runs = trial_runs(client, parent.info.run_id)
    assert sorted(runs) == [t.number for t in study.trials if t.state.is_finished()]
    for trial in (t for t in study.trials if t.state.is_finished()):
        run = runs[trial.number]
        assert run.data.tags["selector.cell"] == trial.params["cell"]
        expected = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned"}[trial.state]
        assert run.data.tags["selector.state"] == expected
        history = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [
            (e["epoch"], e["val_score"]) for e in trial.user_attrs["curves"]]
        if trial.state == TrialState.COMPLETE:
            assert run.data.metrics["best_val_accuracy"] == trial.value
            assert run.data.metrics["parameters"] == trial.user_attrs["cost"]["parameters"]
            assert "latency_ms_p95" in run.data.metrics

    # Resuming the study adds runs for the new trials only, under the same parent run.
    again = search(replace(request, n_trials=8))
    assert again.tracking is not None and again.tracking.parent_run_id == parent.info.run_id
    assert sorted(trial_runs(client, parent.info.run_id)) == list(range(8))


def test_an_unreachable_store_fails_before_training_with_the_password_masked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    request = SearchRequest(data="example:digits", storage=f"sqlite:///{tmp_path / 's.db'}",
                            tracking_uri=f"http://bob:hunter2@127.0.0.1:{free_port()}")
    with pytest.raises(SelectorError) as caught:
        search(request)
    message = str(caught.value)
    assert "bob:***@127.0.0.1" in message and "hunter2" not in message
    assert "tracking=False" in message
    study = optuna.load_study(study_name="selector-digits", storage=request.storage)
    assert study.trials == []  # nothing trained


@pytest.mark.slow
def test_no_tracking_leaves_no_store(tmp_path: Path, local_tracking_store: str) -> None:
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY.replace("max_epochs: 3", "max_epochs: 1"))
    summary = search(SearchRequest(data="example:digits", space=str(space), n_trials=2,
                                   storage=f"sqlite:///{tmp_path / 's.db'}", accelerator="cpu",
                                   tracking_uri=None))
    assert summary.tracking is None and not (tmp_path / "mlflow.db").exists()


def test_a_baseline_champion_that_is_not_there_is_no_baseline(tmp_path: Path) -> None:
    """No model, or a model whose champion alias was removed: there is nothing to beat yet
    (MLflow raises different errors for the two, and they differ between its releases)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).create_registered_model("weekly")  # registered, no version, no alias
    assert champion_document(uri, "weekly") is None
    assert champion_document(uri, "never-registered") is None
