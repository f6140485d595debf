"""--budget holds: training ends by its deadline, and a whole recommendation within the
budget plus its tolerance, even when every training step is slow. Time here is a fake clock
on which each training step takes `STEP_SECONDS`: nothing sleeps, no wall-clock bound."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from selector.api import RecommendRequest, SearchRequest, run_recommendation
from selector.data import load_dataset
from selector.records import ModelConfig, TrainingSettings
from selector.training.budget import Deadline, handover_reserve, process_started, tolerance
from selector.training.fitting import build_net, evaluate, fit
from tests.helpers.clock import FakeClock, slow_training_steps

STEP_SECONDS = 0.05  # every training step this much slower than it is


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock on which every training step takes `STEP_SECONDS`."""
    fake = FakeClock()
    slow_training_steps(monkeypatch, fake, STEP_SECONDS)
    return fake


@pytest.mark.slow
@pytest.mark.parametrize("seconds", [3.0, 1.5])
def test_training_ends_by_its_deadline_with_the_best_epoch_kept(
        clock: FakeClock, seconds: float) -> None:
    """An epoch is 44 steps (2.2 s). With 3 s, a second epoch would not end in time: the run
    stops after the first. With 1.5 s, it stops inside the first, keeping time for that
    epoch's validation (estimated as its share of the epoch). Either way one validated epoch."""
    data = load_dataset("example:adding?length=30&n=1000")
    net = build_net(ModelConfig(cell="lstm", hidden_size=8, batch_size=16), data)
    started = clock()
    fitted = fit(net, data, TrainingSettings(max_epochs=50, patience=50), seed=0,
                 accelerator="cpu", deadline=Deadline(started + seconds, clock))
    took = clock() - started
    assert took <= seconds and (took == pytest.approx(2.2) if seconds > 2.2 else took < 2.2)
    assert fitted.cut and len(fitted.history.epochs) == 1
    best = fitted.history.best()
    assert evaluate(fitted.system, data, data.splits.val) == pytest.approx(best["val_score"],
                                                                         rel=1e-4)


@pytest.mark.slow
def test_without_a_deadline_nothing_is_cut() -> None:
    data = load_dataset("example:adding?length=12&n=300")
    net = build_net(ModelConfig(cell="gru", hidden_size=4, batch_size=64), data)
    fitted = fit(net, data, TrainingSettings(max_epochs=2, patience=2), seed=0,
                 accelerator="cpu")
    assert not fitted.cut and len(fitted.history.epochs) == 2


def test_the_reserve_and_tolerance_scale_with_the_budget() -> None:
    assert handover_reserve(60) == 20 and handover_reserve(900) == 90
    assert handover_reserve(30) == 15  # never more than half
    assert tolerance(60) == 10 and tolerance(900) == 45
    assert 0 <= time.time() - process_started() < 3600  # this process, not the machine's boot


@pytest.mark.slow
def test_a_whole_recommendation_trains_within_its_budget_when_training_is_slow(
        tmp_path: Path, clock: FakeClock) -> None:
    """Trials and final runs alike would take minutes at 50 ms a step; the budget cuts them.
    (The fake clock counts training steps only: bench/scale.py times whole commands.)"""
    budget = 60.0
    search = SearchRequest(data="example:adding?length=60&n=1500", space="long_sequences",
                           storage=f"sqlite:///{tmp_path / 'study.db'}", n_trials=50)
    started = clock()
    result = run_recommendation(RecommendRequest(search=search, seeds=3, budget=budget,
                                                 output_dir=str(tmp_path / "out")), clock=clock)
    assert clock() - started <= budget + tolerance(budget)
    final = result.document["final"]
    assert result.summary.n_trials < 50  # the budget, not the trial count, ended the search
    assert final["budget_notes"]  # and the report says what it cut
    report = (tmp_path / "out" / "report.md").read_text()
    assert "What the budget cut" in report
    # A cell's best search trial is one of its final runs where the budget paid for the pair
    # it stands for (both cells' where they stand for one seed), and is never trained again:
    # no fresh run repeats its seed (a trial's seed is the search's, 0, plus its number).
    for cell in final["cells"]:
        reused = [r["trial"] for r in cell["runs"] if r["trial"] is not None]
        assert reused in ([], [cell["trial"]])
        assert [r["seed"] for r in cell["runs"]].count(cell["trial"]) == len(reused)
    assert any(r["trial"] is not None for cell in final["cells"] for r in cell["runs"])
    assert result.document["artifacts"].get("model_dir")  # and a model is handed over
