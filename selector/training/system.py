"""The training system: loss, metrics and optimiser around a `RecurrentNet` (Lightning).

Numeric targets are learnt in standard units (training-split mean and std) and scored in the
user's units. The validation score is accuracy for classification (higher is better) and RMSE
for regression and forecasting (lower is better).
"""

from __future__ import annotations

import math

import lightning.pytorch as pl
import torch
from torch import nn
from torch.nn import functional as F

from selector.choices import Direction, Task
from selector.data.batching import Batch
from selector.training import fast_gru
from selector.training.model import RecurrentNet


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite: the trial fails with this reason."""


def score_direction(task: Task) -> Direction:
    return "maximize" if task == "classification" else "minimize"


def score_name(task: Task) -> str:
    return "accuracy" if task == "classification" else "rmse"


def squared_error_sum(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """Sum over sequences of each sequence's mean squared error (over its outputs, if many).

    Summed per sequence, so that batches of any size add up to an exact RMSE.
    """
    errors = (prediction.reshape(target.shape) - target) ** 2
    return float(errors.reshape(len(target), -1).mean(dim=1).sum())


class SequenceSystem(pl.LightningModule):
    """Trains ``net`` for ``task``; logs val_loss and val_score every epoch.

    The optimisation step is written out (Lightning's manual optimisation): zero the gradients,
    backward, clip their norm to ``gradient_clip``, step. Lightning's automatic loop does the
    same through a closure and a dozen hooks per step, which measured 0.5 ms a step here.
    """

    target_mean: torch.Tensor  # buffers: saved and moved with the weights
    target_std: torch.Tensor

    def __init__(self, net: RecurrentNet, task: Task, *, learning_rate: float, weight_decay: float,
                 gradient_clip: float = 0.0, target_mean: tuple[float, ...] = (),
                 target_std: tuple[float, ...] = ()) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.net = net
        self.task = task
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.gradient_clip = gradient_clip
        self.register_buffer("target_mean", torch.tensor(target_mean or (0.0,)))
        self.register_buffer("target_std", torch.tensor(target_std or (1.0,)))
        self._val_sums = torch.zeros(3, dtype=torch.float64)  # loss sum, score sum, count
        self._train_sums = [0.0, 0]  # loss sum, count

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Predictions in the user's units (class logits for classification)."""
        out = self.net(x, lengths)
        if self.task == "classification":
            return out
        return self._unscale(out)

    def _unscale(self, out: torch.Tensor) -> torch.Tensor:
        if self.task == "forecasting":  # (batch, horizon * outputs) -> (batch, horizon, outputs)
            out = out.view(out.shape[0], -1, self.target_mean.numel())
        else:
            out = out.squeeze(-1)
        return out * self.target_std + self.target_mean

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.task == "classification":
            return F.cross_entropy(out, y)
        scaled = (y - self.target_mean) / self.target_std
        return F.mse_loss(out.reshape(scaled.shape), scaled)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        x, lengths, y = batch
        optimizer = self.optimizers(use_pl_optimizer=False)
        assert isinstance(optimizer, torch.optim.Optimizer)  # configure_optimizers returns one
        optimizer.zero_grad()
        loss = self._loss(self.net(x, lengths), y)
        value = loss.item()
        if not math.isfinite(value):
            raise NonFiniteLossError(f"training loss became {value} at epoch "
                                     f"{self.current_epoch + 1}, batch {batch_idx + 1}")
        loss.backward()
        if self.gradient_clip:
            nn.utils.clip_grad_norm_(self.parameters(), self.gradient_clip)
        optimizer.step()
        self._train_sums[0] += value * len(y)
        self._train_sums[1] += len(y)
        return loss.detach()

    def on_train_epoch_start(self) -> None:
        self._train_sums = [0.0, 0]

    @property
    def epoch_train_loss(self) -> float:
        """Mean training loss of the current epoch so far."""
        total, count = self._train_sums
        return total / max(count, 1)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        x, lengths, y = batch
        with fast_gru.inference():
            out = self.net(x, lengths)
        loss = self._loss(out, y).item()
        if self.task == "classification":
            score = (out.argmax(dim=1) == y).sum().item()
        else:
            score = squared_error_sum(self._unscale(out), y)
        self._val_sums += torch.tensor([loss * len(y), score, len(y)], dtype=torch.float64)

    def on_validation_epoch_end(self) -> None:
        loss, score, count = self._val_sums.tolist()
        count = max(count, 1.0)
        value = score / count if self.task == "classification" else math.sqrt(score / count)
        self.log("val_loss", loss / count)
        self.log("val_score", value)
        self._val_sums.zero_()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.learning_rate,
                                 weight_decay=self.weight_decay)
