"""Training one candidate and measuring it: shared by the search trials and the final runs.

`fit` trains a `RecurrentNet` with Lightning (early stopping on the validation score, plus any
extra callbacks such as Optuna's pruning), `measure_cost` measures what the trained candidate
costs, and `evaluate` scores it on any split in the user's units.
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader

from selector.choices import Direction, sign
from selector.data.batching import LengthBucketSampler, SplitDataset, collate
from selector.data.dataset import SequenceData
from selector.interrupts import INTERRUPTS
from selector.records import Cost, ModelConfig, TrainingSettings
from selector.training import fast_gru
from selector.training.baselines import baselines, strongest
from selector.training.budget import Deadline, StopAtDeadline
from selector.training.cost import (
    THROUGHPUT_BATCH,
    Latency,
    Probe,
    latency,
    macs_per_step,
    recurrent_parameters,
    size_bytes,
)
from selector.training.cost import training_memory_bytes as memory_of
from selector.training.model import RecurrentNet, count_parameters
from selector.training.scaled import mase_outcomes, scored_by_mase
from selector.training.stopping import PlateauStopping, warmup_epochs
from selector.training.system import SequenceSystem, score_direction, score_name


class _Stopwatch:
    """Wall time since `start`, less the one-time work (`fast_gru.SETUP`) done meanwhile."""

    def __init__(self) -> None:
        self._wall = self._setup = 0.0

    def start(self) -> None:
        self._wall, self._setup = time.perf_counter(), fast_gru.SETUP.seconds

    def seconds(self) -> float:
        return (time.perf_counter() - self._wall) - (fast_gru.SETUP.seconds - self._setup)


class EpochHistory(Callback):
    """Per-epoch curves and times, read at the end of each validation.

    ``train_seconds`` is the training part of an epoch, ``val_seconds`` its validation; both
    leave out one-time work (the GRU kernel's load, shape timings). While it runs, the weights
    of the best epoch so far are kept in memory (`restore_best`), as a checkpoint would keep them.
    """

    def __init__(self, direction: Direction = "maximize") -> None:
        self.direction = direction
        self.epochs: list[dict[str, float]] = []
        self._clock = _Stopwatch()
        self._train_seconds = 0.0
        self._best_state: dict[str, torch.Tensor] | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._clock.start()

    def on_validation_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._train_seconds = self._clock.seconds()
        self._clock.start()

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        assert isinstance(module, SequenceSystem)
        val_seconds = self._clock.seconds()
        metrics = trainer.callback_metrics
        self.epochs.append({
            "epoch": len(self.epochs) + 1,
            "train_loss": module.epoch_train_loss,
            "val_loss": float(metrics["val_loss"]),
            "val_score": float(metrics["val_score"]),
            "train_seconds": self._train_seconds,
            "val_seconds": val_seconds,
        })
        if self.best(self.direction)["epoch"] == len(self.epochs):  # a new best: keep it
            self._best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}

    def best(self, direction: Direction | None = None) -> dict[str, float]:
        """The first epoch with the best validation score."""
        better = sign(direction or self.direction)
        return max(self.epochs, key=lambda e: (better * e["val_score"], -e["epoch"]))

    def time_to_best(self) -> float:
        """Seconds of whole epochs (training and validation) up to the best one."""
        best = int(self.best()["epoch"])
        return sum(e["train_seconds"] + e["val_seconds"] for e in self.epochs[:best])

    def restore_best(self, module: pl.LightningModule) -> None:
        """Load the best epoch's weights into ``module`` (the last epoch's are usually worse)."""
        if self._best_state is not None:
            module.load_state_dict(self._best_state)


def build_net(config: ModelConfig, data: SequenceData) -> RecurrentNet:
    return RecurrentNet(config, input_size=data.n_features, output_size=data.output_size,
                        vocabulary_size=data.vocabulary_size)


Loader = DataLoader[tuple[torch.Tensor, torch.Tensor]]  # batches of `collate`


def make_loader(dataset: SplitDataset, batch_size: int, *, shuffle: bool, seed: int) -> Loader:
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


@dataclass
class Fitted:
    """A trained candidate: the Lightning system (its ``net`` inside, holding the best
    epoch's weights), its epoch curves, and the one-time seconds its training did not count.
    ``learned``: its validation score beat the trivial ``baseline``'s (`selector.training.baselines`);
    ``cut``: a deadline, not early stopping or the epoch limit, ended it."""

    system: SequenceSystem
    history: EpochHistory
    setup_seconds: float = 0.0
    baseline: float = math.nan
    learned: bool = True
    cut: bool = False


@dataclass(frozen=True)
class KeptModel:
    """A search trial's trained model, kept in its process so that the final comparison can
    count it as a seed run instead of training it again."""

    trial: int
    fitted: Fitted


def _prepare(net: RecurrentNet, accelerator: str, train: Loader, val: Loader) -> None:
    """One-time work before any timer: load the GRU kernel, time the shapes of the first
    epoch's training batches and of the validation batches (see `fast_gru.FastPath`)."""
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    if not (on_cpu and isinstance(net.rnn, torch.nn.GRU) and fast_gru.enabled()
            and fast_gru.kernel() is not None):
        return
    width = net.rnn.input_size
    for loader, grad in ((train, True), (val, False)):
        sampler = loader.batch_sampler
        assert isinstance(sampler, LengthBucketSampler)
        replay = LengthBucketSampler(sampler.lengths, sampler.batch_size,
                                     shuffle=sampler.shuffle, seed=sampler.seed)
        shapes = {(len(b), int(sampler.lengths[b].max())) for b in replay}
        was_training = net.training
        net.train(grad)
        with torch.set_grad_enabled(grad), fast_gru.inference():
            for batch, length in sorted(shapes):
                x = torch.zeros(batch, length, width, requires_grad=grad and net.embedding
                                is not None)
                fast_gru.FAST_PATH.use(net.rnn, x)
        net.train(was_training)


def fit(net: RecurrentNet, data: SequenceData, settings: TrainingSettings, *, seed: int,
        accelerator: str, train_set: SplitDataset | None = None,
        val_set: SplitDataset | None = None, callbacks: Sequence[Callback] = (),
        history: EpochHistory | None = None, epochs: int | None = None,
        deadline: Deadline | None = None, stopping: PlateauStopping | None = None,
        limit_batches: int | None = None) -> Fitted:
    """Train ``net`` on the training split, stopping early on the validation score; the
    returned system holds the weights of the best validation epoch.

    Early stopping waits while the run has not beaten the trivial baseline on validation
    (`selector.training.stopping`; ``stopping`` may be given to share its state with a pruner).
    ``deadline`` ends training in time, keeping the best epoch so far.
    ``limit_batches``: an epoch is that many batches, drawn afresh each epoch (a chunk of a
    big training split, `selector.training.fidelity`).

    ``history`` may be given so that a caller can read the curves even if training is cut
    short by an exception (a pruned trial). With ``epochs``, train exactly that many epochs
    on ``train_set`` with no validation at all (a refit on train + validation): the history
    then has one entry, the whole run, with nothing held out to score it.
    """
    setup_before = fast_gru.SETUP.seconds
    config = net.config
    prep = data.preprocessing
    system = SequenceSystem(net, data.task, learning_rate=config.learning_rate,
                            weight_decay=config.weight_decay,
                            gradient_clip=settings.gradient_clip, target_mean=prep.target_mean,
                            target_std=prep.target_std)
    direction = score_direction(data.task)
    history = history or EpochHistory(direction)
    train_set = train_set or SplitDataset(data, data.splits.train)
    val_set = val_set or SplitDataset(data, data.splits.val)
    stopping = stopping or plateau_stopping(data, settings, train_set, val_set)
    clock_stop = [] if deadline is None else [StopAtDeadline(
        deadline, val_share=0.0 if epochs is not None else len(val_set) / len(train_set))]
    trainer = pl.Trainer(
        max_epochs=epochs or settings.max_epochs, accelerator=accelerator, devices=1,
        logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0,
        limit_val_batches=0 if epochs is not None else None,
        limit_train_batches=limit_batches,
        callbacks=[history, *([] if epochs is not None else [stopping]), *callbacks,
                   *clock_stop],
    )
    train = make_loader(train_set, config.batch_size, shuffle=True, seed=seed)
    val = make_loader(val_set, max(config.batch_size, 256), shuffle=False, seed=0)
    _prepare(net, accelerator, train, val)
    for stop in clock_stop:  # one-time work is no training: it does not eat the run's time
        stop.at += fast_gru.SETUP.seconds - setup_before
    clock = _Stopwatch()
    clock.start()
    with warnings.catch_warnings(), keyboard_interrupts_survive_lightning(), \
            INTERRUPTS.interruptible():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*but have no `val_dataloader`.*")  # a refit
        trainer.fit(system, train, val if epochs is None else None)
    if epochs is None:
        history.restore_best(system)
    else:
        history.epochs = [{"epoch": trainer.current_epoch, "train_loss": system.epoch_train_loss,
                           "val_loss": math.nan, "val_score": math.nan,
                           "train_seconds": clock.seconds(), "val_seconds": 0.0}]
    return Fitted(system, history, fast_gru.SETUP.seconds - setup_before,
                  baseline=stopping.baseline, learned=epochs is not None or stopping.learned,
                  cut=any(c.cut for c in clock_stop))


def plateau_stopping(data: SequenceData, settings: TrainingSettings, train_set: SplitDataset,
                     val_set: SplitDataset) -> PlateauStopping:
    """Early stopping for one run, against the trivial baseline's validation score."""
    direction = score_direction(data.task)
    baseline = strongest(baselines(data, val_set.indices, fit_on=train_set.indices), direction)
    return PlateauStopping(baseline=baseline.score, direction=direction,
                           patience=settings.patience, noise=baseline.noise,
                           warmup=warmup_epochs(settings.max_epochs, settings.patience))


def measure_cost(net: RecurrentNet, history: EpochHistory, probe: Probe, *, train_size: int,
                 direction: Direction, first_latency: Latency | None = None,
                 setup_seconds: float = 0.0) -> Cost:
    """What a trained candidate costs, measured on this machine the same way for both cells."""
    net.eval()
    single = first_latency or latency(net, probe, 1)
    batch = min(THROUGHPUT_BATCH, train_size)
    throughput = latency(net, probe, batch, repeats=20, seconds=2.0, min_repeats=3)
    epochs = history.epochs
    return Cost(
        parameters=count_parameters(net), recurrent_parameters=recurrent_parameters(net),
        macs_per_step=macs_per_step(net), size_bytes=size_bytes(net),
        train_seconds_per_epoch=float(np.mean([e["train_seconds"] for e in epochs])),
        epochs_trained=len(epochs), best_epoch=int(history.best(direction)["epoch"]),
        time_to_best_s=history.time_to_best(), setup_seconds=setup_seconds,
        latency_ms_p50=single.p50_ms, latency_ms_p95=single.p95_ms,
        batch_latency_ms_p50=throughput.p50_ms,
        throughput_per_s=batch / (throughput.p50_ms / 1000.0), throughput_batch_size=batch,
        peak_memory_bytes=memory_of(net.train(), probe, net.config.batch_size),
        device=str(next(net.parameters()).device),
    )


@torch.no_grad()
def model_outputs(system: SequenceSystem, data: SequenceData, indices: np.ndarray) -> np.ndarray:
    """The model's outputs for the sequences ``indices``, in their order: class logits, or
    predictions shaped and scaled as the targets."""
    system.eval()
    device = next(system.parameters()).device
    dataset = SplitDataset(data, indices)
    shape = (data.output_size,) if data.task == "classification" else data.targets.shape[1:]
    result = np.empty((len(dataset), *shape), dtype=np.float64)
    for positions in LengthBucketSampler(dataset.lengths, 256, shuffle=False):
        x, lengths, _ = collate([dataset[i] for i in positions])
        with fast_gru.inference():
            out = system(x.to(device), lengths).cpu().double()
        result[positions] = out.numpy().reshape((len(positions), *shape))
    return result


def compared_score(data: SequenceData) -> str:
    """The score the final comparison tests and the verdict decides on: MASE for a panel
    (`selector.training.scaled.scored_by_mase`), else the task's (accuracy or RMSE) that the
    search also optimises."""
    return "mase" if scored_by_mase(data) else score_name(data.task)


def outcomes(system: SequenceSystem, data: SequenceData, indices: np.ndarray,
             outputs: np.ndarray | None = None, *, score: str | None = None) -> np.ndarray:
    """Each sequence's outcome for ``score`` (default: the task's), in the order of
    ``indices``: 1/0 for a right/wrong class; the squared error (its mean over outputs) in the
    user's units for RMSE; each window's share of the MASE (`scaled.mase_outcomes`). The
    paired statistics of `selector.decision.rules` compare the two cells example by example
    on these. ``outputs``: the model's (`model_outputs`), when already computed."""
    out = model_outputs(system, data, indices) if outputs is None else outputs
    return outcomes_of(out, data, indices, score or score_name(data.task))


def outcomes_of(outputs: np.ndarray, data: SequenceData, indices: np.ndarray,
                score: str) -> np.ndarray:
    """`outcomes` of ``outputs`` (a model's, or a baseline's forecasts shaped and scaled as
    the targets of ``indices``)."""
    targets = data.targets[indices]
    if score == "mase":
        return mase_outcomes(outputs, data, indices)
    if data.task == "classification":
        return (outputs.argmax(axis=1) == targets).astype(np.float64)
    errors = (outputs - targets.astype(np.float64)) ** 2
    return errors.reshape(len(indices), -1).mean(axis=1)


def score_of(values: np.ndarray, score: str) -> float:
    """The score named ``score`` from its `outcomes`: their mean, or its root for RMSE."""
    mean = float(np.mean(values))
    return math.sqrt(mean) if score == "rmse" else mean


def evaluate(system: SequenceSystem, data: SequenceData, indices: np.ndarray) -> float:
    """The score on the sequences ``indices``, in the user's units (accuracy or RMSE)."""
    return score_of(outcomes(system, data, indices), score_name(data.task))
