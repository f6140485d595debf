"""The final comparison: both cells' bests retrained with the same seeds, stored on the study."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import optuna
import pytest

from selector.api import RecommendRequest, recommend, search
from selector.data import load_dataset
from selector.final import compare, estimated_seconds, planned_runs, stored_comparison
from selector.records import FinalComparison, TrainingSettings
from tests.test_study import request


def test_compare_retrains_both_bests_with_paired_seeds(tmp_path: Path, tiny_space: str) -> None:
    req = request(tmp_path, tiny_space, n_trials=6)
    search(req)
    study = optuna.load_study(study_name=req.resolved_study_name(), storage=req.storage)
    data = load_dataset("example:digits")
    steps: list[tuple[str, int]] = []
    final = compare(study, data, TrainingSettings(max_epochs=2, patience=1), seeds=(3, 4),
                    accelerator="cpu", step=lambda label, total: steps.append((label, total)))
    result = final.comparison
    assert [c.cell for c in result.cells] == ["gru", "lstm"]
    for cell in result.cells:
        assert [r.seed for r in cell.runs] == [3, 4]  # the same seeds: scores pair up
        assert all(0.0 < r.test_score <= 1.0 and r.cost.epochs_trained >= 1 for r in cell.runs)
        assert cell.config == study.trials[cell.trial].user_attrs["config"]
    assert steps == [("GRU seed 3", 4), ("GRU seed 4", 4), ("LSTM seed 3", 4),
                     ("LSTM seed 4", 4)] and planned_runs(data, 2) == 4
    assert result.long_range is None  # digits is 8 steps long: L1 is not measured
    timing = result.equal_config[0]
    assert timing.parameters["gru"] < timing.parameters["lstm"]  # 3 gate blocks against 4
    # Stored on the study, read back exactly: `selector report` needs no retraining.
    again = optuna.load_study(study_name=study.study_name, storage=req.storage)
    assert stored_comparison(again) == result
    assert FinalComparison.from_dict(result.to_dict()) == result
    # The handed-over model is the run with the best validation score, not the best test score.
    lstm = result.cells[1]
    best = max(range(2), key=lambda i: lstm.runs[i].val_score)
    assert final.best_model("lstm") is final.models["lstm"][best]


def test_the_comparison_time_is_estimated_from_each_cell_best_trial() -> None:
    data = load_dataset("example:digits")
    study = optuna.create_study(direction="maximize")
    assert estimated_seconds(study, data, seeds=3) is None  # nothing to go by yet
    for cell, value, seconds in (("gru", 0.9, 2.0), ("gru", 0.8, 10.0), ("lstm", 0.85, 4.0)):
        study.add_trial(optuna.create_trial(
            value=value, params={"cell": cell},
            distributions={"cell": optuna.distributions.CategoricalDistribution(["gru", "lstm"])},
            user_attrs={"curves": [{"train_seconds": seconds / 2}] * 2}))
    # 3 seeds x (GRU's best 2 s + LSTM's best 4 s), a quarter on top (digits are short: no L1)
    assert estimated_seconds(study, data, seeds=3) == 1.25 * 3 * (2.0 + 4.0)


@pytest.mark.slow
def test_a_small_budget_stops_the_search_and_keeps_the_comparison_fair(
        tmp_path: Path, tiny_space: str) -> None:
    search_request = replace(request(tmp_path, tiny_space), n_trials=500)
    result = recommend(RecommendRequest(search=search_request, seeds=4, budget=25,
                                        output_dir=str(tmp_path / "out"), register=False))
    assert result.summary.n_trials < 500  # stopped for the comparison, not by the trial budget
    runs = [len(cell["runs"]) for cell in result.document["final"]["cells"]]
    assert len(runs) == 2 and runs[0] == runs[1] >= 2  # the same seeds for both cells
