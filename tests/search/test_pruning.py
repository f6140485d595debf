"""Pruning per cell, and twins that run as long as the trial they twin."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from selector.search.pruning import CellPruner, make_pruner

CELL = {"cell": CategoricalDistribution(["gru", "lstm"])}


def history(cell: str, value: float, steps: int = 27,
            user_attrs: dict[str, object] | None = None) -> optuna.trial.FrozenTrial:
    return create_trial(value=value, params={"cell": cell}, distributions=CELL,
                        intermediate_values={s: value for s in range(steps)},
                        user_attrs=user_attrs)


def running(study: optuna.Study, cell: str, values: list[float],
            user_attrs: dict[str, object] | None = None) -> list[bool]:
    """Report ``values`` epoch by epoch for a new trial of ``cell``; whether each was pruned."""
    study.enqueue_trial({"cell": cell}, user_attrs=user_attrs)
    trial = study.ask()
    trial.suggest_categorical("cell", ["gru", "lstm"])
    decisions = []
    for step, value in enumerate(values):
        trial.report(value, step)
        decisions.append(trial.should_prune())
    study.tell(trial, state=TrialState.PRUNED)
    return decisions


def seeded(pruner: optuna.pruners.BasePruner) -> optuna.Study:
    study = optuna.create_study(direction="maximize", pruner=pruner, study_name="p")
    for i in range(12):  # LSTM starts fast, GRU slow; each cell's own trials compete
        study.add_trial(history("lstm", 0.9 + i / 1000))
        study.add_trial(history("gru", 0.3 + i / 1000))
    for _ in range(12):  # fill every bracket's rungs with each cell's values
        running(study, "lstm", [0.9] * 27)
        running(study, "gru", [0.3] * 27)
    return study


def pruned_at(study: optuna.Study, cell: str, value: float, n: int = 8,
              user_attrs: dict[str, object] | None = None) -> list[int | None]:
    """For ``n`` new trials of ``cell`` reporting ``value`` every epoch (a trial's Hyperband
    bracket depends on its number), the first epoch each was pruned at, or None."""
    return [next((step for step, cut in enumerate(running(study, cell, [value] * 27, user_attrs))
                  if cut), None) for _ in range(n)]


def test_a_trial_competes_only_with_its_own_cell() -> None:
    # A GRU far behind every LSTM but ahead of every GRU.
    plain = seeded(optuna.pruners.HyperbandPruner(min_resource=1, max_resource=27))
    assert any(pruned_at(plain, "gru", 0.5))  # Optuna's Hyperband cuts it for its cell
    fair = seeded(CellPruner(min_resource=1, max_resource=27))
    assert not any(pruned_at(fair, "gru", 0.5))
    assert any(pruned_at(fair, "gru", 0.0))  # a weak GRU is still pruned among GRUs


def test_a_twin_is_not_pruned_before_the_epochs_its_original_reached() -> None:
    study = seeded(CellPruner(min_resource=1, max_resource=27))
    study.add_trial(history("gru", 0.31, steps=6))  # its last step: 5
    original = study.trials[-1].number
    ordinary = pruned_at(study, "lstm", 0.1)
    assert any(step is not None and step < 5 for step in ordinary)  # weak: cut early
    twins = pruned_at(study, "lstm", 0.1, user_attrs={"twin_of": original})
    assert all(step is None or step >= 5 for step in twins)  # not before its original's epochs
    assert any(step is not None for step in twins)  # and then judged like any other


def test_a_twin_reading_smaller_epochs_runs_until_it_has_read_as_much() -> None:
    study = seeded(CellPruner(min_resource=1, max_resource=27))
    study.add_trial(history("gru", 0.31, steps=2, user_attrs={"epoch_sequences": 400}))
    original = study.trials[-1].number  # read 2 x 400 sequences
    twins = pruned_at(study, "lstm", 0.1, user_attrs={"twin_of": original,
                                                      "epoch_sequences": 100})
    assert all(step is None or step >= 7 for step in twins)  # 8 x 100 before it is judged
    assert any(step is not None for step in twins)


def learned(seconds: float) -> float:
    """A learning curve: the score a candidate reaches after ``seconds`` of training."""
    return 1 - math.exp(-seconds / 20)


def timed(study: optuna.Study, cell: str, *, epoch_seconds: float, per_epoch: float,
          unit: float | None, epochs: int = 27) -> int | None:
    """A new trial of ``cell`` whose epochs take ``epoch_seconds`` and whose score after k of
    them is ``learned(k * per_epoch)``, its curves stored as each epoch ends (as the objective
    stores them); the epoch it was pruned at, or None."""
    study.enqueue_trial({"cell": cell}, user_attrs={} if unit is None else {
        "rung_unit_seconds": unit})
    trial = study.ask()
    trial.suggest_categorical("cell", ["gru", "lstm"])
    curves: list[dict[str, float]] = []
    for epoch in range(epochs):
        curves.append({"train_seconds": 0.8 * epoch_seconds, "val_seconds": 0.2 * epoch_seconds})
        trial.set_user_attr("curves", curves)
        trial.report(learned((epoch + 1) * per_epoch), epoch)
        if trial.should_prune():
            study.tell(trial, state=TrialState.PRUNED)
            return epoch
    study.tell(trial, learned(epochs * per_epoch))
    return None


def cheap_then_big(pruner: CellPruner, unit: float | None) -> list[int | None]:
    """Twelve cheap GRUs (1 s an epoch), then eight that learn 1.5x as much per epoch but take
    10 s an epoch: where each of the eight was pruned."""
    study = optuna.create_study(direction="maximize", pruner=pruner, study_name="t")
    for _ in range(12):
        timed(study, "gru", epoch_seconds=1.0, per_epoch=1.0, unit=unit)
    return [timed(study, "gru", epoch_seconds=10.0, per_epoch=1.5, unit=unit) for _ in range(8)]


def test_under_a_budget_trials_are_judged_at_equal_training_time_not_equal_epochs() -> None:
    # By epochs the big candidates look best (more learned per epoch) and train on.
    assert not any(cheap_then_big(make_pruner(27, 2), unit=None))
    # By seconds, in the time of their second epoch the cheap ones learned far more.
    by_time = cheap_then_big(make_pruner(27, 2, unit=1.0), unit=1.0)
    assert all(step is not None for step in by_time)
    assert min(s for s in by_time if s is not None) >= 1  # never judged before 2 epochs


def test_trials_judged_in_other_units_do_not_compete() -> None:
    # A trial's Hyperband bracket hangs on the study's name and the trial's number: a fixed
    # name and several trials keep this from resting on one bracket's luck.
    study = optuna.create_study(direction="maximize", pruner=make_pruner(27, 2, unit=1.0),
                                study_name="u")
    for _ in range(12):
        timed(study, "gru", epoch_seconds=1.0, per_epoch=1.0, unit=1.0)
    study.pruner = make_pruner(27, 2)  # resumed without a budget: pruning by epochs
    # far behind the earlier trials, but none of them was judged by epochs
    by_epochs = [timed(study, "gru", epoch_seconds=1.0, per_epoch=0.1, unit=None)
                 for _ in range(4)]
    assert by_epochs == [None] * 4
    study.pruner = make_pruner(27, 2, unit=1.0)
    by_time = [timed(study, "gru", epoch_seconds=1.0, per_epoch=0.1, unit=1.0)
               for _ in range(4)]
    assert any(step is not None for step in by_time)


def test_a_unit_must_be_a_positive_number_of_seconds() -> None:
    with pytest.raises(ValueError, match="unit must be a positive number of seconds; got 0"):
        CellPruner(min_resource=1, max_resource=3, unit=0.0)
