"""Training: exact scores, the best epoch's weights kept, and timers that cover only epochs."""

from __future__ import annotations

import time

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from selector.data import DataOptions, load_dataset
from selector.data.batching import SplitDataset, collate
from selector.records import ModelConfig, TrainingSettings
from selector.training import fast_gru
from selector.training.fitting import build_net, evaluate, fit


@pytest.mark.parametrize(("source", "options"), [
    ("example:adding?length=12&n=300", DataOptions()),
    ("example:sine?length=400", DataOptions(lookback=12, horizon=3)),
])
@pytest.mark.slow
def test_rmse_is_over_sequences_whatever_the_batch_size(source: str, options: DataOptions) -> None:
    data = load_dataset(source, options)
    torch.manual_seed(0)
    net = build_net(ModelConfig(cell="gru", hidden_size=8, batch_size=32), data)
    fitted = fit(net, data, TrainingSettings(max_epochs=1, patience=1), seed=0,
                 accelerator="cpu")
    system = fitted.system.eval()
    val = data.splits.val
    x, lengths, y = collate([SplitDataset(data, val)[i] for i in range(len(val))])
    with torch.no_grad():
        prediction = system(x, lengths).numpy()
    expected = float(np.sqrt(((prediction.reshape(y.shape) - y.numpy()) ** 2).reshape(
        len(val), -1).mean(axis=1).mean()))
    assert expected > 0.05  # one epoch does not solve the task: the check is not vacuous
    assert evaluate(system, data, val) == pytest.approx(expected, rel=1e-5)
    # the validation score Lightning logged (batches of 256) is the same number
    assert fitted.history.epochs[-1]["val_score"] == pytest.approx(expected, rel=1e-4)


class Scramble(Callback):
    """From epoch 3 on, start each epoch from random weights: later epochs are worse."""

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.current_epoch >= 2:
            with torch.no_grad():
                for p in module.parameters():
                    p.normal_(0, 2.0)


@pytest.mark.slow
def test_the_trained_model_holds_the_best_validation_epoch_weights() -> None:
    data = load_dataset("example:digits")
    torch.manual_seed(0)
    net = build_net(ModelConfig(cell="lstm", hidden_size=16, batch_size=64,
                                learning_rate=1e-2), data)
    fitted = fit(net, data, TrainingSettings(max_epochs=4, patience=5), seed=0,
                 accelerator="cpu", callbacks=[Scramble()])
    epochs = fitted.history.epochs
    best = fitted.history.best()
    assert best["epoch"] < len(epochs) and epochs[-1]["val_score"] < best["val_score"] - 0.1
    # what is tested, measured and exported scores as the best epoch did, not the last
    assert evaluate(fitted.system, data, data.splits.val) == pytest.approx(best["val_score"])


@pytest.mark.slow
def test_one_time_work_is_outside_every_epoch_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow kernel load and slow shape timings (faked: 1 s and 0.3 s each) land in the
    run's set-up seconds, never in its epochs' times or its time to converge."""
    if fast_gru.kernel() is None:
        pytest.skip("the kernel did not build")
    real_built, real_time = fast_gru._built, fast_gru.FastPath._time

    def slow_built() -> object:
        time.sleep(1.0)
        return real_built()

    def slow_time(*args: object) -> bool:
        time.sleep(0.3)
        return real_time(*args)

    monkeypatch.setattr(fast_gru, "_built", slow_built)
    monkeypatch.setattr(fast_gru.FastPath, "_time", staticmethod(slow_time))
    monkeypatch.setattr(fast_gru, "FAST_PATH", fast_gru.FastPath())
    fast_gru.kernel.cache_clear()
    try:
        data = load_dataset("example:adding?length=30&n=300")
        torch.manual_seed(0)
        net = build_net(ModelConfig(cell="gru", hidden_size=8, batch_size=32), data)
        fitted = fit(net, data, TrainingSettings(max_epochs=2, patience=2), seed=0,
                     accelerator="cpu")
    finally:
        fast_gru.kernel.cache_clear()
    timed = sum(e["train_seconds"] + e["val_seconds"] for e in fitted.history.epochs)
    assert fitted.setup_seconds > 1.6  # the load and at least two shapes
    assert timed < 0.5 * fitted.setup_seconds
    assert fitted.history.time_to_best() <= timed + 1e-9
    first, last = (e["train_seconds"] for e in (fitted.history.epochs[0],
                                                fitted.history.epochs[-1]))
    assert first < 0.3 + 3 * last  # the first epoch carries no one-time cost
