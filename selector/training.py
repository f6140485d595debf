"""Training one candidate and measuring it: shared by the search trials and the final runs.

`fit` trains a `RecurrentNet` with Lightning (early stopping on the validation score, plus any
extra callbacks such as Optuna's pruning), `measure_cost` measures what the trained candidate
costs, and `evaluate` scores it on any split in the user's units.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import platform
import signal
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping
from torch.utils.data import DataLoader

from selector.cost import THROUGHPUT_BATCH, Latency, Probe, latency, recurrent_parameters, size_bytes
from selector.cost import training_memory_bytes as memory_of
from selector.data.batching import LengthBucketSampler, SplitDataset, collate
from selector.data.dataset import SequenceData
from selector.interrupts import INTERRUPTS
from selector.model import RecurrentNet, count_parameters
from selector.records import Cost, ModelConfig, TrainingSettings
from selector.system import SequenceSystem, score_direction, squared_error_sum


class EpochHistory(Callback):
    """Per-epoch curves and training time, read at the end of each validation."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []
        self._start = 0.0
        self._train_seconds = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_validation_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._train_seconds = time.perf_counter() - self._start

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        assert isinstance(module, SequenceSystem)
        metrics = trainer.callback_metrics
        self.epochs.append({
            "epoch": len(self.epochs) + 1,
            "train_loss": module.epoch_train_loss,
            "val_loss": float(metrics["val_loss"]),
            "val_score": float(metrics["val_score"]),
            "train_seconds": self._train_seconds,
        })

    def best(self, direction: str) -> dict[str, float]:
        """The epoch with the best validation score."""
        pick = max if direction == "maximize" else min
        return pick(self.epochs, key=lambda e: e["val_score"])


def build_net(config: ModelConfig, data: SequenceData) -> RecurrentNet:
    return RecurrentNet(config, input_size=data.n_features, output_size=data.output_size,
                        vocabulary_size=data.vocabulary_size)


def make_loader(dataset: SplitDataset, batch_size: int, *, shuffle: bool, seed: int) -> DataLoader:
    sampler = LengthBucketSampler(dataset.lengths, batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)


def probe_for(data: SequenceData) -> Probe:
    """The input shape costs are measured on: the median sequence length of the data."""
    return Probe(length=int(np.median(data.lengths)), n_features=data.n_features,
                 vocabulary_size=data.vocabulary_size)


@contextlib.contextmanager
def keyboard_interrupts_survive_lightning() -> Iterator[None]:
    """Lightning answers Ctrl-C with sys.exit(1) and ignores SIGINT from then on.

    Turn that back into a KeyboardInterrupt (so Optuna marks the trial failed and stops) and
    restore the handler, so the study is never left with a trial stuck in RUNNING.
    """
    handler = signal.getsignal(signal.SIGINT)
    try:
        yield
    except SystemExit as exc:
        raise KeyboardInterrupt("interrupted during training") from exc
    finally:
        with contextlib.suppress(ValueError):  # not in the main thread
            signal.signal(signal.SIGINT, handler)


@functools.cache
def reuse_freed_memory() -> bool:
    """Keep large freed blocks in this process's heap (glibc), for the next training step.

    By default glibc hands every block over ~128 kB back to the OS when it is freed, so each
    step's activations are page-faulted in afresh (386 faults for one 2.4 MB tensor). Keeping
    them measured 5-10% off a training step, and 40% off an LSTM's at length 200 (46 -> 27 ms).
    The heap keeps up to 1 GiB free memory mapped in return. Returns whether it applied.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 256 << 20) and libc.mallopt(m_trim_threshold, 1 << 30))


@dataclass
class Fitted:
    """A trained candidate: the Lightning system (its ``net`` inside) and its epoch curves."""

    system: SequenceSystem
    history: EpochHistory


def fit(net: RecurrentNet, data: SequenceData, settings: TrainingSettings, *, seed: int,
        accelerator: str, train_set: SplitDataset | None = None,
        val_set: SplitDataset | None = None, callbacks: Sequence[Callback] = (),
        history: EpochHistory | None = None) -> Fitted:
    """Train ``net`` on the training split, stopping early on the validation score.

    ``history`` may be given so that a caller can read the curves even if training is cut
    short by an exception (a pruned trial).
    """
    reuse_freed_memory()
    config = net.config
    prep = data.preprocessing
    system = SequenceSystem(net, data.task, learning_rate=config.learning_rate,
                            weight_decay=config.weight_decay,
                            gradient_clip=settings.gradient_clip, target_mean=prep.target_mean,
                            target_std=prep.target_std)
    history = history or EpochHistory()
    trainer = pl.Trainer(
        max_epochs=settings.max_epochs, accelerator=accelerator, devices=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[history, EarlyStopping("val_score", mode=score_direction(data.task)[:3],
                                          patience=settings.patience,
                                          check_on_train_epoch_end=False), *callbacks],
    )
    train = make_loader(train_set or SplitDataset(data, data.splits.train), config.batch_size,
                        shuffle=True, seed=seed)
    val = make_loader(val_set or SplitDataset(data, data.splits.val),
                      max(config.batch_size, 256), shuffle=False, seed=0)
    with warnings.catch_warnings(), keyboard_interrupts_survive_lightning(), \
            INTERRUPTS.interruptible():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        trainer.fit(system, train, val)
    return Fitted(system, history)


def measure_cost(net: RecurrentNet, history: EpochHistory, probe: Probe, *, train_size: int,
                 direction: str, first_latency: Latency | None = None) -> Cost:
    """What a trained candidate costs, measured on this machine the same way for both cells."""
    net.eval()
    single = first_latency or latency(net, probe, 1)
    batch = min(THROUGHPUT_BATCH, train_size)
    throughput = latency(net, probe, batch)
    epochs = history.epochs
    return Cost(
        parameters=count_parameters(net), recurrent_parameters=recurrent_parameters(net),
        size_bytes=size_bytes(net),
        train_seconds_per_epoch=float(np.mean([e["train_seconds"] for e in epochs])),
        epochs_trained=len(epochs), best_epoch=int(history.best(direction)["epoch"]),
        latency_ms_p50=single.p50_ms, latency_ms_p95=single.p95_ms,
        batch_latency_ms_p50=throughput.p50_ms,
        throughput_per_s=batch / (throughput.p50_ms / 1000.0), throughput_batch_size=batch,
        peak_memory_bytes=memory_of(net.train(), probe, net.config.batch_size),
        device=str(next(net.parameters()).device),
    )


@torch.inference_mode()
def evaluate(system: SequenceSystem, data: SequenceData, indices: np.ndarray) -> float:
    """The score on the sequences ``indices``, in the user's units (accuracy or RMSE)."""
    system.eval()
    device = next(system.parameters()).device
    loader = make_loader(SplitDataset(data, indices), 256, shuffle=False, seed=0)
    total, count = 0.0, 0
    for x, lengths, y in loader:
        out = system(x.to(device), lengths).cpu()
        if data.task == "classification":
            total += float((out.argmax(dim=1) == y).sum())
        else:
            total += squared_error_sum(out, y)
        count += len(y)
    return total / count if data.task == "classification" else math.sqrt(total / count)
