"""Pruning per cell, and twins that run as long as the trial they twin."""

from __future__ import annotations

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from selector.search.pruning import CellPruner

CELL = {"cell": CategoricalDistribution(["gru", "lstm"])}


def history(cell: str, value: float, steps: int = 27) -> optuna.trial.FrozenTrial:
    return create_trial(value=value, params={"cell": cell}, distributions=CELL,
                        intermediate_values={s: value for s in range(steps)})


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
