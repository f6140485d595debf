"""selector from Python: pass a path, ``example:NAME``, a DataFrame or arrays, get records back.

These functions take plain keyword arguments, validate them (a `ParameterError` names the
parameter, the rule and the valid choices) and build the same requests the CLI builds, so a
notebook and ``selector recommend`` run the same search and reach the same decision.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from selector.api.handover import RecommendResult
from selector.api.pipeline import run_recommendation
from selector.api.requests import recommend_request
from selector.api.scope import scoped
from selector.choices import Accelerator, Objective, Prefer, Runtime, check_choice
from selector.data import DataOptions, load_dataset, profile_dataset
from selector.data.memory import DataSource, as_source, is_in_memory
from selector.defaults import DEFAULT_STALE_AFTER, DEFAULT_STORAGE
from selector.errors import ParameterError, at_least
from selector.records import Budgets, DataProfile
from selector.serving.predict import predict as predict_table
from selector.tracking import default_tracking_uri

DATA_OPTIONS = tuple(f.name for f in fields(DataOptions) if f.name != "seed")
INPUTS_FOLDER = "inputs"  # under the output folder: data given in memory, saved for workers


def _data_options(given: dict[str, Any], seed: int) -> DataOptions:
    unknown = sorted(set(given) - set(DATA_OPTIONS))
    if unknown:
        raise ParameterError(unknown[0], "is not a parameter of this function or a data "
                             "option", given[unknown[0]], choices=DATA_OPTIONS,
                             misspelled=unknown[0])
    return DataOptions(**given, seed=seed)


@scoped
def recommend(data: DataSource, *, n_trials: int = 20, seeds: int = 3,
              max_seeds: int | None = None, seed: int = 0, budget: float | None = None,
              space: str | None = None, prefer: Prefer = "balanced",
              min_gain: float | None = None,
              budgets: Budgets | None = None, objective: Objective = "score",
              accelerator: Accelerator = "auto", jobs: int = 1, timeout: float | None = None,
              refit: bool = True, study_name: str | None = None,
              storage: str = DEFAULT_STORAGE, tracking: bool = True,
              tracking_uri: str | None = None, experiment_name: str | None = None,
              register: bool = True, model_name: str | None = None,
              output_dir: str | None = None, baseline: str | None = None,
              min_score: float | None = None, promote: bool = False,
              stale_after: int = DEFAULT_STALE_AFTER,
              progress: Callable[..., None] | None = None,
              **data_options: Any) -> RecommendResult:
    """Search both cells on ``data``, compare their bests over ``seeds`` seeds (more, up to
    ``max_seeds``, while the verdict is undecided), and decide.

    ``data`` is a file path, ``example:NAME``, a pandas DataFrame in any layout the CLI reads
    (long, text, one series), or arrays ``(X, y)`` / ``(X, y, lengths)`` with X shaped
    (sequences, steps, features). ``data_options`` are `DataOptions` fields (``target``,
    ``task``, ``id_col``, ``lookback``...). The study, the reports and the model are kept as the
    CLI keeps them (``storage``, ``output_dir``, MLflow at ``tracking_uri`` unless
    ``tracking=False``); in-memory data is saved under the output folder for the study's
    workers and resumes. Returns the `RecommendResult` (its ``recommendation`` is typed).

    Gates, as in a scheduled CI job: ``baseline`` ("champion", the model registered as
    ``model_name``, or a recommendation.json) and ``min_score`` (the recommended model's test
    score must reach it; for RMSE or a panel's MASE, stay at or below it). The result's
    ``gates`` is then "passed", "changed" or "failed"; a gated call registers the model only
    with ``promote`` and passing quality gates. Raises `ParameterError` for a bad argument (before any work),
    `DataError` for data that cannot be used, and `SelectorError` for other problems a user
    can fix (a busy study, an unreachable storage or MLflow store).
    """
    request = recommend_request(  # every argument is checked before anything is written
        "<in memory>" if is_in_memory(data) else str(data),
        data_options=_data_options(data_options, seed), n_trials=n_trials, seeds=seeds,
        max_seeds=max_seeds, seed=seed, budget=budget, space=space, prefer=prefer,
        min_gain=min_gain, budgets=budgets, objective=objective, accelerator=accelerator, jobs=jobs,
        timeout=timeout, refit=refit, study_name=study_name, storage=storage,
        tracking_uri=(tracking_uri or default_tracking_uri()) if tracking else None,
        experiment_name=experiment_name, register=register, model_name=model_name,
        output_dir=output_dir, baseline=baseline, min_score=min_score, promote=promote,
        stale_after=stale_after)
    source = as_source(data, Path(output_dir or "selector-output") / INPUTS_FOLDER)
    return run_recommendation(replace(request, search=replace(request.search, data=source)),
                              progress=progress)


@scoped
def profile(data: DataSource, *, seed: int = 0, **data_options: Any) -> DataProfile:
    """What ``data`` looks like to selector (sizes, lengths, task, classes, split) and so
    which search space it would get; ``data`` and ``data_options`` as in `recommend`.
    Raises `ParameterError` for a bad argument and `DataError` for data it cannot use."""
    options = _data_options(data_options, seed)
    with tempfile.TemporaryDirectory(prefix="selector-") as folder:
        return profile_dataset(load_dataset(as_source(data, Path(folder)), options))


@scoped
def predict(model: str | Path, data: DataSource, *, runtime: Runtime = "torchscript",
            batch_size: int = 256, tracking_uri: str | None = None,
            cutoffs: Sequence[object] = ()) -> pd.DataFrame:
    """Predictions of a handed-over model (its folder, or a registered one such as
    ``models:/NAME@champion``, fetched from ``tracking_uri``, by default MLflow's) for every
    sequence of ``data``, which is in the layout the model was trained on; one row per
    sequence, as `selector predict`. A panel model with ``cutoffs`` (dates or numbers, as
    the time column holds) forecasts the steps after each from the series' rows up to it,
    beside the actual values where ``data`` has them: id, time, ``cutoff``, forecast, target.
    Raises `ParameterError` for a bad argument, `DataError` for data the model cannot read,
    and `SelectorError` for a folder that holds no selector model."""
    check_choice("runtime", runtime, Runtime)
    at_least("batch_size", batch_size, 1)  # the project's range check, as every request uses
    with tempfile.TemporaryDirectory(prefix="selector-") as folder:  # in-memory data only
        return predict_table(str(model), as_source(data, Path(folder)), runtime=runtime,
                             batch_size=batch_size, tracking_uri=tracking_uri,
                             cutoffs=tuple(str(c) for c in cutoffs))
