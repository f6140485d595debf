"""How a --budget is shared out: the search's end, trial deadlines, and seed pairs."""

from __future__ import annotations

import optuna
import pytest

from selector.data import load_dataset
from selector.records import ModelConfig
from selector.search.schedule import (
    CUT_PAIR_SHARE,
    SearchClock,
    estimated_seconds,
    pair_slices,
    start_cheap,
)
from selector.search.space import load_space
from selector.training.budget import Deadline
from tests.helpers.clock import FakeClock

CELL = {"cell": optuna.distributions.CategoricalDistribution(["gru", "lstm"])}


def add(study: optuna.Study, cell: str, value: float, seconds: float) -> None:
    study.add_trial(optuna.create_trial(
        value=value, params={"cell": cell}, distributions=CELL,
        user_attrs={"cell": cell, "curves": [{"train_seconds": seconds / 2}] * 2}))


def test_the_comparison_time_is_estimated_from_each_cell_best_trial() -> None:
    data = load_dataset("example:digits")
    study = optuna.create_study(direction="maximize")
    assert estimated_seconds(study, data, seeds=3) is None  # nothing to go by yet
    for cell, value, seconds in (("gru", 0.9, 2.0), ("gru", 0.8, 10.0), ("lstm", 0.85, 4.0)):
        study.add_trial(optuna.create_trial(
            value=value, params={"cell": cell},
            distributions={"cell": optuna.distributions.CategoricalDistribution(["gru", "lstm"])},
            user_attrs={"curves": [{"train_seconds": seconds / 2}] * 2}))
    # 3 seeds x (GRU's best 2 s + LSTM's best 4 s), a refit of the slower on train + validation
    # (digits are short: no L1), a quarter on top
    grown = (len(data.splits.train) + len(data.splits.val)) / len(data.splits.train)
    assert estimated_seconds(study, data, seeds=3) == pytest.approx(
        1.25 * (3 * (2.0 + 4.0) + 4.0 * grown))



def test_pairs_that_fit_run_whole_with_equal_time_for_both_cells() -> None:
    # The slower cell's best trial sets the pace; both cells get the same time (equal effort).
    assert pair_slices(150.0, {"gru": 10.0, "lstm": 30.0}, pairs=[2, 2], pairs_done=0) == (
        pytest.approx(37.5), 2)


def test_seeds_the_budget_cannot_pay_for_are_dropped_not_starved() -> None:
    slices, pairs = pair_slices(130.0, {"gru": 10.0, "lstm": 30.0}, pairs=[2, 2, 2], pairs_done=1)
    assert pairs == 2 and slices == pytest.approx(32.5)  # two whole pairs, not three cut ones


def test_a_pair_with_a_reused_search_trial_pays_for_one_run() -> None:
    # 100 s at 30 s a run: the two pairs with a reused trial (1 run each), not a third whole
    # pair, and the time is shared among the 3 runs that train.
    assert pair_slices(100.0, {"gru": 10.0, "lstm": 30.0}, pairs=[1, 1, 2], pairs_done=0) == (
        pytest.approx(100 / 2), 2)
    assert pair_slices(100.0, {"gru": 10.0, "lstm": 30.0}, pairs=[1, 2, 2], pairs_done=0) == (
        pytest.approx(100 / 3), 2)


def test_a_cut_pair_runs_only_while_an_interval_still_needs_it() -> None:
    expected = {"gru": 40.0, "lstm": 60.0}
    assert pair_slices(50.0, expected, pairs=[2, 2], pairs_done=1) == (pytest.approx(25.0), 1)
    assert pair_slices(50.0, expected, pairs=[2, 2], pairs_done=2) == (None, 0)
    too_little = CUT_PAIR_SHARE * 120.0 - 1
    assert pair_slices(too_little, expected, pairs=[2, 2], pairs_done=0) == (None, 0)


def test_the_search_keeps_the_comparison_share_and_both_cells_get_a_trial() -> None:
    data = load_dataset("example:digits")
    study = optuna.create_study(direction="maximize")
    fake = FakeClock()
    start = fake()
    clock = SearchClock(start=start, work_end=Deadline(start + 100.0, fake), seeds=2, data=data)
    # Before any trial: the middle of the search's share.
    assert clock.search_end(study) == pytest.approx(start + 100.0 - 52.5)
    # Each cell's first trial must end by the search's least share (35%): the first of them
    # gets half of that, the other cell the rest.
    assert clock.first_end(study) == pytest.approx(start + 35.0)
    # ... but no trial trains longer than a quarter of the search's largest share (60%).
    assert clock.trial_cap() == pytest.approx(15.0)
    assert clock.trial_deadline(study, "gru").at == pytest.approx(start + 15.0)
    add(study, "gru", 0.9, 2.0)
    # LSTM, the last cell without one, may run until the search's end but for that cap.
    assert clock.latest() == pytest.approx(start + 60)
    assert clock.trial_deadline(study, "lstm").at == pytest.approx(start + 15.0)
    fake.advance(50.0)
    assert clock.trial_deadline(study, "lstm").at == clock.latest()
    fake.advance(-50.0)
    assert clock.keep_going(study)  # LSTM has no trial yet
    # A cheap comparison leaves the search its largest share (60%).
    add(study, "lstm", 0.8, 2.0)
    assert clock.search_end(study) == pytest.approx(start + 60.0)
    assert clock.trial_deadline(study, "gru").at == pytest.approx(start + 15.0)
    assert clock.keep_going(study)
    # An expensive one takes at most 65% of the time.
    add(study, "gru", 0.95, 200.0)
    assert clock.search_end(study) == pytest.approx(start + 35.0)


def test_a_budgeted_study_starts_with_its_cheapest_pair_and_a_resumed_one_as_it_was() -> None:
    space = load_space("long_sequences")
    data = load_dataset("example:digits")
    study = optuna.create_study(direction="maximize")
    start_cheap(study, space, data)
    first = study.ask()
    assert space.suggest(first, text=False) == ModelConfig(**space.cheapest(text=False))
    study.tell(first, 0.5)
    start_cheap(study, space, data)  # a study with trials: nothing queued
    assert not [t for t in study.get_trials() if t.state == optuna.trial.TrialState.WAITING]
