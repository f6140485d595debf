"""The final comparison: each cell's best configuration retrained with k seeds, then tested.

Both cells get the same seeds and the same splits, so their test scores pair up seed by seed
and test example by test example; the runs go pair by pair, so a budget that ends early
leaves whole pairs (`selector.search.schedule`). Besides the test outcomes and the costs of these
runs, the speed measurements of `selector.comparison.timings` (G1, G5) and, for long sequences, both
cells retrained with the same seeds on only the last part of each sequence (L1) feed the
criteria. The result is stored on the study, so `selector report` re-renders it without
retraining. `refit` then trains the chosen configuration on train + validation: the model
that is handed over.
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
from selector.comparison.timings import equal_config, handed_over_latency
from selector.data.batching import SplitDataset
from selector.data.crossval import FOLDS, Run, plan
from selector.data.dataset import SequenceData
from selector.errors import SelectorError, param
from selector.records import (
    CELLS,
    Cost,
    FinalCell,
    FinalComparison,
    LongRange,
    ModelConfig,
    Refit,
    SeedRun,
    TrainingSettings,
)
from selector.search.schedule import (
    CONTEXT_SHARES,
    MARGIN,
    expected_overheads,
    expected_runs,
    is_short,
    pair_slices,
    run_seconds,
)
from selector.search.state import study_state, trial_attrs
from selector.search.study import best_by_cell, cell_of
from selector.training.baselines import baselines
from selector.training.budget import Deadline
from selector.training.fitting import (
    Fitted,
    KeptModel,
    build_net,
    evaluate,
    fit,
    measure_cost,
    outcomes,
    probe_for,
    score_of,
)
from selector.training.system import NonFiniteLossError, score_direction, score_name
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
    return len(CELLS) * len(plan(data, tuple(range(seeds)))) + long_range + int(refit)


def compare(study: optuna.Study, data: SequenceData, settings: TrainingSettings, *,
            seeds: tuple[int, ...], accelerator: str = "auto", step: Step | None = None,
            refit: bool = False, deadline: Deadline | None = None,
            measure_until: Deadline | None = None,
            kept: Mapping[Cell, KeptModel] | None = None) -> FinalModels:
    """Retrain each cell's best configuration with every seed and test it (the study is
    read, never written: the caller stores the result). ``refit``: a refit follows
    (`refit`), counted in the progress ``step`` reports.

    Under a budget, seed pairs (both cells, one seed) run in turn until ``deadline``
    (`selector.search.schedule.pair_slices`), then L1's runs if they fit; the timings end by
    ``measure_until``. What was cut is said in the result's ``budget_notes``. With a
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
    reused = _reused(bests, present, kept or {}, data, seeds) if deadline is not None else {}
    planned = plan(data, seeds)
    total = planned_runs(data, len(seeds), refit=refit) - len(reused)

    def announce(label: str) -> None:
        if step:
            step(label, total)

    runs: dict[str, list[SeedRun]] = {c: [] for c in present}
    models: dict[str, list[Fitted | None]] = {c: [] for c in present}
    notes = _seed_pairs(study, bests, present, planned, data, settings, accelerator, announce,
                        deadline, reused, runs, models)
    cells = [_final_cell(study, bests[c], runs[c]) for c in present]
    trained = [m for fitted in models.values() for m in fitted if m is not None]
    device = str(next(trained[0].system.parameters()).device) if trained else "cpu"
    setup = sum(m.setup_seconds for m in trained)
    long_range: tuple[LongRange, ...] = ()
    paired = {r.pair for r in runs[present[0]]}
    ran = [r for r in planned if (r.seed, r.fold or 0) in paired]  # the pairs that ran
    if not is_short(data) and len(cells) == len(CELLS) and ran:
        long_range, more, note = _long_range(cells, ran, data, settings, accelerator,
                                              announce, deadline, expected_runs(study))
        setup += more
        notes += note
    first = planned[0]
    comparison = FinalComparison(
        score_name=score_name(data.task), direction=score_direction(data.task),
        seeds=tuple(seeds), cells=tuple(cells),
        equal_config=equal_config(cells, data, until=measure_until),
        long_range=long_range, device=device, setup_seconds=setup,
        method="seeds" if first.fold is None else "cv",
        test_train_ratio=0.0 if first.fold is None else len(first.held) / len(first.train),
        baselines={b.name: b.score for b in baselines(data, data.splits.test)},
        budget_notes=tuple(notes))
    candidates = FinalModels(comparison, models).candidates()
    return FinalModels(replace(comparison, latency=handed_over_latency(
        candidates, data, comparison.device, until=measure_until)), models)


def _reused(bests: dict[str, FrozenTrial], present: list[Cell], kept: Mapping[Cell, KeptModel],
            data: SequenceData, seeds: tuple[int, ...]) -> dict[Cell, tuple[SeedRun, Fitted]]:
    """Each cell's best search trial as one of its seed runs, tested here, where the search
    kept every cell's best model (`KeptModel`; a lone cell's too: it has nothing to pair
    with, but its run need not be trained again). Nothing is reused otherwise: a best trial
    trained by another worker process is retrained like any seed.

    A reused run stands for its own seed where that is one of ``seeds`` (the other cell
    trains that seed fresh, and no fresh run of this cell repeats it), else for the first:
    every cell's runs cover the same seeds as a run that reuses nothing."""
    models = {c: kept.get(c) for c in present}
    stored = {c: trial_attrs(bests[c]) for c in present}
    if any(m is None or m.trial != bests[c].number or stored[c].cost is None
           for c, m in models.items()):
        return {}
    reused = {}
    for cell, model in models.items():
        assert model is not None
        trial, attrs = bests[cell], stored[cell]
        seed = -1 if attrs.seed is None else attrs.seed
        scored = outcomes(model.fitted.system, data, data.splits.test)
        run = SeedRun(seed=seed, test_score=score_of(scored, data.task), val_score=trial.values[0],
                      train_seconds=run_seconds(trial), cost=Cost(**attrs.cost or {}),
                      outcomes=tuple(float(v) for v in scored), learned=attrs.learned,
                      cut=attrs.cut, trial=trial.number,
                      stands_for=seed if seed in seeds else seeds[0])
        reused[cell] = (run, model.fitted)
    return reused


def _seed_pairs(study: optuna.Study, bests: dict[str, FrozenTrial], present: list[Cell],
                planned: list[Run], data: SequenceData, settings: TrainingSettings,
                accelerator: str, announce: Callable[[str], None], deadline: Deadline | None,
                reused: Mapping[Cell, tuple[SeedRun, Fitted]], runs: dict[str, list[SeedRun]],
                models: dict[str, list[Fitted | None]]) -> list[str]:
    """Train the planned runs pair by pair (``runs`` and ``models`` grow; a ``reused`` run
    takes its place in the pair it stands for); under a ``deadline``, only the pairs it pays
    for. Returns what the budget cut, in words."""
    expected = {c: s for c, s in expected_runs(study).items() if c in present}
    after = expected_overheads(study)  # measuring and scoring, after each run's training
    share = {id(r): len(r.train) / len(data.splits.train) for r in planned}

    def fresh(planned_run: Run) -> list[Cell]:
        return [c for c in present if c not in reused or planned_run.fold is not None
                or reused[c][0].stands_for != planned_run.seed]

    planned = sorted(planned, key=lambda r: len(fresh(r)))  # pairs with a reused run first
    notes: list[str] = []
    done = 0
    for index, planned_run in enumerate(planned):
        given = None
        if deadline is not None:
            scaled = {c: s * share[id(planned_run)] for c, s in expected.items()}
            left = [len(fresh(r)) for r in planned[index:]]
            given, affordable = pair_slices(deadline.left(), scaled, left, done)
            if given is None and done == 0:  # nothing to compare yet: one pair, cut short
                given, affordable = max(0.0, deadline.left()) / max(1, left[0]), 1
            if given is None or affordable < len(left):
                notes.append(_seeds_note(done + min(affordable, len(left)), done + len(left),
                                         given is None))
                if given is None:
                    break
                planned = planned[:index + affordable]
        fold = "" if planned_run.fold is None else f" fold {planned_run.fold + 1}/{FOLDS}"
        training = fresh(planned_run)
        for cell in present:
            if cell not in training:
                runs[cell].append(reused[cell][0])
                models[cell].append(reused[cell][1])
                continue
            announce(f"{cell.upper()} seed {planned_run.seed}{fold}")
            until = None if given is None or deadline is None else \
                deadline.after(given - after[cell])
            run, model = _run(trial_attrs(bests[cell]).model_config(), data, settings,
                              planned_run, accelerator, deadline=until)
            runs[cell].append(run)
            models[cell].append(model)
        done += 1
        if index + 1 >= len(planned):
            break
    cut = sum(r.cut for rs in runs.values() for r in rs)
    if cut:
        notes.append(f"{cut} run(s) were cut short by {param('budget')} (best epoch so far kept).")
    return notes


def _seeds_note(affordable: int, planned: int, exhausted: bool) -> str:
    return (f"budget exhausted after {affordable} of {planned} seed runs per cell" if exhausted
            else f"the final comparison ran {affordable} of {planned} seed runs per cell: the "
            "budget paid for no more")


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


def _run(config: ModelConfig, data: SequenceData, settings: TrainingSettings, planned: Run,
         accelerator: str, deadline: Deadline | None = None) -> tuple[SeedRun, Fitted]:
    direction = score_direction(data.task)
    seed = planned.seed
    pl.seed_everything(seed, workers=False, verbose=False)
    try:
        fitted = fit(build_net(config, data), data, settings, seed=seed, accelerator=accelerator,
                     train_set=SplitDataset(data, planned.train),
                     val_set=SplitDataset(data, planned.val), deadline=deadline)
    except NonFiniteLossError as exc:
        raise SelectorError(f"the final {config.cell.upper()} run with seed {seed} diverged "
                            f"({exc}); its search trials did not. Try other {param('seeds')} or a search "
                            "space with lower learning rates.") from None
    net = fitted.system.net
    cost = measure_cost(net, fitted.history, probe_for(data), train_size=len(planned.train),
                        direction=direction, setup_seconds=fitted.setup_seconds)
    scored = outcomes(fitted.system, data, planned.held)
    run = SeedRun(seed=seed, test_score=score_of(scored, data.task),
                  val_score=fitted.history.best()["val_score"],
                  train_seconds=sum(e["train_seconds"] + e["val_seconds"]
                                    for e in fitted.history.epochs),
                  cost=cost, outcomes=tuple(float(v) for v in scored), fold=planned.fold,
                  learned=fitted.learned, cut=fitted.cut)
    return run, fitted


def _long_range(cells: list[FinalCell], planned: list[Run], data: SequenceData,
                settings: TrainingSettings, accelerator: str, announce: Callable[[str], None],
                deadline: Deadline | None, expected: dict[str, float]
                ) -> tuple[tuple[LongRange, ...], float, list[str]]:
    """Both cells, every seed, retrained on the last part of each sequence only and scored
    so, on the same sequences as the seed's first run; the one-time seconds of those runs; and
    a note if the ``deadline`` left no time for them (they run whole or not at all)."""
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
                run, fitted = _run(ModelConfig(**final.config), cut, settings, first, accelerator,
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
    """What `refit` is expected to take: the chosen cell's epochs to its best, on train +
    validation."""
    runs = next(c.runs for c in final.cells if c.cell == cell)
    epochs = refit_epochs(final, cell) or max(r.cost.best_epoch for r in runs)
    per_epoch = statistics.fmean(r.cost.train_seconds_per_epoch for r in runs)
    grown = (len(data.splits.train) + len(data.splits.val)) / len(data.splits.train)
    return MARGIN * epochs * per_epoch * grown


def refit(final: FinalModels, cell: Cell, data: SequenceData,
          settings: TrainingSettings, *, accelerator: str = "auto",
          deadline: Deadline | None = None) -> tuple[Fitted, FinalComparison]:
    """Train ``cell``'s configuration on train + validation for the median of its final runs'
    best epochs (`refit_epochs`; the longest best epoch if the budget cut every run), with the
    seed of its best-validation run; score it once on the test split. A ``deadline`` may end
    it after fewer epochs (said in the comparison's budget notes).

    Returns the model to hand over and the comparison with the refit's record added (for
    the caller to store).
    """
    comparison = final.comparison
    chosen = next(c for c in comparison.cells if c.cell == cell)
    epochs = refit_epochs(comparison, cell) or max(r.cost.best_epoch for r in chosen.runs)
    seed = chosen.runs[_best_run(comparison, cell)].seed
    pl.seed_everything(seed, workers=False, verbose=False)
    both = np.concatenate([data.splits.train, data.splits.val])
    try:
        fitted = fit(build_net(ModelConfig(**chosen.config), data), data, settings, seed=seed,
                     accelerator=accelerator, train_set=SplitDataset(data, both), epochs=epochs,
                     deadline=deadline)
    except NonFiniteLossError as exc:
        raise SelectorError(f"the refit of {cell.upper()} on train + validation diverged ({exc}); "
                            "hand over the best seed's model instead with "
                            f"{param('refit', False)}.") from None
    trained = int(fitted.history.epochs[0]["epoch"])
    record = Refit(cell=cell, seed=seed, epochs=trained,
                   train_seconds=fitted.history.epochs[0]["train_seconds"],
                   test_score=evaluate(fitted.system, data, data.splits.test))
    notes = comparison.budget_notes + ((f"the refit was cut by {param('budget')} after {trained} of "
                                        f"{epochs} epochs.",) if fitted.cut else ())
    return fitted, replace(comparison, refit=record, budget_notes=notes,
                           setup_seconds=comparison.setup_seconds + fitted.setup_seconds)
