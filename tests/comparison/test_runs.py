"""The final comparison: both cells' bests retrained with the same seeds, stored on the study."""

from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import pytest

from selector.api import RecommendRequest, SearchRequest, run_recommendation, search
from selector.comparison import runs
from selector.comparison.runs import compare, planned_runs, refit, stored_comparison
from selector.data import SequenceData, load_dataset, profile_dataset
from selector.decision.rules import decide
from selector.errors import SelectorError
from selector.records import Budgets, FinalComparison, Preferences, TrainingSettings
from selector.training.budget import tolerance
from selector.training.fitting import evaluate
from tests.helpers.clock import FakeClock, slow_training_steps
from tests.helpers.studies import request


def searched(tmp_path: Path, space: str, source: str, *, n_trials: int
             ) -> tuple[optuna.Study, SequenceData]:
    """A tiny search on ``source``, its study read back, and the data."""
    req = request(tmp_path, space, data=source, n_trials=n_trials)
    search(req)
    return (optuna.load_study(study_name=req.resolved_study_name(), storage=req.storage),
            load_dataset(source))


@pytest.mark.slow
def test_compare_retrains_both_bests_with_paired_seeds(tmp_path: Path, tiny_space: str) -> None:
    study, data = searched(tmp_path, tiny_space, "example:digits", n_trials=6)
    steps: list[tuple[str, int]] = []
    final = compare(study, data, TrainingSettings(max_epochs=2, patience=1), seeds=(3, 4),
                    accelerator="cpu", step=lambda label, total: steps.append((label, total)))
    result = final.comparison
    assert [c.cell for c in result.cells] == ["gru", "lstm"]
    for cell in result.cells:
        assert [r.seed for r in cell.runs] == [3, 4]  # the same seeds: scores pair up
        assert all(0.0 < r.test_score <= 1.0 and r.cost.epochs_trained >= 1 for r in cell.runs)
        assert cell.config == study.trials[cell.trial].user_attrs["config"]
    # pair by pair: a budget that ends early leaves whole pairs
    assert steps == [("GRU seed 3", 4), ("LSTM seed 3", 4), ("GRU seed 4", 4),
                     ("LSTM seed 4", 4)] and planned_runs(data, 2, refit=False) == 4
    assert result.long_range == ()  # digits is 8 steps long: L1 is not measured
    assert (result.least_seeds, result.stopped) == (0, "")  # a fixed number: no design
    for cell in result.cells:  # every test sequence's outcome, for the paired statistics
        assert all(len(r.outcomes) == len(data.splits.test) for r in cell.runs)
        assert all(r.test_score == sum(r.outcomes) / len(r.outcomes) for r in cell.runs)
    assert [t.runtime for t in result.latency] == ["eager", "onnx"]
    assert all(t.timings >= 100 and t.p95_ms["gru"] is not None for t in result.latency)
    timing = result.equal_config[0]
    assert timing.parameters["gru"] < timing.parameters["lstm"]  # 3 gate blocks against 4
    # on CPU, batch-1 latency is also timed in ONNX Runtime, which serves the handed-over model
    assert timing.served_latency_ratio is not None and timing.served_latency_ms is not None
    assert all(ms > 0 for ms in timing.served_latency_ms.values())
    # The stage writes nothing (the recommendation stores its result); what it returns is
    # read back exactly once stored: `selector report` needs no retraining.
    again = optuna.load_study(study_name=study.study_name,
                              storage=request(tmp_path, tiny_space).storage)
    assert stored_comparison(again) is None
    assert FinalComparison.from_dict(result.to_dict()) == result
    # The handed-over model is the run with the best validation score, not the best test score.
    lstm = result.cells[1]
    best = max(range(2), key=lambda i: lstm.runs[i].val_score)
    assert final.best_model("lstm") is final.models["lstm"][best]


@pytest.mark.slow
def test_a_small_budget_stops_the_search_and_keeps_the_comparison_fair(
        tmp_path: Path, tiny_space: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()  # each training step takes 20 ms on it
    slow_training_steps(monkeypatch, clock, 0.02)
    search_request = replace(request(tmp_path, tiny_space), n_trials=500)
    started = clock()
    result = run_recommendation(RecommendRequest(search=search_request, seeds=4, budget=40,
                                                 output_dir=str(tmp_path / "out"),
                                                 register=False), clock=clock)
    assert clock() - started <= 40 + tolerance(40)
    assert result.summary.n_trials < 500  # stopped for the comparison, not by the trial budget
    runs = [len(cell["runs"]) for cell in result.document["final"]["cells"]]
    assert len(runs) == 2 and runs[0] == runs[1]  # both cells tried, the same seeds for both


@pytest.mark.slow
def test_a_reused_search_trial_takes_its_own_seeds_pair_and_no_run_repeats_it(
        tmp_path: Path, tiny_space: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a budget each cell's best search trial is one of its seed runs. The LSTM twin
    (trial 1) trained with seed 1: a fresh LSTM run with seed 1 would be the same model
    counted twice. It stands for seed 1 instead, and the LSTM trains seeds 0 and 2."""
    clock = FakeClock()
    slow_training_steps(monkeypatch, clock, 0.02)
    result = run_recommendation(RecommendRequest(
        search=replace(request(tmp_path, tiny_space), n_trials=2), seeds=3, max_seeds=3,
        budget=60,
        output_dir=str(tmp_path / "out"), register=False), clock=clock)
    final = FinalComparison.from_dict(result.document["final"])
    for cell in final.cells:
        reused = [r for r in cell.runs if r.trial is not None]
        assert len(reused) == 1 and reused[0].seed == reused[0].stands_for == cell.trial
        assert sorted(r.seed for r in cell.runs) == [0, 1, 2]  # each seed once
        assert sorted(r.pair for r in cell.runs) == [(0, 0), (1, 0), (2, 0)]
    assert [c.trial for c in final.cells] == [0, 1]


@pytest.mark.slow
def test_l1_retrains_both_cells_and_the_refit_uses_train_and_validation(
        tmp_path: Path, tiny_space: str) -> None:
    source = "example:adding?length=100&n=240"
    study, data = searched(tmp_path, tiny_space, source, n_trials=4)
    settings = TrainingSettings(max_epochs=3, patience=2)
    final = compare(study, data, settings, seeds=(0, 1), accelerator="cpu")
    ranges = final.comparison.long_range
    # both cells, both seeds, the last quarter and half of each sequence
    assert {(r.cell, r.seed, r.share) for r in ranges} == {
        (c, s, share) for c in ("gru", "lstm") for s in (0, 1) for share in (0.25, 0.5)}
    assert {r.context_steps for r in ranges} == {25, 50}
    fitted, refitted = refit(final, "lstm", data, settings, accelerator="cpu")
    record = refitted.refit
    lstm = final.comparison.cells[1]
    assert record is not None and record.cell == "lstm" and final.comparison.refit is None
    assert record.epochs == round(statistics.median(r.cost.best_epoch for r in lstm.runs))
    assert record.test_score == evaluate(fitted.system, data, data.splits.test)
    assert refitted.cells == final.comparison.cells  # the refit adds its record, nothing else


@pytest.mark.slow
def test_a_forecaster_is_scored_on_train_and_validation_then_trained_on_every_step(
        tmp_path: Path, tiny_space: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A forecast starts after the series' last step: the handed-over model has seen the test
    part, as neighbours' refits do; its test score is the train + validation fit's."""
    source = "example:sine?length=600"
    study, data = searched(tmp_path, tiny_space, source, n_trials=2)
    settings = TrainingSettings(max_epochs=2, patience=1)
    final = compare(study, data, settings, seeds=(0, 1), accelerator="cpu")
    fits: list[tuple[int, Any]] = []
    real_fit = runs.fit

    def recorded(*args: Any, **kwargs: Any) -> Any:
        fitted = real_fit(*args, **kwargs)
        fits.append((len(kwargs["train_set"]), fitted))
        return fitted

    monkeypatch.setattr(runs, "fit", recorded)
    told: list[str] = []
    handed, refitted = refit(final, "gru", data, settings, accelerator="cpu",
                             announce=told.append)
    splits = data.splits
    assert [n for n, _ in fits] == [len(splits.train) + len(splits.val),
                                    len(splits.train) + len(splits.val) + len(splits.test)]
    assert told == ["train + validation", "every step"]
    assert planned_runs(data, 2) == planned_runs(data, 2, refit=False) + 2
    scored, last = fits[0][1], fits[1][1]
    assert handed is last
    record = refitted.refit
    assert record is not None and record.whole_history_seconds is not None
    assert record.test_score == evaluate(scored.system, data, splits.test)

    def cut_on_every_step(*args: Any, **kwargs: Any) -> Any:  # --budget ends the second fit
        fitted = recorded(*args, **kwargs)
        return replace(fitted, cut=True) if len(fits) == 4 else fitted

    monkeypatch.setattr(runs, "fit", cut_on_every_step)
    handed, refitted = refit(final, "gru", data, settings, accelerator="cpu")
    assert handed is fits[2][1]  # the refit on train + validation, not a half-trained model
    assert refitted.refit is not None and refitted.refit.whole_history_seconds is None
    assert "the fit on every step was cut by budget" in refitted.budget_notes[-1]


@pytest.mark.slow
def test_a_sequential_comparison_stops_once_decided_and_else_runs_its_most_seeds(
        tmp_path: Path, tiny_space: str) -> None:
    study, data = searched(tmp_path, tiny_space, "example:digits", n_trials=4)
    settings = TrainingSettings(max_epochs=1, patience=1)
    looks: list[int] = []

    def decided_at_three(so_far: FinalComparison) -> bool:
        looks.append(len(so_far.cells[0].runs))
        return len(so_far.cells[0].runs) >= 3

    final = compare(study, data, settings, seeds=(0, 1, 2, 3), least=2,
                    stop=decided_at_three, accelerator="cpu").comparison
    assert looks == [2, 3]  # asked after the least seeds, then after each one more
    assert [[r.seed for r in c.runs] for c in final.cells] == [[0, 1, 2], [0, 1, 2]]
    assert (final.least_seeds, final.stopped, final.seeds) == (2, "decided", (0, 1, 2, 3))
    undecided = compare(study, data, settings, seeds=(0, 1, 2), least=2,
                        stop=lambda so_far: False, accelerator="cpu").comparison
    assert [len(c.runs) for c in undecided.cells] == [3, 3] and undecided.stopped == "maximum"


def test_fewer_than_two_seeds_are_refused() -> None:
    with pytest.raises(SelectorError, match="at least 2 seeds"):
        compare(optuna.create_study(), load_dataset("example:digits"), TrainingSettings(),
                seeds=(0,))
    with pytest.raises(SelectorError, match="seeds must be at least 2"):
        RecommendRequest(search=SearchRequest(data="example:digits"), seeds=1)


@pytest.mark.slow
def test_small_data_is_compared_by_cross_validation(tmp_path: Path, tiny_space: str) -> None:
    source = "example:adding?length=6&n=200"
    study, data = searched(tmp_path, tiny_space, source, n_trials=4)
    final = compare(study, data, TrainingSettings(max_epochs=6, patience=2), seeds=(0, 1),
                    accelerator="cpu").comparison
    assert final.method == "cv" and 0.2 < final.test_train_ratio < 0.35
    for cell in final.cells:
        assert [(r.seed, r.fold) for r in cell.runs] == [(s, f) for s in (0, 1) for f in range(5)]
        held = sum(len(r.outcomes) for r in cell.runs if r.seed == 0)
        assert held == len(data.splits.train) + len(data.splits.val)  # every fold held out once
    rec = decide(final, profile_dataset(data), Budgets(), Preferences())
    gru, lstm = (cell.runs for cell in final.cells)
    assert not any(r.cut for r in (*gru, *lstm))  # no budget: every fold pair had its chance
    assert rec.comparison.method == "cv" and rec.comparison.pairs == 10  # learned or not
    assert "corrected resampled t-test" in " ".join(rec.rationale)
