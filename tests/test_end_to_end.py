"""`selector recommend` as a user runs it: real processes, real signals, real storage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

from tests.test_study import TINY
from tests.test_tracking import trial_runs

pytestmark = pytest.mark.slow


def selector(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "selector", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


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
    assert json.loads(out)["n_trials"] == target
    after = {t.number: t for t in trials_of(storage, "s")}
    for t in counted:  # earlier results are untouched
        assert after[t.number].state == t.state and after[t.number].values == t.values


def test_quick_start_demo_searches_both_cells_and_prunes(tmp_path: Path) -> None:
    """The README's demo: example:digits, 12 trials, on this machine's CPU cores."""
    run = selector("recommend", "example:digits", "--n-trials", "12", "--json", cwd=tmp_path)
    out, err = run.communicate(timeout=900)
    assert run.returncode == 0, err
    summary = json.loads(out)
    assert summary["schema"] == "selector.search/1" and summary["n_trials"] == 12
    cells = {c["cell"]: c for c in summary["cells"]}
    assert cells["gru"]["trials"] >= 5 and cells["lstm"]["trials"] >= 5
    assert cells["gru"]["pruned"] + cells["lstm"]["pruned"] >= 1
    assert all(c["best_score"] > 0.8 for c in cells.values())  # digits is learnable
    assert (tmp_path / "selector.db").exists()  # the embedded default storage


def test_parallel_jobs_share_one_study(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    run = selector("recommend", "example:digits", "--space", "tiny.yaml", "--n-trials", "6",
                   "--jobs", "2", "--json", "--accelerator", "cpu", cwd=tmp_path)
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    summary = json.loads(out)
    trials = trials_of("sqlite:///" + str(tmp_path / "selector.db"), summary["study_name"])
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    # The budget is global; trials already running when it is reached may finish (< jobs).
    assert 6 <= summary["n_trials"] <= 7
    assert {c["cell"] for c in summary["cells"] if c["trials"]} == {"gru", "lstm"}
    # Each worker logged its own trials to MLflow, and no trial twice.
    finished = [t for t in trials if t.state.is_finished()]
    tracking = summary["tracking"]
    assert tracking["unlogged_trials"] == [] and tracking["logged_trials"] == len(finished)
    runs = trial_runs(MlflowClient(os.environ["MLFLOW_TRACKING_URI"]), tracking["parent_run_id"])
    assert sorted(runs) == sorted(t.number for t in finished)
