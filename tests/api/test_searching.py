"""The search stage under a --budget: the floor warning, candidates priced before they train,
and pruning on seconds trained."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from selector.api.searching import search_study
from selector.api.trials import CheapestPair, keep_rung_unit
from selector.data import load_dataset, profile_dataset
from selector.search.costing import TrialCosting
from selector.search.pruning import CellPruner
from selector.search.schedule import SearchBudget
from selector.search.state import study_state, trial_attrs
from selector.training.budget import Deadline
from selector.training.model import RecurrentNet
from tests.helpers.clock import FakeClock, slow_training_steps
from tests.helpers.studies import request


def searched(tmp_path: Path, space: str, clock: FakeClock, seconds: float,
             warnings: list[str], n_trials: int = 6) -> optuna.Study:
    req = request(tmp_path, space, n_trials=n_trials)
    data = load_dataset(req.data)
    budget = SearchBudget(Deadline(clock() + seconds, clock), final_seeds=2)
    return search_study(req, data, profile_dataset(data), req.load_space(data), None,
                        warnings.append, budget).study


def test_a_budget_below_the_smallest_useful_run_is_warned_about_with_the_numbers(
        tmp_path: Path, tiny_space: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(TrialCosting, "probe_epoch", lambda self, net: 10.0)  # a slow machine
    warnings: list[str] = []
    searched(tmp_path, tiny_space, clock, 60.0, warnings, n_trials=1)
    # 2 epochs of each cell's cheapest candidate, twice, 25% on top: 1.25 * 2 * 2 * 20 s
    assert len(warnings) == 1 and "needs about 100 s" in warnings[0]
    assert "leaves about 60 s for training" in warnings[0]
    assert "10.0 and 10.0 s an epoch" in warnings[0]
    warnings.clear()
    (tmp_path / "enough").mkdir()
    searched(tmp_path / "enough", tiny_space, clock, 100.0, warnings, n_trials=1)
    assert warnings == []


def test_a_candidate_too_slow_for_the_cap_is_rejected_untrained(
        tmp_path: Path, tiny_space: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    slow_training_steps(monkeypatch, clock, 0.01)

    def probe(self: TrialCosting, net: RecurrentNet) -> float:  # wide nets are slow
        return 0.01 if net.config.hidden_size <= 8 else 1000.0

    monkeypatch.setattr(TrialCosting, "probe_epoch", probe)
    study = searched(tmp_path, tiny_space, clock, 100.0, [], n_trials=12)
    started = [t for t in study.trials if trial_attrs(t).config is not None]  # not queued
    for trial in started:
        attrs = trial_attrs(trial)
        assert attrs.probe_epoch_seconds is not None  # every candidate is priced first
        wide = attrs.config is not None and attrs.config["hidden_size"] > 8
        first = trial.number < 2  # each cell's first trial (the cheapest pair) always trains
        assert attrs.rejected == (wide and not first)
        if attrs.rejected:
            assert "one trial may train" in attrs.state_reason and not attrs.curves
    assert any(trial_attrs(t).rejected for t in started)
    # Rungs in seconds, in units of the slower cell's cheapest epoch: set once for the study
    assert study_state(study).rung_unit == 0.01
    assert isinstance(study.pruner, CellPruner) and study.pruner.unit == 0.01
    assert all(trial_attrs(t).rung_unit_seconds == 0.01 for t in started)
    keep_rung_unit(study, CheapestPair(1.0, {"gru": 5.0, "lstm": 7.0}, 2))  # a resume
    assert study_state(study).rung_unit == 0.01
