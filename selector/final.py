"""The final comparison: each cell's best configuration retrained with k seeds, then tested.

Both cells get the same seeds and the same splits, so their test scores pair up seed by seed
and test example by test example. Besides the test outcomes and the costs of these runs,
three measurements feed the criteria: the handed-over models' batch-1 latency on both
runtimes, timed in interleaved rounds (G1, G5); both cells at one identical configuration
(G1's "equivalent" networks); and, for long sequences, both cells retrained with the same
seeds on only the last part of each sequence (L1). The result is stored on the study, so
`selector report` re-renders it without retraining. `refit` then trains the chosen
configuration on train + validation: the model that is handed over.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

import lightning.pytorch as pl
import numpy as np
import optuna
import torch

from selector.cost import (
    LATENCY_TIMINGS,
    Latency,
    forward_pass,
    interleaved_ms,
    median_ratio,
    training_step,
)
from selector.crossval import FOLDS, Run, plan
from selector.data.batching import SplitDataset
from selector.data.dataset import SequenceData
from selector.errors import SelectorError
from selector.export import onnx_forward
from selector.model import count_parameters
from selector.records import (
    CELLS,
    COMPARISON_VERSION,
    SHORT_SEQUENCE_STEPS,
    EqualConfigTiming,
    FinalCell,
    FinalComparison,
    LongRange,
    ModelConfig,
    Refit,
    RuntimeLatency,
    SeedRun,
    TrainingSettings,
)
from selector.study import best_by_cell, cell_of
from selector.system import NonFiniteLossError, score_direction, score_name
from selector.training import (
    Fitted,
    build_net,
    evaluate,
    fit,
    measure_cost,
    outcomes,
    probe_for,
    score_of,
)

FINAL_ATTR = "selector.final"
CONTEXT_SHARES = (0.25, 0.5)  # L1: the context models see the last 1/4 and 1/2 of each sequence
STEP_ROUNDS = 15  # interleaved training steps per cell at an equal configuration
Step = Callable[[str, int], None]  # before each training run: what it is, how many in all


@dataclass
class FinalModels:
    """The comparison and the trained models, per cell, in seed order."""

    comparison: FinalComparison
    models: dict[str, list[Fitted]]

    def best_model(self, cell: str) -> Fitted:
        """The cell's run with the best validation score: chosen without looking at the test."""
        return self.models[cell][_best_run(self.comparison, cell)]


def _best_run(final: FinalComparison, cell: str) -> int:
    runs = next(c.runs for c in final.cells if c.cell == cell)
    sign = 1 if final.direction == "maximize" else -1
    return max(range(len(runs)), key=lambda i: sign * runs[i].val_score)


def planned_runs(data: SequenceData, seeds: int, *, refit: bool = True) -> int:
    """How many training runs `compare` (and `refit`) make (for a progress bar)."""
    long_range = 0 if _is_short(data) else len(CELLS) * len(CONTEXT_SHARES) * seeds
    return len(CELLS) * len(plan(data, tuple(range(seeds)))) + long_range + int(refit)


def estimated_seconds(study: optuna.Study, data: SequenceData, seeds: int, *,
                      next_trial: bool = False) -> float | None:
    """How long `compare` and `refit` would take now: each cell's best trial's training time
    per run (the mean over all complete trials for a cell without one yet), the shorter runs
    of L1 in proportion to the steps they see, one refit, and a quarter on top for testing and
    measuring; with ``next_trial``, one typical trial more before it. None before any trial
    completed."""
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    seconds = {t.number: sum(e["train_seconds"] + e.get("val_seconds", 0.0)
                             for e in t.user_attrs.get("curves", [])) for t in trials}
    if not seconds:
        return None
    bests = best_by_cell(study, trials)
    typical = statistics.fmean(seconds.values())
    per_cell = [seconds[bests[c].number] if c in bests else typical for c in CELLS]
    # a run's time goes with its training sequences: cross-validation's folds train on less
    per_seed = sum(len(r.train) for r in plan(data, (0,))) / len(data.splits.train)
    long_range = 0.0 if _is_short(data) else sum(CONTEXT_SHARES)
    runs = seeds * sum(per_cell) * (per_seed + long_range) + max(per_cell)
    return 1.25 * (runs + (typical if next_trial else 0.0))


def _is_short(data: SequenceData) -> bool:
    return statistics.median(data.lengths.tolist()) < SHORT_SEQUENCE_STEPS


def compare(study: optuna.Study, data: SequenceData, settings: TrainingSettings, *,
            seeds: tuple[int, ...], accelerator: str = "auto", step: Step | None = None,
            refit: bool = False) -> FinalModels:
    """Retrain each cell's best configuration with every seed and test it; store the result.
    ``refit``: a refit follows (`refit`), counted in the progress ``step`` reports."""
    if len(seeds) < 2:
        raise SelectorError(f"the final comparison needs at least 2 seeds for an interval; got "
                            f"{len(seeds)}.")
    direction = score_direction(data.task)
    bests = best_by_cell(study)
    if not bests:
        raise SelectorError(f"study '{study.study_name}' has no complete trial to retrain: every "
                            "trial was pruned, rejected or failed. Run more trials, or loosen "
                            "the budgets.")
    total = planned_runs(data, len(seeds), refit=refit)

    def announce(label: str) -> None:
        if step:
            step(label, total)

    planned = plan(data, seeds)
    cells, models = [], {}
    for cell in CELLS:
        if cell not in bests:
            continue
        config = ModelConfig(**bests[cell].user_attrs["config"])
        runs, fitted = [], []
        for planned_run in planned:
            fold = "" if planned_run.fold is None else f" fold {planned_run.fold + 1}/{FOLDS}"
            announce(f"{cell.upper()} seed {planned_run.seed}{fold}")
            run, model = _run(config, data, settings, planned_run, accelerator)
            runs.append(run)
            fitted.append(model)
        search_values = [t.values[0] for t in study.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)) if cell_of(t) == cell]
        cells.append(FinalCell(cell=cell, trial=bests[cell].number, config=bests[cell].user_attrs[
            "config"], runs=tuple(runs), search_best_val=bests[cell].values[0],
            search_median_val=statistics.median(search_values)))
        models[cell] = fitted
    device = str(next(models[cells[0].cell][0].system.parameters()).device)
    setup = sum(m.setup_seconds for fitted in models.values() for m in fitted)
    long_range: tuple[LongRange, ...] = ()
    if not _is_short(data) and len(cells) == len(CELLS):
        long_range, more = _long_range(cells, planned, data, settings, accelerator, announce)
        setup += more
    first = planned[0]
    comparison = FinalComparison(
        score_name=score_name(data.task), direction=direction, seeds=tuple(seeds),
        cells=tuple(cells), equal_config=_equal_config(cells, data), long_range=long_range,
        device=device, setup_seconds=setup, method="seeds" if first.fold is None else "cv",
        test_train_ratio=0.0 if first.fold is None else len(first.held) / len(first.train))
    final = FinalModels(comparison, models)
    final.comparison = replace(comparison, latency=_latency(final, data))
    study.set_user_attr(FINAL_ATTR, final.comparison.to_dict())
    return final


def stored_comparison(study: optuna.Study) -> FinalComparison | None:
    """The study's final comparison, or None before any; one stored by an older selector,
    whose evidence the decision can no longer read, is refused with what to do."""
    stored = study.user_attrs.get(FINAL_ATTR)
    if not stored:
        return None
    version = stored.get("version", 1)
    if version != COMPARISON_VERSION:
        raise SelectorError(
            f"study '{study.study_name}' holds a final comparison of version {version}, written "
            f"by another selector; this one reads version {COMPARISON_VERSION} (per-example test "
            "outcomes, interleaved latency, both cells' L1 runs). Run 'selector recommend' on "
            "the study again: its search trials are kept, only the final runs are redone.")
    return FinalComparison.from_dict(stored)


def _run(config: ModelConfig, data: SequenceData, settings: TrainingSettings, planned: Run,
         accelerator: str) -> tuple[SeedRun, Fitted]:
    direction = score_direction(data.task)
    seed = planned.seed
    pl.seed_everything(seed, workers=False, verbose=False)
    try:
        fitted = fit(build_net(config, data), data, settings, seed=seed, accelerator=accelerator,
                     train_set=SplitDataset(data, planned.train),
                     val_set=SplitDataset(data, planned.val))
    except NonFiniteLossError as exc:
        raise SelectorError(f"the final {config.cell.upper()} run with seed {seed} diverged "
                            f"({exc}); its search trials did not. Try other --seeds or a search "
                            "space with lower learning rates.") from None
    net = fitted.system.net
    cost = measure_cost(net, fitted.history, probe_for(data), train_size=len(planned.train),
                        direction=direction, setup_seconds=fitted.setup_seconds)
    scored = outcomes(fitted.system, data, planned.held)
    run = SeedRun(seed=seed, test_score=score_of(scored, data.task),
                  val_score=fitted.history.best()["val_score"],
                  train_seconds=sum(e["train_seconds"] + e["val_seconds"]
                                    for e in fitted.history.epochs),
                  cost=cost, outcomes=tuple(float(v) for v in scored), fold=planned.fold)
    return run, fitted


def _latency(final: FinalModels, data: SequenceData) -> tuple[RuntimeLatency, ...]:
    """Batch-1 latency of each cell's handed-over-candidate model, both cells timed in turn,
    on eager PyTorch and (on CPU) on ONNX Runtime, which runs the exported model."""
    if len(final.models) < len(CELLS):
        return ()
    probe = probe_for(data)
    systems = {cell: final.best_model(cell).system for cell in CELLS}
    runtimes = {"eager": {c: forward_pass(s.net, probe, 1) for c, s in systems.items()}}
    if final.comparison.device.startswith("cpu"):
        runtimes["onnx"] = {c: onnx_forward(s, data, probe, 1) for c, s in systems.items()}
    measured = []
    for runtime, runs in runtimes.items():
        times = interleaved_ms(runs, LATENCY_TIMINGS)
        summary = {cell: Latency.of(t) for cell, t in times.items()}
        measured.append(RuntimeLatency(
            runtime=runtime, timings=LATENCY_TIMINGS,
            p50_ms={c: s.p50_ms for c, s in summary.items()},
            p95_ms={c: s.p95_ms for c, s in summary.items()},
            ratio=median_ratio(times["lstm"], times["gru"])))
    for system in systems.values():
        system.train(False)
    return tuple(measured)


def _equal_config(cells: list[FinalCell], data: SequenceData) -> tuple[EqualConfigTiming, ...]:
    """Both cells at each best configuration, so speed is compared between equal networks:
    training steps and batch-1 inference, the two cells timed in turn each round."""
    probe = probe_for(data)
    configs = []
    for final in cells:
        config = {**final.config, "cell": "gru"}
        if config not in configs:
            configs.append(config)
    timings = []
    for config in configs:
        nets = {}
        for cell in CELLS:
            torch.manual_seed(0)
            nets[cell] = build_net(ModelConfig(**{**config, "cell": cell}), data)
        params = {cell: count_parameters(net) for cell, net in nets.items()}
        infer = interleaved_ms({c: forward_pass(n, probe, 1) for c, n in nets.items()},
                               LATENCY_TIMINGS)
        steps = interleaved_ms({c: training_step(n, probe, config["batch_size"])
                                for c, n in nets.items()}, STEP_ROUNDS, warmup=2)
        timings.append(EqualConfigTiming(
            config={k: v for k, v in config.items() if k != "cell"},
            train_step_ms={c: float(np.median(t)) for c, t in steps.items()},
            latency_ms={c: float(np.median(t)) for c, t in infer.items()}, parameters=params,
            train_step_ratio=median_ratio(steps["lstm"], steps["gru"]),
            latency_ratio=median_ratio(infer["lstm"], infer["gru"])))
    return tuple(timings)


def _long_range(cells: list[FinalCell], planned: list[Run], data: SequenceData,
                settings: TrainingSettings, accelerator: str, announce: Callable[[str], None]
                ) -> tuple[tuple[LongRange, ...], float]:
    """Both cells, every seed, retrained on the last part of each sequence only and scored
    so, on the same sequences as the seed's first run; and the one-time seconds of those runs."""
    median_steps = int(statistics.median(data.lengths.tolist()))
    firsts: dict[int, int] = {}  # seed -> its first run
    for index, run in enumerate(planned):
        firsts.setdefault(run.seed, index)
    measured, setup = [], 0.0
    for share in CONTEXT_SHARES:
        context = max(1, int(median_steps * share))
        cut = replace(data, sequences=[s[-context:] for s in data.sequences])
        for final in cells:
            for index in firsts.values():
                full = final.runs[index]
                announce(f"{final.cell.upper()} seed {full.seed} on the last {context} steps (L1)")
                run, fitted = _run(ModelConfig(**final.config), cut, settings, planned[index],
                                   accelerator)
                setup += fitted.setup_seconds
                measured.append(LongRange(
                    cell=final.cell, seed=full.seed, share=share, median_steps=median_steps,
                    context_steps=context, full_score=full.test_score,
                    context_score=run.test_score))
    return tuple(measured), setup


def refit(study: optuna.Study, final: FinalModels, cell: str, data: SequenceData,
          settings: TrainingSettings, *, accelerator: str = "auto") -> Fitted:
    """Train ``cell``'s configuration on train + validation for the median of its final runs'
    best epochs, with the seed of its best-validation run; score it once on the test split.

    Returns the model to hand over; its record is added to the stored comparison.
    """
    comparison = final.comparison
    chosen = next(c for c in comparison.cells if c.cell == cell)
    epochs = max(1, round(statistics.median(r.cost.best_epoch for r in chosen.runs)))
    seed = chosen.runs[_best_run(comparison, cell)].seed
    pl.seed_everything(seed, workers=False, verbose=False)
    both = np.concatenate([data.splits.train, data.splits.val])
    try:
        fitted = fit(build_net(ModelConfig(**chosen.config), data), data, settings, seed=seed,
                     accelerator=accelerator, train_set=SplitDataset(data, both), epochs=epochs)
    except NonFiniteLossError as exc:
        raise SelectorError(f"the refit of {cell.upper()} on train + validation diverged ({exc}); "
                            "hand over the best seed's model instead with --no-refit.") from None
    record = Refit(cell=cell, seed=seed, epochs=epochs,
                   train_seconds=fitted.history.epochs[0]["train_seconds"],
                   test_score=evaluate(fitted.system, data, data.splits.test))
    final.comparison = replace(comparison, refit=record,
                               setup_seconds=comparison.setup_seconds + fitted.setup_seconds)
    study.set_user_attr(FINAL_ATTR, final.comparison.to_dict())
    return fitted
