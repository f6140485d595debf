"""One trial: sample a configuration, reject it early if it breaks a budget, train, measure.

Everything a trial learns is stored on the Optuna trial (user attributes), so the study storage
stays the single source of truth: the configuration, per-epoch curves, cost, and the state
reason (rejected before training, pruned at epoch k, failed with a reason).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import NoReturn

import lightning.pytorch as pl
import optuna
import torch
from lightning.pytorch.callbacks import Callback

from selector.choices import Cell, sign
from selector.data.batching import SplitDataset
from selector.data.dataset import SequenceData
from selector.errors import first_line, param
from selector.records import Budgets
from selector.search.costing import TrialCosting
from selector.search.space import SearchSpace
from selector.search.state import record_trial, trial_attrs
from selector.training import fast_gru
from selector.training.budget import Deadline
from selector.training.cost import Latency, latency
from selector.training.fidelity import Fidelity
from selector.training.fitting import (
    EpochHistory,
    Fitted,
    KeptModel,
    build_net,
    fit,
    measure_cost,
    plateau_stopping,
    probe_for,
)
from selector.training.model import RecurrentNet, count_parameters
from selector.training.stopping import WarmPruning
from selector.training.system import NonFiniteLossError, score_direction


class _StoreCurves(Callback):
    """Stores a trial's curves as each epoch ends: the pruner reads its seconds from them."""

    def __init__(self, trial: optuna.Trial, history: EpochHistory) -> None:
        self.trial = trial
        self.history = history

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            record_trial(self.trial, curves=tuple(self.history.epochs))


class TrialFailed(Exception):
    """A trial that cannot finish (NaN loss, out of memory): the study records it and goes on."""


class Objective:
    """Callable for `optuna.Study.optimize`: trains one candidate and returns its score.

    With ``multi_objective`` it returns (validation score, batch-1 latency in ms).
    ``deadline`` (a function of the cell giving a `Deadline`, or None) ends each
    trial's training in time, and ``costing`` rejects untrained a candidate (or twin) that
    could not reach its first pruning check in the time a trial may train. With
    ``reusable``, a trial that becomes its cell's best keeps its model in ``kept``: the
    final comparison tests it and counts it as one seed run instead of training it again
    (the search never looks at the test split). ``fidelity`` says how trials read big data
    (chunks, a validation sample: `selector.training.fidelity`). ``rung_unit``: the study
    prunes on seconds trained, in this unit (`selector.search.pruning`); each trial records it.
    """

    def __init__(self, data: SequenceData, space: SearchSpace, *, budgets: Budgets,
                 seed: int = 0, multi_objective: bool = False,
                 accelerator: str = "cpu", invocation: str = "",
                 deadline: Callable[[str], Deadline | None] | None = None,
                 reusable: bool = False, fidelity: Fidelity | None = None,
                 costing: TrialCosting | None = None, rung_unit: float | None = None) -> None:
        self.data = data
        self.space = space
        self.budgets = budgets
        self.seed = seed
        self.multi_objective = multi_objective
        self.accelerator = accelerator
        self.invocation = invocation  # which search ran the trial (tracking logs its own)
        self.direction = score_direction(data.task)
        self.fidelity = fidelity or Fidelity(chunk=None, val=data.splits.val)
        self.train_set = SplitDataset(data, data.splits.train)
        self.val_set = SplitDataset(data, self.fidelity.val)
        self.probe = probe_for(data)
        self.deadline = deadline
        self.reusable = reusable
        self.costing = costing
        self.rung_unit = rung_unit
        self.kept: dict[Cell, KeptModel] = {}  # each cell's best trial and its model

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        record_trial(trial, invocation=self.invocation)
        if self.rung_unit is not None:
            record_trial(trial, rung_unit_seconds=self.rung_unit)
        config = self.space.suggest(trial, text=self.data.is_text,
                                    lookbacks=self.data.lookbacks)
        record_trial(trial, cell=config.cell, config=asdict(config))
        pl.seed_everything(self.seed + trial.number, workers=False, verbose=False)
        net = build_net(config, self.data)
        first, fidelity = self._precheck(trial, net)
        try:
            fitted = self._train(trial, net, fidelity)
        except NonFiniteLossError as exc:
            self._fail(trial, f"non-finite loss: {exc}")
        except (torch.OutOfMemoryError, MemoryError) as exc:
            self._fail(trial, f"out of memory: {first_line(exc, 200)}")
        cost = measure_cost(fitted.system.net, fitted.history, self.probe,
                            train_size=len(self.train_set), direction=self.direction,
                            first_latency=first, setup_seconds=fitted.setup_seconds)
        epochs = f"{len(fitted.history.epochs)} epochs" + (
            "" if fidelity.chunk is None else f" of {fidelity.chunk:,} sequences")
        record_trial(trial, cost=cost.to_dict(), learned=fitted.learned, baseline=fitted.baseline,
                     cut=fitted.cut, state_reason=f"complete after {epochs}" + (
                         " (cut by the time budget)" if fitted.cut else "") + (
                         "" if fitted.learned else ", never beat the trivial baseline"))
        best = fitted.history.best(self.direction)
        if self.reusable and self._cell_best(trial, config.cell, best["val_score"]):
            self.kept[config.cell] = KeptModel(trial.number, fitted)
        if self.multi_objective:
            return best["val_score"], cost.latency_ms_p50
        return best["val_score"]

    def _precheck(self, trial: optuna.Trial, net: RecurrentNet) -> tuple[Latency, Fidelity]:
        """Costs known before training, and how the candidate reads the data; a candidate
        over budget is rejected here, untrained (one too slow for the time budget before its
        latency is measured)."""
        fidelity = self.fidelity
        if self.costing is not None:
            price = self.costing.price(trial.study, net, twin=trial_attrs(trial).twin_of is None)
            record_trial(trial, probe_epoch_seconds=price.probed)
            if price.rejected:
                self._reject(trial, [price.rejected])
            if price.chunk is not None:
                fidelity = fidelity.reading(price.chunk, len(self.train_set))
        record_trial(trial, epoch_sequences=fidelity.chunk or len(self.train_set))
        params = count_parameters(net)
        first = latency(net, self.probe, 1)
        record_trial(trial, parameters=params, latency_ms_p50=first.p50_ms)
        reasons = []
        if self.budgets.max_params is not None and params > self.budgets.max_params:
            reasons.append(f"{params:,} parameters > "
                           f"{param('max_params', self.budgets.max_params)}")
        if self.budgets.max_latency_ms is not None and first.p50_ms > self.budgets.max_latency_ms:
            reasons.append(f"latency {first.p50_ms:.2f} ms > "
                           f"{param('max_latency_ms', self.budgets.max_latency_ms)}")
        if reasons:
            self._reject(trial, reasons)
        return first, fidelity

    @staticmethod
    def _reject(trial: optuna.Trial, reasons: list[str]) -> NoReturn:
        reason = "rejected before training: " + "; ".join(reasons)
        record_trial(trial, state_reason=reason, rejected=True)
        raise optuna.TrialPruned(reason)

    def _cell_best(self, trial: optuna.Trial, cell: str, score: float) -> bool:
        """Whether ``score`` beats every complete trial of ``cell`` so far."""
        better = sign(self.direction)
        done = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        return all(better * score > better * t.values[0] for t in done
                   if trial_attrs(t).cell == cell)

    def _train(self, trial: optuna.Trial, net: RecurrentNet, fidelity: Fidelity) -> Fitted:
        history = EpochHistory(self.direction)
        setup = fast_gru.SETUP.seconds
        settings = fidelity.settings(self.space.training)
        stopping = plateau_stopping(self.data, settings, self.train_set, self.val_set)
        # (Optuna cannot prune multi-objective trials)
        callbacks: list[Callback] = [] if self.multi_objective else [
            _StoreCurves(trial, history), WarmPruning(trial, stopping)]
        seed = self.seed + trial.number
        record_trial(trial, seed=seed)
        deadline = None if self.deadline is None else self.deadline(net.config.cell)
        try:
            return fit(net, self.data, settings, seed=seed, accelerator=self.accelerator,
                       train_set=self.train_set, val_set=self.val_set, callbacks=callbacks,
                       history=history, stopping=stopping, deadline=deadline,
                       limit_batches=fidelity.limit_batches(net.config.batch_size))
        except optuna.TrialPruned:
            epoch = len(history.epochs)
            record_trial(trial, state_reason=f"pruned at epoch {epoch}", pruned_epoch=epoch)
            raise
        finally:
            # one-time work (the GRU kernel's load, shape timings): in no epoch's time
            record_trial(trial, curves=tuple(history.epochs),
                         setup_seconds=fast_gru.SETUP.seconds - setup)

    @staticmethod
    def _fail(trial: optuna.Trial, reason: str) -> None:
        record_trial(trial, state_reason=f"failed: {reason}")
        raise TrialFailed(reason)
