"""Pricing a candidate before it trains: probes, calibration by finished trials, and the cap."""

from __future__ import annotations

import optuna
import pytest
import torch

from selector.data import load_dataset
from selector.records import ModelConfig
from selector.search.costing import TrialCosting, calibration
from selector.training.fitting import build_net, probe_for

CELL = {"cell": optuna.distributions.CategoricalDistribution(["gru", "lstm"])}
DATA = load_dataset("example:adding?length=100&n=400")


def costing(cap: float) -> TrialCosting:
    return TrialCosting(DATA, probe_for(DATA), lambda: cap,
                        epoch_sequences=len(DATA.splits.train),
                        val_sequences=len(DATA.splits.val), rung=2)


def trained(study: optuna.Study, cell: str, *, epoch: float, probed: float) -> None:
    study.add_trial(optuna.create_trial(
        value=0.5, params={"cell": cell}, distributions=CELL,
        user_attrs={"cell": cell, "probe_epoch_seconds": probed,
                    "curves": [{"train_seconds": epoch * 0.75, "val_seconds": epoch * 0.25}] * 3}))


def test_finished_trials_calibrate_the_probe() -> None:
    study = optuna.create_study()
    assert calibration(study) == 1.0  # nothing to go by yet
    for epoch, probed in ((3.0, 2.0), (8.0, 4.0), (20.0, 5.0)):
        trained(study, "gru", epoch=epoch, probed=probed)
    assert calibration(study) == pytest.approx(2.0)  # the median of 1.5, 2 and 4


def test_a_candidate_too_slow_for_its_share_is_rejected_and_its_twin_is_costed() -> None:
    net = build_net(ModelConfig(cell="gru", hidden_size=64, batch_size=32), DATA)
    study = optuna.create_study()
    # A cell's first trial is never rejected: without one nothing can be compared.
    probed, reason = costing(cap=1e-6).price(study, net, twin=True)
    assert probed > 0 and reason is None
    trained(study, "gru", epoch=1.0, probed=1.0)
    generous = costing(cap=1e6).price(study, net, twin=True)
    assert generous[1] is None
    _, reason = costing(cap=1e-6).price(study, net, twin=True)
    assert reason is not None and "GRU 2 x" in reason and "LSTM 2 x" in reason
    assert "one trial may train under budget" in reason
    _, alone = costing(cap=1e-6).price(study, net, twin=False)  # a twin: its original trained
    assert alone is not None and "LSTM" not in alone


def test_pricing_leaves_the_trials_random_state_alone() -> None:
    net = build_net(ModelConfig(cell="gru", hidden_size=16, dropout=0.0), DATA)
    study = optuna.create_study()
    trained(study, "gru", epoch=1.0, probed=1.0)
    torch.manual_seed(7)
    costing(cap=1e6).price(study, net, twin=True)
    after = torch.rand(3)
    torch.manual_seed(7)
    assert torch.equal(after, torch.rand(3))


def test_a_bigger_candidate_is_priced_higher() -> None:
    small = build_net(ModelConfig(cell="lstm", hidden_size=8, batch_size=64), DATA)
    big = build_net(ModelConfig(cell="lstm", hidden_size=256, num_layers=2, batch_size=16), DATA)
    pricing = costing(cap=1e6)
    assert pricing.probe_epoch(big) > 3 * pricing.probe_epoch(small)
