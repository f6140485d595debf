"""`selector recommend` as a user runs it: real processes, real signals, real storage."""

from __future__ import annotations

import json
import os
import signal
import statistics
import time
from pathlib import Path

import jsonschema
import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from sklearn.datasets import load_digits

from selector.reports.document import SCHEMA_FILE
from tests.conftest import TINY, selector
from tests.helpers.tracking import trial_runs

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


def reached(point: str, storage: str, folder: Path, n_trials: int) -> bool:
    """Whether a running `recommend` is at ``point``, seen from its storage and outputs."""
    trials = trials_of(storage, "s")
    finished = [t for t in trials if t.state.is_finished()]
    if point == "training":  # some trials done, one training
        return len(finished) >= 2 and any(t.state == TrialState.RUNNING for t in trials)
    if point == "final runs":  # the search is done; each cell's best is being retrained
        return len(finished) >= n_trials and not (folder / "out" / "plots").exists()
    assert point == "hand-over"  # plots written; the model is being exported and registered
    return (folder / "out" / "plots").exists()


@pytest.mark.parametrize(("point", "sig"), [
    ("start-up", signal.SIGTERM), ("training", signal.SIGINT), ("training", signal.SIGTERM),
    ("final runs", signal.SIGINT), ("hand-over", signal.SIGTERM)])
def test_a_signal_at_any_point_stops_cleanly_and_a_rerun_resumes(
        tmp_path: Path, point: str, sig: signal.Signals) -> None:
    """Ctrl-C or SIGTERM: exit 130 without a traceback, finished trials kept, none left
    RUNNING, and the same command resumes (or, in the hand-over, finishes it first)."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    n_trials = 40 if point == "training" else 4
    args = ["recommend", "example:digits", "--space", "tiny.yaml", "--storage", storage,
            "--study-name", "s", "--quiet", "--accelerator", "cpu", "--seeds", "2",
            "--output-dir", "out", "--n-trials", str(n_trials)]
    process = selector(*args, cwd=tmp_path)
    if point == "start-up":
        time.sleep(0.5)  # the command is loading torch, Lightning and MLflow: no work yet
    else:
        deadline = time.monotonic() + 240
        while not reached(point, storage, tmp_path, n_trials) and process.poll() is None:
            assert time.monotonic() < deadline, f"never reached {point}"
            time.sleep(0.05)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert "Traceback" not in err
    if point == "start-up":
        assert process.returncode == 130 and not (tmp_path / "study.db").exists()
        # before the CLI takes the signals over ("while starting") or after (the command was
        # still loading the library): one line, nothing written either way
        assert err.strip() in ("Interrupted while starting: nothing was done.",
                               "Interrupted."), err
    kept = trials_of(storage, "s")
    assert not [t for t in kept if t.state == TrialState.RUNNING]  # nothing left dangling
    if point == "hand-over" and process.returncode == 0:  # it finishes what it was handing over
        assert "finished them first" in err and (tmp_path / "out" / "recommendation.json").exists()
        return
    assert process.returncode == 130, err
    if point != "start-up":
        assert "Interrupted. Finished trials are kept" in err
    counted = [t for t in kept if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(counted) >= min(2, n_trials) if point != "start-up" else not counted

    target = max(len(counted), 4) + (2 if point == "training" else 0)
    rerun = selector(*args[:-1], str(target), "--json", cwd=tmp_path)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert json.loads(out)["search"]["n_trials"] == target
    assert (tmp_path / "out" / "model" / "model.onnx").exists()
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

    # The verdict, with both cells retrained with 3 to 6 seeds (more while undecided) and
    # every criterion cited.
    assert doc["verdict"] in ("gru", "lstm") and doc["confidence"] in ("clear", "lean", "toss-up")
    final = doc["final"]
    pairs = len(final["seeds_run"])
    assert (final["least_seeds"], len(final["seeds"])) == (3, 6) and 3 <= pairs <= 6
    assert final["stopped"] == ("decided" if pairs < 6 else final["stopped"])
    assert all(len(c["test_scores"]) == pairs and c["test_mean"] > 0.8 for c in doc["cells"])
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
    ranges = doc["final"]["long_range"]
    # both cells, the least (3) seeds, the last quarter and the last half of each sequence
    assert {(r["cell"], r["seed"], r["context_steps"]) for r in ranges} == {
        (c, s, steps) for c in ("gru", "lstm") for s in doc["final"]["seeds"][:3]
        for steps in (40, 80)}
    criteria = {c["id"]: c for c in doc["criteria"]}
    assert not criteria["G2"]["applies"]  # 160 steps: not short
    l1 = criteria["L1"]
    # Whatever the run measured, the verdict on L1 follows from it: distant context matters
    # when a cell's mean drop (last quarter) exceeds twice its seed spread and the minimum gain.
    matters = []
    for cell in ("gru", "lstm"):
        mine = [r for r in ranges if r["cell"] == cell and r["context_steps"] == 40]
        drops = [r["full_score"] - r["context_score"] for r in mine]  # accuracy: higher better
        spread = statistics.stdev(r["full_score"] for r in mine)
        matters.append(statistics.fmean(drops) > max(2 * spread, doc["comparison"]["min_gain"],
                                                     1e-9))
        assert f"{cell.upper()} drops" in l1["evidence"]
    assert l1["applies"] == any(matters) and l1["borne_out"] in ("yes", "no")
    assert "last 40 of ~160 steps" in l1["evidence"]


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
