"""The final comparison's seed pairs: each cell's runs, pair by pair, within the budget.

Both cells train with the same seed (and fold) in turn, so that a budget that ends early
leaves whole pairs (`selector.search.schedule.pair_slices`), and a sequential comparison
can stop after any seed once it has decided (`selector.decision.sequential`). Under a
budget a cell's best search trial is one of its runs (`reused_runs`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import lightning.pytorch as pl
import numpy as np
import optuna
from optuna.trial import FrozenTrial

from selector.choices import Cell
from selector.data.batching import SplitDataset
from selector.data.crossval import FOLDS, Run
from selector.data.dataset import SequenceData
from selector.errors import SelectorError, param
from selector.records import CELLS, Cost, ModelConfig, SeedRun, TrainingSettings
from selector.search.schedule import (
    CONTEXT_SHARES,
    MARGIN,
    expected_overheads,
    expected_runs,
    is_short,
    pair_slices,
    run_seconds,
)
from selector.search.state import trial_attrs
from selector.training.budget import Deadline
from selector.training.fitting import (
    Fitted,
    KeptModel,
    build_net,
    compared_score,
    fit,
    measure_cost,
    model_outputs,
    outcomes,
    probe_for,
    score_of,
)
from selector.training.scaled import scale_free
from selector.training.system import NonFiniteLossError, SequenceSystem, score_direction


def reused_runs(bests: dict[str, FrozenTrial], present: list[Cell],
                kept: Mapping[Cell, KeptModel], data: SequenceData,
                seeds: tuple[int, ...]) -> dict[Cell, tuple[SeedRun, Fitted]]:
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
        run = SeedRun(seed=seed, **tested(model.fitted.system, data, data.splits.test),
                      val_score=trial.values[0],
                      train_seconds=run_seconds(trial), cost=Cost(**attrs.cost or {}),
                      learned=attrs.learned,
                      cut=attrs.cut, trial=trial.number,
                      stands_for=seed if seed in seeds else seeds[0])
        reused[cell] = (run, model.fitted)
    return reused


def outlook(study: optuna.Study, data: SequenceData, planned: list[Run], seeds: int, least: int,
            left: float, *, reused: int, refit: bool) -> str | None:
    """What the comparison is expected to drop with ``left`` seconds, said before it starts:
    the seeds the time pays for (of ``seeds``, ``least`` for a first look; ``reused`` search
    trials stand in the first pair), then whether L1's shortened runs and the ``refit`` fit
    after the first look's pairs. Estimated as `run_pairs` and `_long_range` budget them,
    from each cell's best trial; None when everything is expected to fit, or before any
    trial completed."""
    expected = expected_runs(study)
    if not expected:
        return None
    folds = len(planned) // seeds
    run = max(expected.values()) * len(planned[0].train) / len(data.splits.train)
    pairs = [max(0, 2 - reused)] + [2] * (len(planned) - 1)
    paid = pair_slices(left, dict.fromkeys(CELLS, run), pairs, 0)[1]
    paid = paid if sum(pairs[:paid]) * run <= left else 0  # a cut pair is not paid for
    after = left - sum(pairs[:min(paid, least * folds)]) * run
    dropped = []
    if paid == 0:
        dropped.append("one seed pair cut short, if any (not one fits whole): no interval")
    elif paid // folds < seeds:
        dropped.append(f"{paid // folds} of its {least}-{seeds} seed pairs" + (
            " (fewer than a first look needs: the interval will be wide)"
            if paid // folds < least else ""))
    if not is_short(data):
        l1 = MARGIN * sum(CONTEXT_SHARES) * min(least, paid // folds) * sum(expected.values())
        if l1 > after:
            dropped.append(f"no L1 (distant context): its shortened runs need about {l1:.0f} s")
        after -= min(l1, after)
    grown = (len(data.splits.train) + len(data.splits.val)) / len(data.splits.train)
    if refit and MARGIN * run * grown > after:
        dropped.append(f"no refit (about {MARGIN * run * grown:.0f} s): the best seed run's "
                       "model is handed over instead")
    if not dropped:
        return None
    return (f"{param('budget')} leaves about {max(0.0, left):.0f} s for the final comparison, "
            f"and a run takes about {run:.0f} s (the slower cell's best trial), so it plans "
            f"{'; '.join(dropped)}. A larger {param('budget')} buys the rest.")


def run_pairs(study: optuna.Study, bests: dict[str, FrozenTrial], present: list[Cell],
              planned: list[Run], data: SequenceData, settings: TrainingSettings,
              accelerator: str, announce: Callable[[str], None], deadline: Deadline | None,
              reused: Mapping[Cell, tuple[SeedRun, Fitted]], runs: dict[str, list[SeedRun]],
              models: dict[str, list[Fitted | None]], settled: Callable[[], bool] | None = None,
              least: int = 0) -> tuple[list[str], str]:
    """Train the planned runs pair by pair (``runs`` and ``models`` grow; a ``reused`` run
    takes its place in the pair it stands for); under a ``deadline``, only the pairs it pays
    for. From ``least`` seeds on, ``settled`` is asked after each seed's runs (all its folds)
    whether the comparison has decided. Returns what the budget cut, in words, and why the
    pairs stopped: "decided", "budget" or "maximum"."""
    expected = {c: s for c, s in expected_runs(study).items() if c in present}
    after = expected_overheads(study)  # measuring and scoring, after each run's training
    share = {id(r): len(r.train) / len(data.splits.train) for r in planned}

    def fresh(planned_run: Run) -> list[Cell]:
        return [c for c in present if c not in reused or planned_run.fold is not None
                or reused[c][0].stands_for != planned_run.seed]

    planned = sorted(planned, key=lambda r: len(fresh(r)))  # pairs with a reused run first
    notes: list[str] = []
    done, looks, stopped, exhausted, total = 0, 0, "maximum", False, len(planned)
    for index, planned_run in enumerate(planned):
        given = None
        if deadline is not None:
            scaled = {c: s * share[id(planned_run)] for c, s in expected.items()}
            left = [len(fresh(r)) for r in planned[index:]]
            given, affordable = pair_slices(deadline.left(), scaled, left, done)
            if given is None and done == 0:  # nothing to compare yet: one pair, cut short
                given, affordable = max(0.0, deadline.left()) / max(1, left[0]), 1
            if given is None or affordable < len(left):
                stopped, exhausted = "budget", given is None
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
            run, model = train_run(trial_attrs(bests[cell]).model_config(), data, settings,
                                   planned_run, accelerator, deadline=until)
            runs[cell].append(run)
            models[cell].append(model)
        done += 1
        looks += planned_run.fold in (None, FOLDS - 1)
        if index + 1 >= len(planned):
            break
        if settled is not None and looks >= least and planned_run.fold in (None, FOLDS - 1) \
                and settled():
            stopped = "decided"
            break
    if stopped == "budget":  # said once it is known how many ran (a decision may come first)
        notes.append(_seeds_note(done, total, exhausted))
    cut = sum(r.cut for rs in runs.values() for r in rs)
    if cut:
        notes.append(f"{cut} run(s) were cut short by {param('budget')} (best epoch so far kept).")
    return notes, stopped


def _seeds_note(affordable: int, planned: int, exhausted: bool) -> str:
    return (f"budget exhausted after {affordable} of {planned} seed runs per cell" if exhausted
            else f"the final comparison ran {affordable} of {planned} seed runs per cell: the "
            "budget paid for no more")




def train_run(config: ModelConfig, data: SequenceData, settings: TrainingSettings,
              planned: Run, accelerator: str,
              deadline: Deadline | None = None) -> tuple[SeedRun, Fitted]:
    """One final run: ``config`` trained on ``planned``'s sequences with its seed, measured,
    and scored on its held-out ones."""
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
    run = SeedRun(seed=seed, **tested(fitted.system, data, planned.held),
                  val_score=fitted.history.best()["val_score"],
                  train_seconds=sum(e["train_seconds"] + e["val_seconds"]
                                    for e in fitted.history.epochs),
                  cost=cost, fold=planned.fold, learned=fitted.learned, cut=fitted.cut)
    return run, fitted


def tested(system: SequenceSystem, data: SequenceData, held: np.ndarray) -> dict[str, Any]:
    """A run's test fields (of `SeedRun`, `Refit`): its score on the sequences ``held`` (the
    one the verdict decides on, `compared_score`), each one's outcome, and for forecasts the
    scale-free accuracy of the same outputs."""
    outputs = model_outputs(system, data, held)
    score = compared_score(data)
    scored = outcomes(system, data, held, outputs, score=score)
    return {"test_score": score_of(scored, score),
            "outcomes": tuple(float(v) for v in scored),
            "scale_free": scale_free(outputs, data, held)}
