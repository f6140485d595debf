"""Scores are exact: the RMSE of a regression or forecast is the RMSE over sequences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from selector.data import DataOptions, load_dataset
from selector.data.batching import SplitDataset, collate
from selector.records import ModelConfig, TrainingSettings
from selector.training import build_net, evaluate, fit


@pytest.mark.parametrize(("source", "options"), [
    ("example:adding?length=12&n=300", DataOptions()),
    ("example:sine?length=400", DataOptions(lookback=12, horizon=3)),
])
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
