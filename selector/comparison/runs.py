"""The final comparison: each cell's best configuration retrained with k seeds, then tested.

Both cells get the same seeds and the same splits, so their test scores pair up seed by seed
and test example by test example; the runs go pair by pair (`selector.comparison.pairs`), so
a budget that ends early leaves whole pairs, and a sequential comparison stops adding pairs
once it has decided (`selector.decision.sequential`). Besides the test outcomes and the costs of these
runs, the speed measurements of `selector.comparison.timings` (G1, G5) and, for long sequences, both
cells retrained with the same seeds on only the last part of each sequence (L1) feed the
criteria. The result is stored on the study, so `selector report` re-renders it without
retraining. `refit` then trains the chosen configuration on train + validation, scores it on
the test split and, for forecasts, trains it once more on every step
(`selector.data.crossval.refit_sets`): the model that is handed over.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import lightning.pytorch as pl
import numpy as np
import optuna
from optuna.trial import FrozenTrial

from selector.choices import Cell, sign
from selector.comparison.pairs import outlook, reused_runs, run_pairs, tested, train_run
from selector.comparison.timings import equal_config, handed_over_latency
from selector.data.batching import SplitDataset
from selector.data.crossval import Run, plan, refit_sets, refit_share
from selector.data.dataset import SequenceData
from selector.errors import SelectorError, param
from selector.records import (
    CELLS,
    FinalCell,
    FinalComparison,
    LongRange,
    ModelConfig,
    Refit,
    ScaleFree,
    SeedRun,
    TrainingSettings,
)
from selector.search.schedule import (
    CONTEXT_SHARES,
    MARGIN,
    expected_runs,
    is_short,
)
from selector.search.state import study_state, trial_attrs
from selector.search.study import best_by_cell, cell_of
from selector.training.baselines import baselines, forecasts
from selector.training.budget import Deadline
from selector.training.fitting import (
    Fitted,
    KeptModel,
    build_net,
    compared_score,
    fit,
)
from selector.training.scaled import scale_free
from selector.training.system import NonFiniteLossError, score_direction
from selector.versions import COMPARISON

Step = Callable[[str, int], None]  # before each training run: what it is, how many in all


@dataclass(frozen=True)
class FinalModels:
    """The comparison and the trained models, per cell, in run order (None: a reused search
    trial trained by another process)."""

    comparison: FinalComparison
    models: dict[str, list[Fitted | None]]

    def best_model(self, cell: str) -> Fitted | None:
        """The cell's run with the best validation score among those whose model is here:
        chosen without looking at the test."""
        held = [i for i, m in enumerate(self.models[cell]) if m is not None]
        if not held:
            return None
        return self.models[cell][_best_run(self.comparison, cell, held)]

    def candidates(self) -> dict[str, Fitted]:
        """Each cell's model to hand over, where both cells have one."""
        found = {cell: self.best_model(cell) for cell in self.models}
        if len(found) < len(CELLS) or any(m is None for m in found.values()):
            return {}
        return {c: m for c, m in found.items() if m is not None}


def _best_run(final: FinalComparison, cell: str, among: list[int] | None = None) -> int:
    runs = next(c.runs for c in final.cells if c.cell == cell)
    better = sign(final.direction)
    return max(among if among is not None else range(len(runs)),
               key=lambda i: better * runs[i].val_score)


def planned_runs(data: SequenceData, seeds: int, *, refit: bool = True) -> int:
    """How many training runs `compare` (and `refit`) make (for a progress bar)."""
    long_range = 0 if is_short(data) else len(CELLS) * len(CONTEXT_SHARES) * seeds
    return (len(CELLS) * len(plan(data, tuple(range(seeds)))) + long_range
            + (len(refit_sets(data)) if refit else 0))


def compare(study: optuna.Study, data: SequenceData, settings: TrainingSettings, *,
            seeds: tuple[int, ...], accelerator: str = "auto", step: Step | None = None,
            refit: bool = False, deadline: Deadline | None = None,
            measure_until: Deadline | None = None,
            kept: Mapping[Cell, KeptModel] | None = None, least: int | None = None,
            stop: Callable[[FinalComparison], bool] | None = None,
            notify: Callable[[str], None] | None = None) -> FinalModels:
    """Retrain each cell's best configuration with every seed and test it (the study is
    read, never written: the caller stores the result). ``refit``: a refit follows
    (`refit`), counted in the progress ``step`` reports.

    Sequentially, with ``least`` (fewer than ``seeds``): after the first ``least`` seeds and
    after each one more, ``stop`` is asked whether the comparison so far has decided
    (`selector.decision.sequential`); the seeds after it are not run. L1 is measured on the
    first ``least`` seeds.

    Under a budget, seed pairs (both cells, one seed) run in turn until ``deadline``
    (`selector.search.schedule.pair_slices`), then L1's runs if they fit; the timings end by
    ``measure_until``; what it is expected to drop is told to ``notify`` before the first
    run (`selector.comparison.pairs.outlook`), and what was cut is said in the result's
    ``budget_notes``. With a
    deadline, each cell's best search trial is its first seed run when the search ``kept``
    its model: it is tested here, like every run.
    """
    if len(seeds) < 2:
        raise SelectorError(f"the final comparison needs at least 2 seeds for an interval; got "
                            f"{len(seeds)}.")
    bests = best_by_cell(study)
    if not bests:
        raise SelectorError(f"study '{study.study_name}' has no complete trial to retrain: every "
                            "trial was pruned, rejected or failed. Run more trials, or loosen "
                            "the budgets.")
    present = [c for c in CELLS if c in bests]
    reused = reused_runs(bests, present, kept or {}, data, seeds) if deadline is not None else {}
    planned = plan(data, seeds)
    least = len(seeds) if least is None else max(2, min(least, len(seeds)))
    total = planned_runs(data, len(seeds), refit=refit) - len(reused)
    said = None if deadline is None else outlook(
        study, data, planned, len(seeds), least, deadline.left(), reused=len(reused), refit=refit)
    if said and notify:
        notify(said)

    def announce(label: str) -> None:
        if step:
            step(label, total)

    score = compared_score(data)
    trivial_free = baselines_scale_free(data)  # once, not per look
    if score == "mase":  # the baselines in the verdict's score
        trivial = {k: free.mase for k, free in trivial_free.items() if free.mase is not None}
    else:
        trivial = {b.name: b.score for b in baselines(data, data.splits.test)}

    def assemble(notes: list[str], stopped: str = "") -> FinalComparison:
        first = planned[0]
        return FinalComparison(
            score_name=score, direction=score_direction(data.task),
            seeds=tuple(seeds), cells=tuple(_final_cell(study, bests[c], runs[c])
                                            for c in present),
            equal_config=(), long_range=(), device="cpu",
            method="seeds" if first.fold is None else "cv",
            test_train_ratio=0.0 if first.fold is None else len(first.held) / len(first.train),
            baselines=trivial, budget_notes=tuple(notes), least_seeds=least if least < len(seeds) else 0,
            stopped=stopped if least < len(seeds) else "",
            season=data.forecast_scale.season if data.forecast_scale else 0,
            baselines_scale_free=trivial_free)

    runs: dict[str, list[SeedRun]] = {c: [] for c in present}
    models: dict[str, list[Fitted | None]] = {c: [] for c in present}
    notes, stopped = run_pairs(
        study, bests, present, planned, data, settings, accelerator, announce, deadline,
        reused, runs, models, least=least,
        settled=None if stop is None else lambda: stop(assemble([], "decided")))
    cells = [_final_cell(study, bests[c], runs[c]) for c in present]
    trained = [m for fitted in models.values() for m in fitted if m is not None]
    device = str(next(trained[0].system.parameters()).device) if trained else "cpu"
    setup = sum(m.setup_seconds for m in trained)
    long_range: tuple[LongRange, ...] = ()
    paired = {r.pair for r in runs[present[0]]}
    measured = set(seeds[:least])  # L1 on the least seeds
    ran = [r for r in planned if (r.seed, r.fold or 0) in paired and r.seed in measured]
    if not is_short(data) and len(cells) == len(CELLS) and ran:
        long_range, more, note = _long_range(cells, ran, data, settings, accelerator,
                                              announce, deadline, expected_runs(study))
        setup += more
        notes += note
    comparison = replace(assemble(notes, stopped), cells=tuple(cells),
                         equal_config=equal_config(cells, data, device=device, until=measure_until),
                         long_range=long_range, device=device, setup_seconds=setup)
    candidates = FinalModels(comparison, models).candidates()
    return FinalModels(replace(comparison, latency=handed_over_latency(
        candidates, data, comparison.device, until=measure_until)), models)


def baselines_scale_free(data: SequenceData) -> dict[str, ScaleFree]:
    """The numeric baselines' MASE and sMAPE on the test split, for forecasts."""
    found = {}
    for name, predicted in forecasts(data, data.splits.test).items():
        free = scale_free(predicted, data, data.splits.test)
        if free is not None:
            found[name] = free
    return found


def _final_cell(study: optuna.Study, best: FrozenTrial, runs: list[SeedRun]) -> FinalCell:
    attrs = trial_attrs(best)
    cell = attrs.cell
    assert cell is not None and attrs.config is not None
    search_values = [t.values[0] for t in study.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)) if cell_of(t) == cell]
    return FinalCell(cell=cell, trial=best.number, config=attrs.config,
                     runs=tuple(runs), search_best_val=best.values[0],
                     search_median_val=statistics.median(search_values))


def stored_comparison(study: optuna.Study) -> FinalComparison | None:
    """The study's final comparison, or None before any; one stored by an older selector,
    whose evidence the decision can no longer read, is refused with what to do."""
    stored = study_state(study).final
    if not stored:
        return None
    COMPARISON.read(stored.get("version", 1), f"the final comparison of study "
                    f"'{study.study_name}'", hint="Run 'selector recommend' on the study again: "
                    "its search trials are kept, only the final runs are redone.")
    return FinalComparison.from_dict(stored)


def _long_range(cells: list[FinalCell], planned: list[Run], data: SequenceData,
                settings: TrainingSettings, accelerator: str, announce: Callable[[str], None],
                deadline: Deadline | None, expected: dict[str, float]
                ) -> tuple[tuple[LongRange, ...], float, list[str]]:
    """Both cells, every seed ``planned``, retrained on the last part of each sequence only
    and scored so, on the same sequences as the seed's first run; the one-time seconds of
    those runs; and a note if the ``deadline`` left no time for them (they run whole or not
    at all)."""
    median_steps = int(statistics.median(data.lengths.tolist()))
    firsts: dict[int, Run] = {}  # seed -> its first run
    for planned_run in planned:
        firsts.setdefault(planned_run.seed, planned_run)
    needed = MARGIN * sum(CONTEXT_SHARES) * len(firsts) * sum(expected.values())
    if deadline is not None and needed > deadline.left():
        return (), 0.0, [f"L1 untested: its {2 * len(CONTEXT_SHARES) * len(firsts)} shortened "
                         f"runs need about {needed:.0f} s, the budget left "
                         f"{max(0.0, deadline.left()):.0f} s."]
    measured, setup = [], 0.0
    for share in CONTEXT_SHARES:
        context = max(1, int(median_steps * share))
        cut = replace(data, sequences=[s[-context:] for s in data.sequences])
        for final in cells:
            full_runs = {r.pair: r for r in final.runs}
            for first in firsts.values():
                full = full_runs[(first.seed, first.fold or 0)]
                announce(f"{final.cell.upper()} seed {full.seed} on the last {context} steps (L1)")
                run, fitted = train_run(ModelConfig(**final.config), cut, settings, first, accelerator,
                                   deadline=deadline)
                setup += fitted.setup_seconds
                measured.append(LongRange(
                    cell=final.cell, seed=full.seed, share=share, median_steps=median_steps,
                    context_steps=context, full_score=full.test_score,
                    context_score=run.test_score))
    return tuple(measured), setup, []


def refit_epochs(final: FinalComparison, cell: str) -> int | None:
    """How long a refit of ``cell`` trains: the median best epoch of its final runs that ran
    to their end. None when the budget cut every one: their best epochs say where the cut
    fell, not how long the configuration needs, and a refit for that long would hand over a
    model worse than the runs already trained."""
    runs = next(c.runs for c in final.cells if c.cell == cell)
    whole = [r.cost.best_epoch for r in runs if not r.cut]
    return max(1, round(statistics.median(whole))) if whole else None


def refit_seconds(final: FinalComparison, cell: str, data: SequenceData) -> float:
    """What `refit` is expected to take: the chosen cell's epochs to its best, on each of
    `refit_sets`."""
    runs = next(c.runs for c in final.cells if c.cell == cell)
    epochs = refit_epochs(final, cell) or max(r.cost.best_epoch for r in runs)
    per_epoch = statistics.fmean(r.cost.train_seconds_per_epoch for r in runs)
    return MARGIN * epochs * per_epoch * refit_share(data)


def refit(final: FinalModels, cell: Cell, data: SequenceData,
          settings: TrainingSettings, *, accelerator: str = "auto",
          deadline: Deadline | None = None, announce: Callable[[str], None] | None = None
          ) -> tuple[Fitted, FinalComparison]:
    """Train ``cell``'s configuration on train + validation for the median of its final runs'
    best epochs (`refit_epochs`; the longest best epoch if the budget cut every run), with the
    seed of its best-validation run; score it once on the test split. For forecasts, train it
    the same way on every step and hand that over (`refit_sets`). A ``deadline`` may end a fit
    after fewer epochs (said in the comparison's budget notes); a fit on every step that it
    cuts is not handed over. ``announce`` is told before each fit what it trains on.

    Returns the model to hand over and the comparison with the refit's record added (for
    the caller to store).
    """
    comparison = final.comparison
    chosen = next(c for c in comparison.cells if c.cell == cell)
    epochs = refit_epochs(comparison, cell) or max(r.cost.best_epoch for r in chosen.runs)
    seed = chosen.runs[_best_run(comparison, cell)].seed
    scored, *later = refit_sets(data)
    fitted = _refit_on(scored, "train + validation", chosen, data, settings, seed=seed,
                       epochs=epochs, accelerator=accelerator, deadline=deadline,
                       announce=announce)
    trained = _epochs(fitted)
    test = tested(fitted.system, data, data.splits.test)
    notes = [f"the refit was cut by {param('budget')} after {trained} of {epochs} epochs."
             ] if fitted.cut else []
    handed, setup, whole_seconds = fitted, fitted.setup_seconds, None
    for examples in [] if fitted.cut else later:  # a cut refit leaves no time for more
        last = _refit_on(examples, "every step", chosen, data, settings, seed=seed,
                         epochs=epochs, accelerator=accelerator, deadline=deadline,
                         announce=announce)
        setup += last.setup_seconds
        if last.cut:
            notes.append(f"the fit on every step was cut by {param('budget')} after "
                         f"{_epochs(last)} of {epochs} epochs; the refit on train + validation "
                         "is handed over.")
        else:
            handed, whole_seconds = last, last.history.epochs[0]["train_seconds"]
    record = Refit(cell=cell, seed=seed, epochs=trained,
                   train_seconds=fitted.history.epochs[0]["train_seconds"],
                   test_score=test["test_score"], scale_free=test["scale_free"],
                   whole_history_seconds=whole_seconds)
    return handed, replace(comparison, refit=record,
                           budget_notes=comparison.budget_notes + tuple(notes),
                           setup_seconds=comparison.setup_seconds + setup)


def _refit_on(examples: np.ndarray, named: str, chosen: FinalCell, data: SequenceData,
              settings: TrainingSettings, *, seed: int, epochs: int, accelerator: str,
              deadline: Deadline | None, announce: Callable[[str], None] | None) -> Fitted:
    """One fit of `refit`: ``chosen``'s configuration on ``examples`` (``named``)."""
    if announce:
        announce(named)
    pl.seed_everything(seed, workers=False, verbose=False)
    try:
        return fit(build_net(ModelConfig(**chosen.config), data), data, settings, seed=seed,
                   accelerator=accelerator, train_set=SplitDataset(data, examples),
                   epochs=epochs, deadline=deadline)
    except NonFiniteLossError as exc:
        raise SelectorError(f"the refit of {chosen.cell.upper()} on {named} diverged ({exc}); "
                            "hand over the best seed's model instead with "
                            f"{param('refit', False)}.") from None


def _epochs(fitted: Fitted) -> int:
    return int(fitted.history.epochs[0]["epoch"])
