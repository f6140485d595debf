"""Pricing a candidate before it trains: probes, calibration by finished trials, and the cap."""

from __future__ import annotations

import math

import optuna
import pytest
import torch

from selector.data import load_dataset
from selector.records import Budgets, ModelConfig
from selector.search import objective as objective_module
from selector.search.costing import TrialCosting, calibration, epoch_seconds
from selector.search.objective import Objective
from selector.search.space import parse_space
from selector.search.state import trial_attrs
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
    first = costing(cap=1e-6).price(study, net, twin=True)
    assert first.probed > 0 and first.rejected is None and first.chunk is None
    trained(study, "gru", epoch=1.0, probed=1.0)
    generous = costing(cap=1e6).price(study, net, twin=True)
    assert generous.rejected is None and generous.chunk is None
    reason = costing(cap=1e-6).price(study, net, twin=True).rejected
    assert reason is not None and "GRU 2 x" in reason and "LSTM 2 x" in reason
    assert "one trial may train under budget, even reading 8 batches an epoch" in reason
    alone = costing(cap=1e-6).price(study, net, twin=False).rejected  # a twin: its original ran
    assert alone is not None and "LSTM" not in alone


def test_a_dear_candidate_reads_chunks_that_fit_its_first_rung_in_a_quarter_of_a_trial() -> None:
    pricing = costing(cap=1e6)
    train = len(DATA.splits.train)
    # an epoch of 10 s, its two first epochs 40% of the 50 s a trial may train: over a quarter
    chunk = pricing.readable(10.0, 50.0, batch=16)
    assert 8 * 16 <= chunk < train
    assert 2 * pricing.epoch_of(10.0, chunk) == pytest.approx(0.25 * 50.0, rel=0.01)
    assert pricing.epoch_of(10.0, train) == pytest.approx(10.0)
    assert pricing.readable(10.0, 100.0, batch=16) == train  # 20%: whole epochs
    assert pricing.readable(10.0, 1.0, batch=16) == 8 * 16  # never under 8 batches


def test_pricing_chunks_a_dear_candidate_before_rejecting_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    net = build_net(ModelConfig(cell="gru", hidden_size=64, batch_size=16), DATA)
    study = optuna.create_study()
    trained(study, "gru", epoch=1.0, probed=1.0)  # calibration 1: the probe is the estimate
    monkeypatch.setattr(TrialCosting, "probe_epoch", lambda self, net: 1.0)  # no timing noise
    dear = costing(cap=2 / 0.6).price(study, net, twin=False)  # its rung: 60% of a trial
    assert dear.rejected is None and dear.chunk is not None
    assert costing(cap=1e6).price(study, net, twin=False).chunk is None


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


SPACE = """
params:
  cell: {type: categorical, choices: [gru, lstm]}
  hidden_size: {type: categorical, choices: [8]}
  batch_size: {type: categorical, choices: [16]}
training: {max_epochs: 2, patience: 2}
"""


def test_a_dear_candidate_trains_on_chunks_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    data = load_dataset("example:adding?length=20&n=1500")
    train = len(data.splits.train)
    study = optuna.create_study(direction="minimize")
    monkeypatch.setattr(TrialCosting, "probe_epoch", lambda self, net: 1.0)

    def cap() -> float:  # a trial may train four of the first trial's epochs: the rung is half
        return 4 * (epoch_seconds(study.trials[0]) or 1.0)

    costing = TrialCosting(data, probe_for(data), cap, epoch_sequences=train,
                           val_sequences=len(data.splits.val), rung=2)
    objective = Objective(data, parse_space(SPACE, source="t", name="t"), budgets=Budgets(),
                          accelerator="cpu", costing=costing)
    reading: list[tuple[int | None, int]] = []  # each trial's batches an epoch, epoch limit
    real_fit = objective_module.fit

    def fit(*args: object, **kwargs: object) -> object:
        reading.append((kwargs["limit_batches"], args[2].max_epochs))  # type: ignore[attr-defined]
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(objective_module, "fit", fit)
    for _ in range(2):
        study.enqueue_trial({"cell": "gru"})
    study.optimize(objective, n_trials=2)
    first, second = (trial_attrs(t) for t in study.trials)
    assert first.epoch_sequences == train and reading[0] == (None, 2)  # a cell's first: whole
    chunk = second.epoch_sequences
    assert chunk is not None and 8 * 16 <= chunk < train
    passes = math.ceil(train / chunk)
    assert reading[1] == (math.ceil(chunk / 16), 2 * passes)  # as many sequences in all
    assert f"of {chunk:,} sequences" in second.state_reason
