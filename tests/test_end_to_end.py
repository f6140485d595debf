"""`selector recommend` as a user runs it: real processes, real signals, real storage."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import jsonschema
import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from sklearn.datasets import load_digits

from selector.report import SCHEMA_FILE
from tests.conftest import TINY, selector
from tests.test_tracking import trial_runs

pytestmark = pytest.mark.slow

LONG_TINY = """
params:
  cell: {type: categorical, choices: [gru, lstm]}
  hidden_size: {type: int, low: 8, high: 16}
  learning_rate: {type: float, low: 5.0e-3, high: 2.0e-2, log: true}
  batch_size: {type: categorical, choices: [32]}
training: {max_epochs: 6, patience: 3}
"""




def trials_of(storage: str, name: str) -> list[optuna.trial.FrozenTrial]:
    try:
        return optuna.load_study(study_name=name, storage=storage).trials
    except KeyError:  # not created yet
        return []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_keeps_finished_trials_and_rerun_resumes(tmp_path: Path,
                                                           sig: signal.Signals) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    args = ["recommend", "example:digits", "--space", "tiny.yaml", "--storage", storage,
            "--study-name", "s", "--quiet", "--accelerator", "cpu"]
    process = selector(*args, "--n-trials", "40", cwd=tmp_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = [t for t in trials_of(storage, "s") if t.state.is_finished()]
        if len(done) >= 2 and any(t.state == TrialState.RUNNING for t in trials_of(storage, "s")):
            break
        time.sleep(0.2)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Interrupted. Finished trials are kept" in err and "Traceback" not in err

    kept = trials_of(storage, "s")
    assert not [t for t in kept if t.state == TrialState.RUNNING]  # nothing left dangling
    counted = [t for t in kept if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(counted) >= 2

    target = len(counted) + 2
    rerun = selector(*args, "--n-trials", str(target), "--json", cwd=tmp_path)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert json.loads(out)["search"]["n_trials"] == target
    after = {t.number: t for t in trials_of(storage, "s")}
    for t in counted:  # earlier results are untouched
        assert after[t.number].state == t.state and after[t.number].values == t.values


def test_quick_start_demo_ends_with_a_verdict_a_report_and_a_working_model(
        tmp_path: Path) -> None:
    """The README's demo: example:digits, 12 trials, on this machine's CPU cores."""
    run = selector("recommend", "example:digits", "--n-trials", "12", "--json", cwd=tmp_path)
    out, err = run.communicate(timeout=900)
    assert run.returncode == 0, err
    doc = json.loads(out)
    jsonschema.validate(doc, json.loads(SCHEMA_FILE.read_text()))
    summary = doc["search"]
    assert summary["n_trials"] == 12
    cells = {c["cell"]: c for c in summary["cells"]}
    assert cells["gru"]["trials"] >= 5 and cells["lstm"]["trials"] >= 5
    assert cells["gru"]["pruned"] + cells["lstm"]["pruned"] >= 1
    assert all(c["best_score"] > 0.8 for c in cells.values())  # digits is learnable
    assert (tmp_path / "selector.db").exists()  # the embedded default storage

    # The verdict, with both cells retrained with 3 seeds and every criterion cited.
    assert doc["verdict"] in ("gru", "lstm") and doc["confidence"] in ("clear", "lean", "toss-up")
    assert all(len(c["test_scores"]) == 3 and c["test_mean"] > 0.8 for c in doc["cells"])
    criteria = {c["id"]: c for c in doc["criteria"]}
    assert criteria["G2"]["applies"] and not criteria["L1"]["applies"]  # 8 steps: short
    artifacts = doc["artifacts"]
    for key in ("report_md", "report_html", "json", "torchscript", "onnx"):
        assert (tmp_path / artifacts[key]).exists(), key
    assert max(artifacts["parity"].values()) < 1e-4
    assert "data:image/png;base64" in (tmp_path / artifacts["report_html"]).read_text()

    # Registered in MLflow with the alias and the rationale; the parent run carries the verdict.
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    version = client.get_model_version_by_alias("selector-digits", "champion")
    assert version.description.startswith(doc["verdict"].upper())
    run_tags = client.get_run(artifacts["mlflow"]["run_id"]).data.tags
    assert run_tags["selector.verdict"] == doc["verdict"]
    logged = {a.path for a in client.list_artifacts(artifacts["mlflow"]["run_id"], "report")}
    assert {"report/report.md", "report/report.html", "report/recommendation.json"} <= logged

    # The handed-over model predicts, from the folder and from the registry.
    for model in (artifacts["model_dir"], "models:/selector-digits@champion"):
        pred = selector("predict", model, "example:digits", "-o", "p.csv", cwd=tmp_path)
        _, err = pred.communicate(timeout=300)
        assert pred.returncode == 0, err
        frame = pd.read_csv(tmp_path / "p.csv")
        assert len(frame) == 1797 and (frame["prediction"] == load_digits().target).mean() > 0.9

    # `selector report` re-renders from the storage alone, and can re-decide.
    again = selector("report", "selector-digits", "--prefer", "edge", "--output-dir", "edge",
                     "--json", cwd=tmp_path)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    redone = json.loads(out)
    assert redone["preferences"]["prefer"] == "edge" and redone["final"] == doc["final"]
    assert (tmp_path / "edge" / "report.html").exists()
    assert len(trials_of("sqlite:///" + str(tmp_path / "selector.db"), "selector-digits")) == len(
        optuna.load_study(study_name="selector-digits",
                          storage="sqlite:///" + str(tmp_path / "selector.db")).trials)


def test_long_range_evidence_is_measured_and_cited(tmp_path: Path) -> None:
    """A long task where the evidence is spread over all steps, against a short one (digits)."""
    (tmp_path / "long.yaml").write_text(LONG_TINY)
    run = selector("recommend", "example:drift?length=160&n=600", "--space", "long.yaml",
                   "--n-trials", "4", "--seeds", "3", "--json", "--no-tracking",
                   "--accelerator", "cpu", cwd=tmp_path)
    out, err = run.communicate(timeout=900)
    assert run.returncode == 0, err
    doc = json.loads(out)
    long_range = doc["final"]["long_range"]
    assert long_range["median_steps"] == 160 and long_range["context_steps"] == 40
    criteria = {c["id"]: c for c in doc["criteria"]}
    assert not criteria["G2"]["applies"]  # 160 steps: not short
    drop = long_range["full_score"] - long_range["context_score"]
    l1 = criteria["L1"]
    # Whatever the run measured, the verdict on L1 follows from it.
    spread = next(c["test_std"] for c in doc["cells"] if c["cell"] == long_range["cell"])
    assert l1["applies"] == (drop > max(2 * spread, doc["comparison"]["min_gain"]))
    if l1["applies"]:
        credible = doc["comparison"]["ci_low"] is not None and doc["comparison"]["ci_low"] > 0
        assert l1["borne_out"] == ("yes" if credible else "no")
    assert f"last {long_range['context_steps']} of ~160 steps" in l1["evidence"]


def test_parallel_jobs_share_one_study(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    run = selector("recommend", "example:digits", "--space", "tiny.yaml", "--n-trials", "6",
                   "--jobs", "2", "--json", "--accelerator", "cpu", cwd=tmp_path)
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    summary = json.loads(out)["search"]
    trials = trials_of("sqlite:///" + str(tmp_path / "selector.db"), summary["study_name"])
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    # The budget is global and strict: no trial starts once running + finished ones reach it.
    assert summary["n_trials"] == 6
    assert {c["cell"] for c in summary["cells"] if c["trials"]} == {"gru", "lstm"}
    # Each worker logged its own trials to MLflow, and no trial twice.
    finished = [t for t in trials if t.state.is_finished()]
    tracking = summary["tracking"]
    assert tracking["unlogged_trials"] == [] and tracking["logged_trials"] == len(finished)
    runs = trial_runs(MlflowClient(os.environ["MLFLOW_TRACKING_URI"]), tracking["parent_run_id"])
    assert sorted(runs) == sorted(t.number for t in finished)
