"""--budget holds: training ends by its deadline, and a whole recommendation within the
budget plus its tolerance, even when every training step is slow."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from selector.api import RecommendRequest, SearchRequest, run_recommendation
from selector.data import load_dataset
from selector.records import ModelConfig, TrainingSettings
from selector.training.budget import handover_reserve, process_started, tolerance
from selector.training.fitting import build_net, evaluate, fit
from selector.training.system import SequenceSystem

STEP_SECONDS = 0.05  # every training step this much slower than it is


@pytest.fixture
def slow_steps(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    step = SequenceSystem.training_step

    def slow(self: SequenceSystem, *args: object) -> torch.Tensor:
        time.sleep(STEP_SECONDS)
        return step(self, *args)

    monkeypatch.setattr(SequenceSystem, "training_step", slow)
    yield


@pytest.mark.slow
def test_training_ends_by_its_deadline_with_the_best_epoch_kept(slow_steps: None) -> None:
    data = load_dataset("example:adding?length=30&n=1000")
    net = build_net(ModelConfig(cell="lstm", hidden_size=8, batch_size=16), data)
    started = time.time()
    fitted = fit(net, data, TrainingSettings(max_epochs=50, patience=50), seed=0,
                 accelerator="cpu", deadline=started + 3.0)
    took = time.time() - started
    # One epoch is 44 steps (> 2 s): the run ends inside its second epoch, which is still
    # validated; no more than a batch and a validation pass late.
    assert took < 3.0 + 1.0
    assert fitted.cut and 1 <= len(fitted.history.epochs) <= 2
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
def test_a_whole_recommendation_ends_within_its_budget_when_training_is_slow(
        tmp_path: Path, slow_steps: None) -> None:
    """Trials and final runs alike would take minutes at 50 ms a step; the budget cuts them."""
    budget = 60.0
    search = SearchRequest(data="example:adding?length=60&n=1500", space="long_sequences",
                           storage=f"sqlite:///{tmp_path / 'study.db'}", n_trials=50)
    started = time.time()
    result = run_recommendation(RecommendRequest(search=search, seeds=3, budget=budget,
                                        started=started, output_dir=str(tmp_path / "out")))
    took = time.time() - started
    assert took <= budget + tolerance(budget), took
    final = result.document["final"]
    assert result.summary.n_trials < 50  # the budget, not the trial count, ended the search
    assert final["budget_notes"]  # and the report says what it cut
    report = (tmp_path / "out" / "report.md").read_text()
    assert "What the budget cut" in report
    # The search's best trial of each cell is its first final run: trained once, not twice.
    for cell in final["cells"]:
        assert cell["runs"][0]["trial"] == cell["trial"]
    assert result.document["artifacts"].get("model_dir")  # and a model is handed over
