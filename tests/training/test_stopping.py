"""Early stopping that waits out a plateau, and pruning that waits with it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import optuna
import pytest
import torch

from selector.training.stopping import PlateauStopping, WarmPruning, warmup_epochs


def epochs(callback: Any, scores: list[float]) -> int:
    """Feed validation scores; the epoch at which the callback stopped training (or 0)."""
    trainer = SimpleNamespace(sanity_checking=False, should_stop=False, callback_metrics={})
    for epoch, score in enumerate(scores, start=1):
        trainer.callback_metrics = {"val_score": torch.tensor(score)}
        callback.on_validation_end(trainer, SimpleNamespace(current_epoch=epoch - 1))
        if trainer.should_stop:
            return epoch
    return 0


def test_a_plateau_is_waited_out_until_the_warmup_ends() -> None:
    stopping = PlateauStopping(baseline=0.409, direction="minimize", patience=5, warmup=20)
    plateau = [0.409, 0.4085, 0.409, 0.4088] * 6
    assert epochs(stopping, plateau) == 20  # plain patience 5 would have stopped at epoch 6
    assert not stopping.learned


def test_once_it_learns_patience_applies_as_usual() -> None:
    stopping = PlateauStopping(baseline=0.409, direction="minimize", patience=3, warmup=20)
    scores = [0.409] * 8 + [0.2, 0.05, 0.011] + [0.02] * 10
    assert epochs(stopping, scores) == 14  # best at epoch 11, three epochs without a better
    assert stopping.learned


def test_chance_wobble_on_a_small_split_does_not_end_the_warmup() -> None:
    """A run at chance on 600 balanced sequences (noise 0.02) whose score wobbles above the
    2% skill line keeps its warm-up; with no noise given it stopped at epoch 20."""
    wobble = [0.50, 0.527, 0.49, 0.515, 0.52] + [0.50] * 20 + [0.83, 0.84]
    noisy = PlateauStopping(baseline=0.505, direction="maximize", patience=8, warmup=27,
                            noise=0.02)
    assert epochs(noisy, wobble) == 0 and noisy.learned  # trained to the jump, then learned
    naive = PlateauStopping(baseline=0.505, direction="maximize", patience=8, warmup=27)
    assert epochs(naive, wobble) == 10  # best at epoch 2, eight epochs without a better


def test_the_warmup_is_two_thirds_of_the_epoch_limit() -> None:
    assert warmup_epochs(30, 5) == 20
    assert warmup_epochs(6, 5) == 5  # never shorter than the patience


def test_a_warming_trial_reports_but_is_never_pruned() -> None:
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.3))
    trial = study.ask()
    stopping = PlateauStopping(baseline=0.409, direction="minimize", patience=5, warmup=10)
    pruning = WarmPruning(trial, stopping)

    def both(score: float, epoch: int) -> None:
        trainer = SimpleNamespace(sanity_checking=False, should_stop=False,
                                  callback_metrics={"val_score": torch.tensor(score)})
        module = SimpleNamespace(current_epoch=epoch)
        stopping.on_validation_end(trainer, module)
        pruning.on_validation_end(trainer, module)

    for epoch in range(3):
        both(0.409, epoch)  # above the threshold, yet not pruned: still warming up
    assert len(study.trials[0].intermediate_values) == 3
    try:
        for epoch in range(3, 12):
            both(0.409, epoch)
    except optuna.TrialPruned:
        assert epoch == 9  # the tenth epoch ends the warm-up: now it is judged
    else:
        raise AssertionError("a trial past its warm-up was never pruned")


@pytest.mark.slow
def test_real_training_on_a_plateau_runs_its_warmup_and_says_it_did_not_learn() -> None:
    from selector.data import load_dataset
    from selector.records import ModelConfig, TrainingSettings
    from selector.training.fitting import build_net, fit

    data = load_dataset("example:adding?length=40&n=400")
    # A learning rate far too small to leave the mean predictor's plateau in a few epochs.
    net = build_net(ModelConfig(cell="lstm", hidden_size=8, batch_size=64,
                                learning_rate=1e-6), data)
    fitted = fit(net, data, TrainingSettings(max_epochs=9, patience=1), seed=0,
                 accelerator="cpu")
    assert len(fitted.history.epochs) == warmup_epochs(9, 1) == 6  # patience 1 would stop at 2
    assert not fitted.learned and fitted.baseline > 0.3
