"""One trial: sample a configuration, reject it early if it breaks a budget, train, measure.

Everything a trial learns is stored on the Optuna trial (user attributes), so the study storage
stays the single source of truth: the configuration, per-epoch curves, cost, and the state
reason (rejected before training, pruned at epoch k, failed with a reason).
"""

from __future__ import annotations

import contextlib
import signal
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import lightning.pytorch as pl
import numpy as np
import optuna
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping
from optuna_integration import PyTorchLightningPruningCallback
from torch.utils.data import DataLoader

from selector.cost import THROUGHPUT_BATCH, Probe, latency, recurrent_parameters, size_bytes
from selector.cost import training_memory_bytes as memory_of
from selector.data.batching import LengthBucketSampler, SplitDataset, collate
from selector.data.dataset import SequenceData
from selector.model import RecurrentNet, count_parameters
from selector.records import Cost, ModelConfig, TrainingSettings
from selector.space import SearchSpace
from selector.system import NonFiniteLossError, SequenceSystem, score_direction


@dataclass(frozen=True)
class Budgets:
    """Hard limits applied to every candidate; None means no limit."""

    max_params: int | None = None
    max_latency_ms: float | None = None


class TrialFailed(Exception):
    """A trial that cannot finish (NaN loss, out of memory): the study records it and goes on."""


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


def build_net(config: ModelConfig, data: SequenceData) -> RecurrentNet:
    return RecurrentNet(config, input_size=data.n_features, output_size=data.output_size,
                        vocabulary_size=data.vocabulary_size)


def make_loader(dataset: SplitDataset, batch_size: int, *, shuffle: bool, seed: int) -> DataLoader:
    sampler = LengthBucketSampler(dataset.lengths, batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)


@contextlib.contextmanager
def _keyboard_interrupts_survive_lightning() -> Iterator[None]:
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


class Objective:
    """Callable for `optuna.Study.optimize`: trains one candidate and returns its score.

    With ``multi_objective`` it returns (validation score, batch-1 latency in ms).
    """

    def __init__(self, data: SequenceData, space: SearchSpace, *, budgets: Budgets,
                 seed: int = 0, multi_objective: bool = False,
                 accelerator: str = "cpu", invocation: str = "") -> None:
        self.data = data
        self.space = space
        self.settings: TrainingSettings = space.training
        self.budgets = budgets
        self.seed = seed
        self.multi_objective = multi_objective
        self.accelerator = accelerator
        self.invocation = invocation  # which search ran the trial (tracking logs its own)
        self.direction = score_direction(data.task)
        self.train_set = SplitDataset(data, data.splits.train)
        self.val_set = SplitDataset(data, data.splits.val)
        self.probe = Probe(length=int(np.median(data.lengths)), n_features=data.n_features,
                           vocabulary_size=data.vocabulary_size)

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        trial.set_user_attr("invocation", self.invocation)
        config = self.space.suggest(trial, text=self.data.is_text)
        trial.set_user_attr("cell", config.cell)
        trial.set_user_attr("config", asdict(config))
        pl.seed_everything(self.seed + trial.number, workers=False, verbose=False)
        net = build_net(config, self.data)
        pre = self._precheck(trial, net)
        try:
            history, system = self._train(trial, config, net)
        except NonFiniteLossError as exc:
            self._fail(trial, f"non-finite loss: {exc}")
        except (torch.OutOfMemoryError, MemoryError) as exc:
            self._fail(trial, f"out of memory: {str(exc).splitlines()[0][:200]}")
        cost = self._cost(system.net, history, pre)
        trial.set_user_attr("cost", cost.to_dict())
        trial.set_user_attr("state_reason", f"complete after {len(history.epochs)} epochs")
        best = self._best(history.epochs)
        if self.multi_objective:
            return best["val_score"], cost.latency_ms_p50
        return best["val_score"]

    def _precheck(self, trial: optuna.Trial, net: RecurrentNet) -> dict[str, Any]:
        """Costs known before training; a candidate over budget is rejected here, untrained."""
        params = count_parameters(net)
        first = latency(net, self.probe, 1)
        trial.set_user_attr("parameters", params)
        trial.set_user_attr("latency_ms_p50", first.p50_ms)
        reasons = []
        if self.budgets.max_params is not None and params > self.budgets.max_params:
            reasons.append(f"{params:,} parameters > --max-params {self.budgets.max_params:,}")
        if self.budgets.max_latency_ms is not None and first.p50_ms > self.budgets.max_latency_ms:
            reasons.append(f"latency {first.p50_ms:.2f} ms > --max-latency-ms "
                           f"{self.budgets.max_latency_ms:g}")
        if reasons:
            reason = "rejected before training: " + "; ".join(reasons)
            trial.set_user_attr("state_reason", reason)
            trial.set_user_attr("rejected", True)
            raise optuna.TrialPruned(reason)
        return {"parameters": params, "latency": first}

    def _train(self, trial: optuna.Trial, config: ModelConfig,
               net: RecurrentNet) -> tuple[EpochHistory, SequenceSystem]:
        prep = self.data.preprocessing
        system = SequenceSystem(net, self.data.task, learning_rate=config.learning_rate,
                                weight_decay=config.weight_decay, target_mean=prep.target_mean,
                                target_std=prep.target_std)
        history = EpochHistory()
        callbacks: list[Callback] = [
            history,
            EarlyStopping("val_score", mode=self.direction[:3], patience=self.settings.patience,
                          check_on_train_epoch_end=False),
        ]
        if not self.multi_objective:  # Optuna cannot prune multi-objective trials
            callbacks.append(PyTorchLightningPruningCallback(trial, monitor="val_score"))
        trainer = pl.Trainer(
            max_epochs=self.settings.max_epochs, accelerator=self.accelerator, devices=1,
            logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, num_sanity_val_steps=0,
            gradient_clip_val=self.settings.gradient_clip, callbacks=callbacks,
        )
        train = make_loader(self.train_set, config.batch_size, shuffle=True,
                            seed=self.seed + trial.number)
        val = make_loader(self.val_set, max(config.batch_size, 256), shuffle=False, seed=0)
        try:
            with warnings.catch_warnings(), _keyboard_interrupts_survive_lightning():
                warnings.filterwarnings("ignore", ".*does not have many workers.*")
                trainer.fit(system, train, val)
        except optuna.TrialPruned:
            epoch = len(history.epochs)
            trial.set_user_attr("state_reason", f"pruned at epoch {epoch}")
            trial.set_user_attr("pruned_epoch", epoch)
            raise
        finally:
            trial.set_user_attr("curves", history.epochs)
        return history, system

    def _best(self, epochs: list[dict[str, float]]) -> dict[str, float]:
        pick = max if self.direction == "maximize" else min
        return pick(epochs, key=lambda e: e["val_score"])

    def _cost(self, net: RecurrentNet, history: EpochHistory, pre: dict[str, Any]) -> Cost:
        net.eval()
        batch = min(THROUGHPUT_BATCH, len(self.train_set))
        throughput = latency(net, self.probe, batch)
        epochs = history.epochs
        return Cost(
            parameters=pre["parameters"], recurrent_parameters=recurrent_parameters(net),
            size_bytes=size_bytes(net),
            train_seconds_per_epoch=float(np.mean([e["train_seconds"] for e in epochs])),
            epochs_trained=len(epochs), best_epoch=int(self._best(epochs)["epoch"]),
            latency_ms_p50=pre["latency"].p50_ms, latency_ms_p95=pre["latency"].p95_ms,
            batch_latency_ms_p50=throughput.p50_ms,
            throughput_per_s=batch / (throughput.p50_ms / 1000.0),
            throughput_batch_size=batch,
            peak_memory_bytes=memory_of(net.train(), self.probe, net.config.batch_size),
            device=str(next(net.parameters()).device),
        )

    @staticmethod
    def _fail(trial: optuna.Trial, reason: str) -> None:
        trial.set_user_attr("state_reason", f"failed: {reason}")
        raise TrialFailed(reason)
