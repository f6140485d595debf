"""The final comparison: each cell's best configuration retrained with k seeds, then tested.

Both cells get the same seeds and the same splits, so their test scores pair up seed by seed.
Besides the test scores and the costs of these runs, two measurements feed the criteria:
both cells at one identical configuration (G1's "equivalent" networks) and, for long
sequences, the score of a model that sees only the last part of each sequence (L1).
The result is stored on the study, so `selector report` re-renders it without retraining.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

import lightning.pytorch as pl
import optuna
import torch

from selector.cost import latency, train_step_ms
from selector.data.dataset import SequenceData
from selector.errors import SelectorError
from selector.model import count_parameters
from selector.records import (
    CELLS,
    SHORT_SEQUENCE_STEPS,
    EqualConfigTiming,
    FinalCell,
    FinalComparison,
    LongRange,
    ModelConfig,
    SeedRun,
    TrainingSettings,
)
from selector.study import best_by_cell, cell_of
from selector.system import NonFiniteLossError, score_direction, score_name
from selector.training import Fitted, build_net, evaluate, fit, measure_cost, probe_for

FINAL_ATTR = "selector.final"
CONTEXT_SHARE = 4  # L1: the context model sees the last 1/CONTEXT_SHARE of each sequence
Step = Callable[[str, int], None]  # before each training run: what it is, how many in all


@dataclass
class FinalModels:
    """The comparison and the trained models, per cell, in seed order."""

    comparison: FinalComparison
    models: dict[str, list[Fitted]]

    def best_model(self, cell: str) -> Fitted:
        """The cell's run with the best validation score: chosen without looking at the test."""
        runs = self.comparison.cells[[c.cell for c in self.comparison.cells].index(cell)].runs
        sign = 1 if self.comparison.direction == "maximize" else -1
        index = max(range(len(runs)), key=lambda i: sign * runs[i].val_score)
        return self.models[cell][index]


def planned_runs(data: SequenceData, seeds: int) -> int:
    """How many training runs `compare` makes (for a progress bar)."""
    return len(CELLS) * seeds + (0 if _is_short(data) else 1)


def estimated_seconds(study: optuna.Study, data: SequenceData, seeds: int, *,
                      next_trial: bool = False) -> float | None:
    """How long `compare` would take now: each cell's best trial's training time per run
    (the mean over all complete trials for a cell without one yet), a quarter on top for
    testing and measuring; with ``next_trial``, one typical trial more before it. None before
    any trial completed."""
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    seconds = {t.number: sum(e["train_seconds"] for e in t.user_attrs.get("curves", []))
               for t in trials}
    if not seconds:
        return None
    bests = best_by_cell(study, trials)
    typical = statistics.fmean(seconds.values())
    per_seed = sum(seconds[bests[c].number] if c in bests else typical for c in CELLS)
    runs = seeds * per_seed + (0 if _is_short(data) else max(seconds.values()))
    return 1.25 * (runs + (typical if next_trial else 0.0))


def _is_short(data: SequenceData) -> bool:
    return statistics.median(data.lengths.tolist()) < SHORT_SEQUENCE_STEPS


def compare(study: optuna.Study, data: SequenceData, settings: TrainingSettings, *,
            seeds: tuple[int, ...], accelerator: str = "auto", step: Step | None = None
            ) -> FinalModels:
    """Retrain each cell's best configuration with every seed and test it; store the result."""
    direction = score_direction(data.task)
    bests = best_by_cell(study)
    if not bests:
        raise SelectorError(f"study '{study.study_name}' has no complete trial to retrain: every "
                            "trial was pruned, rejected or failed. Run more trials, or loosen "
                            "the budgets.")
    total = planned_runs(data, len(seeds))

    def announce(label: str) -> None:
        if step:
            step(label, total)

    cells, models = [], {}
    for cell in CELLS:
        if cell not in bests:
            continue
        config = ModelConfig(**bests[cell].user_attrs["config"])
        runs, fitted = [], []
        for seed in seeds:
            announce(f"{cell.upper()} seed {seed}")
            run, model = _run(config, data, settings, seed, accelerator, direction)
            runs.append(run)
            fitted.append(model)
        search_values = [t.values[0] for t in study.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)) if cell_of(t) == cell]
        cells.append(FinalCell(cell=cell, trial=bests[cell].number, config=bests[cell].user_attrs[
            "config"], runs=tuple(runs), search_best_val=bests[cell].values[0],
            search_median_val=statistics.median(search_values)))
        models[cell] = fitted
    device = str(next(models[cells[0].cell][0].system.parameters()).device)
    comparison = FinalComparison(
        score_name=score_name(data.task), direction=direction, seeds=tuple(seeds),
        cells=tuple(cells), equal_config=_equal_config(cells, data), device=device,
        long_range=None if _is_short(data) else _long_range(cells, data, settings, seeds[0],
                                                              accelerator, direction, announce))
    study.set_user_attr(FINAL_ATTR, comparison.to_dict())
    return FinalModels(comparison, models)


def stored_comparison(study: optuna.Study) -> FinalComparison | None:
    stored = study.user_attrs.get(FINAL_ATTR)
    return FinalComparison.from_dict(stored) if stored else None


def _run(config: ModelConfig, data: SequenceData, settings: TrainingSettings, seed: int,
         accelerator: str, direction: str) -> tuple[SeedRun, Fitted]:
    pl.seed_everything(seed, workers=False, verbose=False)
    try:
        fitted = fit(build_net(config, data), data, settings, seed=seed, accelerator=accelerator)
    except NonFiniteLossError as exc:
        raise SelectorError(f"the final {config.cell.upper()} run with seed {seed} diverged "
                            f"({exc}); its search trials did not. Try other --seeds or a search "
                            "space with lower learning rates.") from None
    net = fitted.system.net
    cost = measure_cost(net, fitted.history, probe_for(data), train_size=len(data.splits.train),
                        direction=direction)
    test = evaluate(fitted.system, data, data.splits.test)
    run = SeedRun(seed=seed, test_score=test,
                  val_score=fitted.history.best(direction)["val_score"],
                  train_seconds=sum(e["train_seconds"] for e in fitted.history.epochs), cost=cost)
    return run, fitted


def _equal_config(cells: list[FinalCell], data: SequenceData) -> tuple[EqualConfigTiming, ...]:
    """Both cells at each best configuration, so speed is compared between equal networks."""
    probe = probe_for(data)
    configs = []
    for final in cells:
        config = {**final.config, "cell": "gru"}
        if config not in configs:
            configs.append(config)
    timings = []
    for config in configs:
        steps, latencies, params = {}, {}, {}
        for cell in CELLS:
            torch.manual_seed(0)
            net = build_net(ModelConfig(**{**config, "cell": cell}), data)
            steps[cell] = train_step_ms(net, probe, config["batch_size"])
            latencies[cell] = latency(net, probe, 1).p50_ms
            params[cell] = count_parameters(net)
        timings.append(EqualConfigTiming(config={k: v for k, v in config.items() if k != "cell"},
                                         train_step_ms=steps, latency_ms=latencies,
                                         parameters=params))
    return tuple(timings)


def _long_range(cells: list[FinalCell], data: SequenceData, settings: TrainingSettings,
                seed: int, accelerator: str, direction: str,
                announce: Callable[[str], None]) -> LongRange:
    """Retrain the leading cell on the last part of each sequence only, and test it so."""
    sign = 1 if direction == "maximize" else -1
    leader = max(cells, key=lambda c: sign * statistics.fmean(r.test_score for r in c.runs))
    median_steps = int(statistics.median(data.lengths.tolist()))
    context = max(1, median_steps // CONTEXT_SHARE)
    announce(f"{leader.cell.upper()} on the last {context} steps only (L1)")
    cut = replace(data, sequences=[s[-context:] for s in data.sequences])
    run, _ = _run(ModelConfig(**leader.config), cut, settings, seed, accelerator, direction)
    full = next(r for r in leader.runs if r.seed == seed)
    return LongRange(cell=leader.cell, seed=seed, median_steps=median_steps,
                     context_steps=context, full_score=full.test_score,
                     context_score=run.test_score)
