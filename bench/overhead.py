"""Framework overhead: a selector trial versus a hand-written PyTorch loop doing the same work.

Both train the same `RecurrentNet` (same seed, data loaders, AdamW, gradient clipping) for the
same fixed number of epochs, validating after each, and both keep the epoch's training loss.
The selector side is a real one-trial search: Optuna study in SQLite, Lightning, the pruning
callback, cost measurement, and every trial logged to MLflow (SQLite). Rounds alternate the two
so that machine noise falls on both. Ratios are medians over rounds.

    python -m bench.overhead                  # GRU and LSTM on the adding problem
    python -m bench.overhead --epochs 3 --rounds 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import optuna
import torch

from bench._common import machine, median, table
from selector.api import SearchRequest, prepare_study, search
from selector.data.batching import SplitDataset
from selector.data.load import load_dataset
from selector.process import flush_denormals, reuse_freed_memory
from selector.records import ModelConfig, TrainingSettings
from selector.training.fitting import build_net, fit, make_loader
from selector.training.system import SequenceSystem, squared_error_sum

SPACE = """\
description: One fixed configuration (bench/overhead.py).
params:
  cell: {{type: categorical, choices: [gru, lstm]}}
  hidden_size: {{type: categorical, choices: [{hidden}]}}
  num_layers: {{type: categorical, choices: [1]}}
  bidirectional: {{type: categorical, choices: [false]}}
  learning_rate: {{type: categorical, choices: [0.003]}}
  batch_size: {{type: categorical, choices: [{batch}]}}
  weight_decay: {{type: categorical, choices: [0.0001]}}
training:
  max_epochs: {epochs}
  patience: {epochs}
  gradient_clip: 1.0
"""


def hand_loop(config: ModelConfig, data_source: str, epochs: int, seed: int) -> float:
    """What a user would write by hand; returns its wall time in seconds."""
    data = load_dataset(data_source)
    start = time.perf_counter()
    torch.manual_seed(seed)
    net = build_net(config, data)
    prep = data.preprocessing
    system = SequenceSystem(net, data.task, learning_rate=config.learning_rate,
                            weight_decay=config.weight_decay, target_mean=prep.target_mean,
                            target_std=prep.target_std)  # for its loss and scaling only
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    train = make_loader(SplitDataset(data, data.splits.train), config.batch_size, shuffle=True,
                        seed=seed)
    val = make_loader(SplitDataset(data, data.splits.val), max(config.batch_size, 256),
                      shuffle=False, seed=0)
    for epoch in range(epochs):
        train.batch_sampler.set_epoch(epoch)
        net.train()
        total = 0.0
        for x, lengths, y in train:
            optimizer.zero_grad()
            loss = system._loss(net(x, lengths), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            total += loss.item() * len(y)
        net.eval()
        score = val_loss = 0.0
        with torch.no_grad():
            for x, lengths, y in val:
                out = net(x, lengths)
                val_loss += system._loss(out, y).item() * len(y)
                if data.task == "classification":
                    score += (out.argmax(dim=1) == y).sum().item()
                else:
                    score += squared_error_sum(system._unscale(out), y)
    return time.perf_counter() - start


def selector_trial(cell: str, space_file: Path, data_source: str, folder: Path, name: str
                   ) -> tuple[float, float]:
    """A one-trial search of ``cell``; returns (its wall time, the trial's own) in seconds.

    The study is created (with its MLflow run) first, untimed, with the cell enqueued.
    """
    request = SearchRequest(data=data_source, space=str(space_file), study_name=name,
                            storage=f"sqlite:///{folder / 'optuna.db'}", n_trials=1,
                            tracking_uri=f"sqlite:///{folder / 'mlflow.db'}", accelerator="cpu")
    prepare_study(request)
    optuna.load_study(study_name=name, storage=request.storage).enqueue_trial({"cell": cell})
    start = time.perf_counter()
    search(request)
    wall = time.perf_counter() - start
    study = optuna.load_study(study_name=name, storage=request.storage)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.COMPLETE, trial.user_attrs
    return wall, (trial.datetime_complete - trial.datetime_start).total_seconds()


def lightning_only(config: ModelConfig, data_source: str, epochs: int, seed: int) -> float:
    data = load_dataset(data_source)
    start = time.perf_counter()
    torch.manual_seed(seed)
    fit(build_net(config, data), data, TrainingSettings(max_epochs=epochs, patience=epochs),
        seed=seed, accelerator="cpu")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="example:adding?length=100&n=4000")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    reuse_freed_memory()  # as selector's training does: the hand loop gets it too
    flush_denormals()  # as the selector command does, before torch's threads start
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for cell in ("gru", "lstm"):
            config = ModelConfig(cell=cell, hidden_size=args.hidden, num_layers=1,
                                 learning_rate=0.003, batch_size=args.batch, weight_decay=1e-4)
            space_file = folder / f"{cell}.yaml"
            space_file.write_text(SPACE.format(hidden=args.hidden, batch=args.batch,
                                               epochs=args.epochs))
            hand_loop(config, args.data, 1, 0)  # warm-up: imports, kernel build, allocator
            times: dict[str, list[float]] = {"hand": [], "search": [], "trial": [],
                                              "lightning": []}
            for index in range(args.rounds):
                times["hand"].append(hand_loop(config, args.data, args.epochs, seed=index))
                wall, trial = selector_trial(cell, space_file, args.data, folder, f"{cell}-{index}")
                times["search"].append(wall)
                times["trial"].append(trial)
                times["lightning"].append(lightning_only(config, args.data, args.epochs, index))
            hand = median(times["hand"])
            rows.append([cell.upper(), hand, median(times["lightning"]) / hand,
                         median(times["trial"]) / hand, median(times["search"]) / hand])
    print(f"Framework overhead: {args.data}, {args.epochs} epochs, hidden {args.hidden}, "
          f"batch {args.batch}, {args.rounds} rounds\n{machine()}\n")
    print(table(["cell", "hand loop (s)", "Lightning fit / hand", "selector trial / hand",
                 "whole 1-trial search / hand"], rows))


if __name__ == "__main__":
    main()
